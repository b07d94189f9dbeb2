//go:build !unix

package fanout

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
