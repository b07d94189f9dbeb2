//go:build !unix

package decode

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
