//go:build !unix

package loki

import "time"

// cpuTime is not measured here: CPU figures of the benchmarks read 0.
func cpuTime() time.Duration { return 0 }
