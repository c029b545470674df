// Package phase measures where a run spends its time: wall time and bytes
// read from the dump per phase (open, log, names, types, tasks, stacks,
// analyzers, render), for `--trace` and the benchmarks.
//
// A nil *Recorder records nothing, so callers pass one down without
// checking whether tracing is on.
package phase

import (
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"
)

// Recorder sums the phases of one run.
type Recorder struct {
	mu     sync.Mutex
	start  time.Time
	read   func() int64 // bytes read from the input so far; nil: unknown
	phases []*Phase
	byName map[string]*Phase
}

// Phase is one named part of a run, summed over every time it ran.
type Phase struct {
	Name  string
	Count int
	Wall  time.Duration
	Bytes int64 // read from the input while it ran (-1: not counted)
}

// New starts a recorder; the run's total is measured from now.
func New() *Recorder {
	return &Recorder{start: time.Now(), byName: map[string]*Phase{}}
}

// CountBytes tells the recorder how to read the input's byte counter.
// Phases started before it is set count no bytes.
func (r *Recorder) CountBytes(read func() int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.read = read
	r.mu.Unlock()
}

// Start begins a phase; the returned function ends it. Phases of the same
// name add up (one per stack unwound, say). Nested phases are each counted
// whole, so the rows need not add up to the total.
func (r *Recorder) Start(name string) (end func()) {
	if r == nil {
		return func() {}
	}
	r.mu.Lock()
	read := r.read
	r.mu.Unlock()
	var b0 int64 = -1
	if read != nil {
		b0 = read()
	}
	t0 := time.Now()
	return func() {
		var bytes int64 = -1
		if read != nil && b0 >= 0 {
			bytes = read() - b0
		}
		r.Record(name, time.Since(t0), bytes)
	}
}

// Beside begins a phase that runs on another goroutine beside other
// phases: its wall time is its own, but the bytes read meanwhile are not
// attributable to it, so it counts none.
func (r *Recorder) Beside(name string) (end func()) {
	if r == nil {
		return func() {}
	}
	t0 := time.Now()
	return func() { r.Record(name+" (beside)", time.Since(t0), -1) }
}

// Record adds a phase measured by the caller (one that ran before the
// byte counter existed, such as opening the dump).
func (r *Recorder) Record(name string, wall time.Duration, bytes int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.byName[name]
	if p == nil {
		p = &Phase{Name: name, Bytes: bytes}
		r.byName[name] = p
		r.phases = append(r.phases, p)
	} else if p.Bytes >= 0 && bytes >= 0 {
		p.Bytes += bytes
	} else {
		p.Bytes = -1
	}
	p.Count++
	p.Wall += wall
}

// Phases returns the phases in the order they first ran.
func (r *Recorder) Phases() []Phase {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Phase, len(r.phases))
	for i, p := range r.phases {
		out[i] = *p
	}
	return out
}

// Total is the wall time since New.
func (r *Recorder) Total() time.Duration {
	if r == nil {
		return 0
	}
	return time.Since(r.start)
}

// Write prints the table: phase, times run, wall, bytes read, and the
// whole run's wall time and bytes.
func (r *Recorder) Write(w io.Writer) error {
	if r == nil {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tcount\twall ms\tread KiB\t")
	for _, p := range r.Phases() {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s\t\n", p.Name, p.Count, ms(p.Wall), kib(p.Bytes))
	}
	var total int64 = -1
	r.mu.Lock()
	if r.read != nil {
		total = r.read()
	}
	r.mu.Unlock()
	fmt.Fprintf(tw, "total\t\t%.2f\t%s\t\n", ms(r.Total()), kib(total))
	return tw.Flush()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func kib(b int64) string {
	if b < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(b)/1024)
}
