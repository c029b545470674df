package vmcore

import (
	"io"
	"sync/atomic"
)

// readCounter counts what a dump's files served: the bytes behind
// `--trace`'s per-phase "read" column and the benchmarks' bytes per phase.
type readCounter struct {
	bytes, calls atomic.Int64
}

// countedReader is a dump file that adds every read to a readCounter.
type countedReader struct {
	r io.ReaderAt
	c *readCounter
}

func (c countedReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.c.bytes.Add(int64(n))
	c.c.calls.Add(1)
	return n, err
}

// BytesRead is how many bytes the dump's files have served so far
// (headers, page data, compressed or not), cache hits not included.
func (d *Dump) BytesRead() int64 { return d.read.bytes.Load() }

// ReadCalls is how many reads the dump's files have served so far.
func (d *Dump) ReadCalls() int64 { return d.read.calls.Load() }
