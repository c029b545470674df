package damage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Runner runs the ktriage binary on damaged inputs, one process per
// command, so a hang can be killed and each run's peak memory measured.
type Runner struct {
	Bin      string        // the ktriage binary
	Dir      string        // scratch directory
	Deadline time.Duration // per process, wall clock: past it the process is killed as hung
	MaxCPU   time.Duration // per process, CPU time (user+sys): more is a failure even if it ended
	MaxRSS   int64         // bytes, per process
	Workers  int

	mu        sync.Mutex
	baselines map[string]map[string]int // dmesg lines of an undamaged input
}

// Outcome is what the commands did with one case.
type Outcome struct {
	Case     Case
	Failures []string // panics, hangs, memory over the bound, changed log lines without a warning
	PeakRSS  int64
	Changed  int  // dmesg lines not in the undamaged log
	Lost     int  // lines of the undamaged log not printed
	Warned   bool // dmesg said something was wrong (stderr, exit status)
	Skipped  bool // the damage could not be applied (no room in VMCOREINFO)
}

// commands run on every case; analyze uses only what the dump holds.
var commands = [][]string{{"dmesg"}, {"info", "--format", "json"}, {"analyze", "--format", "json", "--no-debuginfo"}}

type result struct {
	stdout, stderr []byte
	exit           int
	rss            int64
	cpu            time.Duration
	timedOut       bool
}

func (r *Runner) run(args []string) result {
	ctx, cancel := context.WithTimeout(context.Background(), r.Deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+r.Dir, "XDG_CACHE_HOME="+filepath.Join(r.Dir, "cache"))
	err := cmd.Run()
	res := result{stdout: out.Bytes(), stderr: errb.Bytes(), timedOut: ctx.Err() != nil}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.exit = ee.ExitCode()
	} else if err != nil {
		res.exit = -1
		res.stderr = append(res.stderr, err.Error()...)
	}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.rss = ru.Maxrss * 1024 // kilobytes on Linux
		}
		res.cpu = ps.UserTime() + ps.SystemTime()
	}
	return res
}

// panicked tells a Go runtime crash from an error the program reported.
func panicked(stderr []byte) string {
	for _, marker := range []string{"panic: ", "fatal error: ", "goroutine 1 [running]"} {
		if i := bytes.Index(stderr, []byte(marker)); i >= 0 {
			line, _, _ := strings.Cut(string(stderr[i:]), "\n")
			return line
		}
	}
	return ""
}

func lineSet(b []byte) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			m[l]++
		}
	}
	return m
}

// baseline is the dmesg of the fixture (sacrificed: with the VMCOREINFO
// lines SetVMCoreInfo drops, for vmcoreinfo-value cases).
func (r *Runner) baseline(f Fixture, part int, sacrificed bool) (map[string]int, error) {
	key := fmt.Sprintf("%s/%d/%v", f.Name, part, sacrificed)
	r.mu.Lock()
	if b, ok := r.baselines[key]; ok {
		r.mu.Unlock()
		return b, nil
	}
	r.mu.Unlock()
	dir, err := os.MkdirTemp(r.Dir, "base-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	paths, err := writeCase(dir, f, part, 0, func(b []byte) []byte {
		if sacrificed {
			return Baseline(b)
		}
		return b
	})
	if err != nil {
		return nil, err
	}
	// A fixture cut to its headers (the ELF one) has no log: then every
	// line a damaged copy prints is a changed one.
	set := lineSet(r.run(append([]string{"dmesg"}, paths...)).stdout)
	r.mu.Lock()
	if r.baselines == nil {
		r.baselines = map[string]map[string]int{}
	}
	r.baselines[key] = set
	r.mu.Unlock()
	return set, nil
}

// writeCase writes the fixture's files into dir, part changed by apply
// (and extended, sparse, to extend bytes when that is more), under their
// own names (a split set keeps its .1 .2 order).
func writeCase(dir string, f Fixture, part int, extend int64, apply func([]byte) []byte) ([]string, error) {
	var paths []string
	for i, src := range f.Files {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if i == part {
			if b = apply(b); b == nil {
				return nil, nil
			}
		}
		p := filepath.Join(dir, filepath.Base(src))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
		if i == part && extend > int64(len(b)) {
			if err := os.Truncate(p, extend); err != nil {
				return nil, err
			}
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// Run runs one case.
func (r *Runner) Run(c Case) (Outcome, error) {
	o := Outcome{Case: c}
	base, err := r.baseline(c.Fixture, c.Part, c.Kind == "vmcoreinfo-value")
	if err != nil {
		return o, err
	}
	dir, err := os.MkdirTemp(r.Dir, "case-")
	if err != nil {
		return o, err
	}
	defer os.RemoveAll(dir)
	paths, err := writeCase(dir, c.Fixture, c.Part, c.Extend, c.Apply)
	if err != nil {
		return o, err
	}
	if paths == nil {
		o.Skipped = true
		return o, nil
	}
	for _, cmd := range commands {
		res := r.run(append(append([]string(nil), cmd...), paths...))
		name := cmd[0]
		if res.timedOut {
			o.Failures = append(o.Failures, fmt.Sprintf("%s: no answer within %v (hang)", name, r.Deadline))
			continue
		}
		if r.MaxCPU > 0 && res.cpu > r.MaxCPU {
			o.Failures = append(o.Failures, fmt.Sprintf("%s: %v of CPU, over the %v bound", name, res.cpu.Round(time.Millisecond), r.MaxCPU))
		}
		if p := panicked(res.stderr); p != "" {
			o.Failures = append(o.Failures, fmt.Sprintf("%s: %s", name, p))
		}
		if res.rss > o.PeakRSS {
			o.PeakRSS = res.rss
		}
		if res.rss > r.MaxRSS {
			o.Failures = append(o.Failures, fmt.Sprintf("%s: peak RSS %d MiB over the %d MiB bound", name, res.rss>>20, r.MaxRSS>>20))
		}
		if name == "dmesg" {
			o.Warned = res.exit != 0 || len(res.stderr) > 0
			left := map[string]int{}
			for k, v := range base {
				left[k] = v
			}
			for _, l := range strings.Split(string(res.stdout), "\n") {
				if l == "" {
					continue
				}
				if left[l] > 0 {
					left[l]--
				} else {
					o.Changed++
				}
			}
			for _, v := range left {
				o.Lost += v
			}
			if o.Changed > 0 && !o.Warned && c.Checked {
				o.Failures = append(o.Failures, fmt.Sprintf("dmesg: %d log line(s) changed with no warning", o.Changed))
			}
		}
	}
	return o, nil
}

// RunAll runs cases on Workers processes at a time, in order of the input.
func (r *Runner) RunAll(cases []Case) ([]Outcome, error) {
	for _, c := range cases { // the undamaged logs first, once each
		if _, err := r.baseline(c.Fixture, c.Part, c.Kind == "vmcoreinfo-value"); err != nil {
			return nil, err
		}
	}
	out := make([]Outcome, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < max(1, r.Workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = r.Run(cases[i])
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

// Tally is the count of one format's outcomes.
type Tally struct {
	Cases, Failed, Skipped int
	Warned                 int // dmesg reported damage
	ChangedUnchecked       int // changed lines with no warning where the format carries no check
	LinesLost              int
	PeakRSS                int64
	ByKind                 map[string]int
	ChangedByKind          map[string]int // ChangedUnchecked by kind of damage
}

// Summarize counts outcomes per format.
func Summarize(outs []Outcome) map[string]*Tally {
	m := map[string]*Tally{}
	for _, o := range outs {
		t := m[o.Case.Fixture.Format]
		if t == nil {
			t = &Tally{ByKind: map[string]int{}, ChangedByKind: map[string]int{}}
			m[o.Case.Fixture.Format] = t
		}
		t.Cases++
		t.ByKind[o.Case.Kind]++
		switch {
		case o.Skipped:
			t.Skipped++
		case len(o.Failures) > 0:
			t.Failed++
		}
		if o.Warned {
			t.Warned++
		}
		if o.Changed > 0 && !o.Warned && !o.Case.Checked {
			t.ChangedUnchecked++
			t.ChangedByKind[o.Case.Kind]++
		}
		t.LinesLost += o.Lost
		t.PeakRSS = max(t.PeakRSS, o.PeakRSS)
	}
	return m
}

// Report renders the tallies, one line per format.
func Report(m map[string]*Tally) string {
	var formats []string
	for f := range m {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %6s %6s %6s %6s %8s %9s %8s  %s\n", "format", "cases", "failed", "skip", "warned", "chg-unck", "lost-lines", "peak-MiB", "kinds")
	for _, f := range formats {
		t := m[f]
		var kinds []string
		for k, n := range t.ByKind {
			if c := t.ChangedByKind[k]; c > 0 {
				kinds = append(kinds, fmt.Sprintf("%s:%d(%d chg-unck)", k, n, c))
			} else {
				kinds = append(kinds, fmt.Sprintf("%s:%d", k, n))
			}
		}
		sort.Strings(kinds)
		fmt.Fprintf(&b, "%-22s %6d %6d %6d %6d %8d %9d %8d  %s\n", f, t.Cases, t.Failed, t.Skipped, t.Warned,
			t.ChangedUnchecked, t.LinesLost, t.PeakRSS>>20, strings.Join(kinds, " "))
	}
	return b.String()
}
