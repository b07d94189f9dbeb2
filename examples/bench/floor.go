package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// floorResult is what the floor took: decompressing the objects with
// compress/gzip and counting their lines, nothing else.
type floorResult struct {
	CPU, Wall time.Duration
	Lines     int64
}

// measureFloor decompresses every object of m and counts its lines, with
// one gzip.Reader reset for each object and one read buffer, as a
// processor of many small objects would at best.
func measureFloor(dir string, m manifest) (floorResult, error) {
	var fl floorResult
	buf := make([]byte, 256<<10)
	var zr *gzip.Reader
	cpu0, start := cpuTime(), time.Now()
	for _, o := range m.Objects {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(o.Key)))
		if err != nil {
			return fl, err
		}
		if zr == nil {
			zr, err = gzip.NewReader(f)
		} else {
			err = zr.Reset(f)
		}
		if err != nil {
			f.Close()
			return fl, fmt.Errorf("%s: %w", o.Key, err)
		}
		for {
			n, err := zr.Read(buf)
			fl.Lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return fl, fmt.Errorf("%s: %w", o.Key, err)
			}
		}
		f.Close()
	}
	fl.Wall = time.Since(start)
	if cpu0 > 0 {
		fl.CPU = cpuTime() - cpu0
	}
	return fl, nil
}
