package decode

import (
	"io"
)

// Decompression ahead: with more than one processor, a compressed object
// is decompressed on a goroutine of its own, a few blocks ahead of the
// decoder, so that the wall time of a delivery is about the larger of
// decompression and the rest (decode, batch, serialise, send), not their
// sum. Memory stays bounded: aheadBlocks blocks of aheadBlockSize, from
// the Pool when there is one.
const (
	aheadBlockSize = 64 << 10
	aheadBlocks    = 4
	// minAheadSize is the smallest compressed object decompressed ahead:
	// below it (about a megabyte of text) the goroutine and its blocks cost
	// more than the overlap saves, and a processor of many small objects
	// overlaps them by delivering several at once.
	minAheadSize = 128 << 10
)

// aheadBlock is a decompressed block and what had been read when it was
// filled.
type aheadBlock struct {
	buf     []byte
	err     error // the error that ended the stream after buf, if any
	out, in int64 // decompressed and compressed bytes read so far
}

// aheadReader is the decoder's side of the decompressing goroutine. Read
// copies from the current block; the counts are those of the blocks
// received, so that Stats never races with the goroutine.
type aheadReader struct {
	filled chan *aheadBlock
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}

	cur     *aheadBlock
	off     int
	out, in int64
}

// startAhead starts decompressing src (the capped decompressed stream)
// on a goroutine; counts reads the byte counts, on that goroutine.
func startAhead(src io.Reader, counts func() (out, in int64), pool *Pool) *aheadReader {
	a := &aheadReader{
		filled: make(chan *aheadBlock, aheadBlocks-2),
		free:   make(chan []byte, aheadBlocks),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for range aheadBlocks {
		a.free <- pool.block()
	}
	go a.run(src, counts)
	return a
}

func (a *aheadReader) run(src io.Reader, counts func() (out, in int64)) {
	defer close(a.done)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		n, err := fill(src, buf[:cap(buf)])
		blk := &aheadBlock{buf: buf[:n], err: err}
		blk.out, blk.in = counts()
		select {
		case a.filled <- blk:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// fill reads into buf until it is full or the stream ends; it returns the
// error that ended it (io.EOF at the end).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Read reads decompressed bytes; at the end it returns the stream's
// error.
func (a *aheadReader) Read(p []byte) (int, error) {
	for a.cur == nil || a.off == len(a.cur.buf) {
		if a.cur != nil {
			if a.cur.err != nil {
				return 0, a.cur.err
			}
			a.free <- a.cur.buf
		}
		a.cur = <-a.filled
		a.off = 0
		a.out, a.in = a.cur.out, a.cur.in
	}
	n := copy(p, a.cur.buf[a.off:])
	a.off += n
	return n, nil
}

// stopAndWait ends the goroutine, which may be waiting for room or, once
// the body is closed, fail its read; it returns when the goroutine has
// returned, so that what it used may be reused. The caller closes the body
// between stopping and waiting: closeBody runs in between.
func (a *aheadReader) stopAndWait(closeBody func() error, pool *Pool) error {
	close(a.stop)
	err := closeBody()
	<-a.done
	if a.cur != nil {
		pool.putBlock(a.cur.buf)
	}
	for {
		select {
		case b := <-a.free:
			pool.putBlock(b)
		case blk := <-a.filled:
			pool.putBlock(blk.buf)
		default:
			return err
		}
	}
}
