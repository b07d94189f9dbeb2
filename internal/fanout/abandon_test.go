package fanout

import (
	"context"
	"io"
	"testing"
	"time"
)

// An abandoned consumer never holds the others back: with the window full
// and the other consumer reading, nothing is detached and the object is
// opened once.
func TestAbandon(t *testing.T) {
	src := &source{n: 5000}
	s, err := New(context.Background(), src.open, 3, func(o *Options) { o.ChunkRecords, o.Window = 10, 2 })
	if err != nil {
		t.Fatal(err)
	}
	s.Abandon()
	r, err := s.Reader(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Abandon()
	s.Abandon() // more than announced: nothing happens
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	r.Close()
	if n != 5000 {
		t.Errorf("read %d records, want 5000", n)
	}
	if got := s.Opens(); got != 1 {
		t.Errorf("Opens() = %d, want 1", got)
	}
	if _, err := s.Reader(context.Background(), nil); err == nil {
		t.Error("Reader after every consumer was created or abandoned: no error")
	}
}

// A consumer that pauses for less than DetachAfter while another starves
// is waited for; one that pauses for longer is detached.
func TestDetachAfter(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pause     time.Duration
		wantOpens int
	}{
		{"short pause is waited for", 0, 1},
		{"long pause detaches", 300 * time.Millisecond, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &source{n: 400}
			s, err := New(context.Background(), src.open, 2, func(o *Options) {
				o.ChunkRecords, o.Window, o.DetachAfter = 10, 2, 100*time.Millisecond
			})
			if err != nil {
				t.Fatal(err)
			}
			fast, _ := s.Reader(context.Background(), nil)
			slow, _ := s.Reader(context.Background(), nil)
			defer fast.Close()
			defer slow.Close()
			slowDone := make(chan int)
			go func() {
				n := 0
				for {
					_, err := slow.Next()
					if err != nil {
						slowDone <- n
						return
					}
					n++
					if n == 5 && tc.pause > 0 {
						time.Sleep(tc.pause) // the destination stalls, as one waiting on a slow API
					}
				}
			}()
			n := 0
			for {
				if _, err := fast.Next(); err != nil {
					break
				}
				n++
			}
			if got := <-slowDone; n != 400 || got != 400 {
				t.Errorf("read %d and %d records, want 400 each", n, got)
			}
			if got := s.Opens(); got != tc.wantOpens {
				t.Errorf("Opens() = %d, want %d", got, tc.wantOpens)
			}
		})
	}
}
