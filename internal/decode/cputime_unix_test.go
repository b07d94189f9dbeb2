//go:build unix

package decode

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user + system) the process has used, which
// unlike wall time does not count waiting for a CPU on a loaded machine.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
