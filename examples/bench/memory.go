package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
)

// peakRSS returns the peak resident set size of this process and where the
// number comes from: VmHWM from /proc/self/status, or, where /proc is
// absent, the memory the Go runtime obtained from the OS (an upper bound of
// the Go heap's share, blind to memory outside it).
func peakRSS() (int64, string) {
	if n, ok := procStatus("VmHWM:"); ok {
		return n, "VmHWM"
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys), "runtime.MemStats.Sys"
}

// currentRSS returns the resident set size now (VmRSS), when known.
func currentRSS() (int64, bool) {
	return procStatus("VmRSS:")
}

// procStatus reads a "kB" field of /proc/self/status, in bytes.
func procStatus(field string) (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(field))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}
