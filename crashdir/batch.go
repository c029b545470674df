package crashdir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/triage"
)

// Config says what to analyze and how.
type Config struct {
	// Roots are /var/crash trees, crash directories, dumps or logs.
	Roots []string
	// Jobs is how many crashes are analyzed at once (default: the cores).
	Jobs int
	// Rules is the rulebook (default: the built-in one).
	Rules *analyzers.Rulebook
	// Debuginfo chooses a debug vmlinux per kernel release; nil reads every
	// dump with its own kallsyms and BTF.
	Debuginfo *Debuginfo
	// Store keeps the rows; nil keeps nothing. Crashes it already holds are
	// reused unless Force is set.
	Store store.Store
	Force bool
	// Progress hears about every finished crash; nil is quiet.
	Progress Progress
	// KeepLogs keeps each incident's kernel log in memory (a single-crash
	// report shows it); a fleet drops them, as a log can be megabytes.
	KeepLogs bool
	// Timeout bounds the reading of one crash; a reader still busy then is
	// abandoned and its crash fails. 0 means no bound.
	Timeout time.Duration
	// LoadDump and ParseLog read one crash; nil means triage.LoadDump and
	// the text-log reader. Tests replace them.
	LoadDump func(paths []string, opts triage.Options) (*incident.Incident, error)
	ParseLog func(path string) (*incident.Incident, error)
}

// Progress hears how a batch advances. Done is called from the workers,
// one call at a time.
type Progress interface {
	Start(total int)
	Done(r *Result)
	Finish()
}

// FleetResult is a finished (or interrupted) batch.
type FleetResult struct {
	Results []Result
	Skipped []Skipped
	Summary Summary
	// Interrupted is set when the context was cancelled: the rows of the
	// crashes not reached say so, and what was done is kept (and stored).
	Interrupted bool
	// StoreErrors are rows the store refused; the analysis itself is fine.
	StoreErrors []string
	// FromStore is set when the rows were read back from the store
	// (`ktriage history`, `ktriage summary`) rather than by a batch.
	FromStore bool
}

// Rows returns every row of the batch.
func (f *FleetResult) Rows() []store.Row {
	out := make([]store.Row, len(f.Results))
	for i := range f.Results {
		out[i] = f.Results[i].Row
	}
	return out
}

// Counts are the batch's totals by outcome.
// Crashes a cancelled batch never reached are in none of them.
func (f *FleetResult) Counts() (analyzed, reused, logOnly, failed int) {
	for i := range f.Results {
		r := &f.Results[i].Row
		switch {
		case r.Status == store.StatusInterrupted:
		case r.Failed():
			failed++
		case r.Reused:
			reused++
		default:
			analyzed++
		}
		if r.LogOnly() {
			logOnly++
		}
	}
	return
}

// Run discovers the crashes below cfg.Roots and analyzes them in parallel.
// A crash that fails (an error, or a panic in a reader) becomes a failed
// row; only a problem with the roots themselves is an error. When ctx is
// cancelled, Run lets the crashes in progress finish, keeps them, marks the
// rest interrupted, and returns ctx's error beside the partial result.
func Run(ctx context.Context, cfg Config) (*FleetResult, error) {
	disc, err := Discover(cfg.Roots)
	if err != nil {
		return nil, err
	}
	if cfg.Rules == nil {
		rb, err := analyzers.Builtin()
		if err != nil {
			return nil, fmt.Errorf("built-in rulebook: %w", err)
		}
		cfg.Rules = rb
	}
	if cfg.LoadDump == nil {
		cfg.LoadDump = triage.LoadDump
	}
	if cfg.ParseLog == nil {
		cfg.ParseLog = parseLog
	}
	if cfg.Timeout > 0 {
		load, parse := cfg.LoadDump, cfg.ParseLog
		cfg.LoadDump = func(paths []string, opts triage.Options) (*incident.Incident, error) {
			return callWithTimeout(cfg.Timeout, func() (*incident.Incident, error) { return load(paths, opts) })
		}
		cfg.ParseLog = func(path string) (*incident.Incident, error) {
			return callWithTimeout(cfg.Timeout, func() (*incident.Incident, error) { return parse(path) })
		}
	}
	jobs := cfg.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}

	res := &FleetResult{Results: make([]Result, len(disc.Crashes)), Skipped: disc.Skipped}
	if cfg.Progress != nil {
		cfg.Progress.Start(len(disc.Crashes))
	}
	var (
		mu      sync.Mutex // guards Progress calls and StoreErrors
		wg      sync.WaitGroup
		next    = make(chan int)
		reached = make([]bool, len(disc.Crashes))
	)
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					continue // cancelled: leave it unreached
				}
				r := processCrash(ctx, &cfg, disc.Crashes[i])
				var storeErr error
				if cfg.Store != nil && !r.Row.Reused && r.Row.Key != "" {
					// Stored even after a cancel: the work is done and whole.
					storeErr = cfg.Store.Put(context.WithoutCancel(ctx), &r.Row, r.Incident)
				}
				mu.Lock()
				res.Results[i] = r
				reached[i] = true
				if storeErr != nil {
					res.StoreErrors = append(res.StoreErrors, fmt.Sprintf("%s: %v", r.Row.Path, storeErr))
				}
				if cfg.Progress != nil {
					cfg.Progress.Done(&res.Results[i])
				}
				mu.Unlock()
			}
		}()
	}
dispatch:
	for i := range disc.Crashes {
		select {
		case <-ctx.Done():
			break dispatch
		case next <- i:
		}
	}
	close(next)
	wg.Wait()
	if cfg.Progress != nil {
		cfg.Progress.Finish()
	}
	for i, ok := range reached {
		if !ok {
			c := disc.Crashes[i]
			res.Results[i] = Result{Crash: c, Row: store.Row{Path: c.Name(), Layout: string(c.Layout), Host: c.Host,
				Time: c.Time, Status: store.StatusInterrupted}}
			res.Interrupted = true
		}
	}
	sort.SliceStable(res.Results, func(i, j int) bool { return rowLess(&res.Results[i].Row, &res.Results[j].Row) })
	res.Summary = Summarize(res.Rows())
	if res.Interrupted {
		return res, ctx.Err()
	}
	return res, nil
}

// rowLess orders rows by crash time, then path; rows without a time last.
func rowLess(a, b *store.Row) bool {
	if a.Time.IsZero() != b.Time.IsZero() {
		return !a.Time.IsZero()
	}
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.Path < b.Path
}

// processCrash identifies one crash, reuses its stored row when there is
// one, and analyzes it otherwise. A panic anywhere below becomes a failed
// row: one bad dump must never stop the batch.
func processCrash(ctx context.Context, cfg *Config, c Crash) (r Result) {
	r.Crash = c
	r.Row = store.Row{Path: c.Name(), Layout: string(c.Layout), Host: c.Host, Time: c.Time, Log: c.Log, Release: c.Release}
	if !c.Time.IsZero() {
		r.Row.TimeSource = "directory name"
	}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			if rp, ok := p.(readerPanic); ok {
				p, stack = rp.value, rp.stack
			}
			r.Incident = nil
			r.Row.Status = store.Failed(fmt.Sprintf("panic while reading: %v (%s)", p, panicSite(stack)))
		}
		r.Row.Seconds = time.Since(start).Seconds()
		r.Row.AnalyzedAt = time.Now().UTC()
	}()

	if c.Empty {
		r.Row.Status = store.Failed("empty crash folder: the capture saved nothing (kdump failed before writing; " +
			"the capture kernel's console or `journalctl -b -1 -u kdump` says why)")
		return r
	}
	id, err := identify(c.Files())
	if err != nil {
		r.Row.Status = store.Failed(err.Error())
		return r
	}
	r.Row.Key, r.Row.Path, r.Row.Size, r.Row.Checksum = id.Key, id.Path, id.Size, id.Checksum
	if cfg.Store != nil && !cfg.Force {
		if row, ok, err := cfg.Store.Get(ctx, id.Key); err == nil && ok {
			row.Reused = true
			r.Row = *row
			r.Incident, _ = cfg.Store.Incident(ctx, id.Key) // reports show it; a row alone will do
			return r
		}
	}
	analyzeCrash(cfg, c, &r)
	return r
}

// analyzeCrash reads the crash into an incident — from the dump, or from
// the companion log when the dump cannot be read — and runs the rulebook.
func analyzeCrash(cfg *Config, c Crash, r *Result) {
	row := &r.Row
	var in *incident.Incident
	var dumpErr error
	switch {
	case len(c.Dumps) > 0:
		in, dumpErr = loadWithDebuginfo(cfg, c, row)
		if in != nil && len(in.Log) == 0 && in.Panic == nil {
			// The dump opened but gave nothing (a truncated capture): as
			// good as unreadable, and its log may say more.
			dumpErr = fmt.Errorf("nothing readable in the dump: %s", strings.Join(in.Warnings, "; "))
			in = nil
		}
	case len(c.NotADump) > 0:
		dumpErr = fmt.Errorf("%s: not a crash dump (no ELF, KDUMP or makedumpfile signature)", c.NotADump[0])
	}
	if in == nil && c.Log != "" {
		logIn, logErr := cfg.ParseLog(c.Log)
		switch {
		case logErr != nil && dumpErr != nil:
			row.Status = store.Failed(fmt.Sprintf("dump unreadable: %v; log unreadable: %v", dumpErr, logErr))
			return
		case logErr != nil:
			row.Status = store.Failed(fmt.Sprintf("log unreadable: %v", logErr))
			return
		}
		in = logIn
		switch {
		case dumpErr != nil:
			row.Status = store.LogOnly("dump unreadable: " + dumpErr.Error())
			in.Warn("the dump could not be read (" + dumpErr.Error() + "); this incident comes from " + c.Log)
		case len(c.Dumps) == 0 && c.Layout != LayoutLoose:
			row.Status = store.LogOnly("no dump was saved beside the log")
		default:
			row.Status = store.StatusOK
		}
	}
	if in == nil {
		if dumpErr == nil {
			dumpErr = errors.New("nothing to analyze")
		}
		row.Status = store.Failed(dumpErr.Error())
		return
	}
	if row.Status.Kind == "" {
		row.Status = store.StatusOK
		if c.Incomplete {
			row.Status = store.StatusIncomplete
		}
	}
	in.Findings = analyzers.Run(in, cfg.Rules)
	if !cfg.KeepLogs {
		in.Log = nil // the fleet keeps verdicts; a log can be megabytes per dump
	}
	r.Incident = in
	fillRow(row, c, in)
}

// loadWithDebuginfo reads the dump with the debug vmlinux of its release.
// The release is known before reading only from a hint (README.txt, the
// companion log); otherwise the dump is read with its own kallsyms and BTF
// first, and read again when debuginfo for the release it names exists.
func loadWithDebuginfo(cfg *Config, c Crash, row *store.Row) (*incident.Incident, error) {
	vmlinux := cfg.Debuginfo.Find(c.Release)
	in, err := cfg.LoadDump(c.Dumps, triage.Options{Vmlinux: vmlinux})
	if err != nil && vmlinux != "" {
		// A wrong hint must not cost the dump: retry without the vmlinux.
		vmlinux = ""
		in, err = cfg.LoadDump(c.Dumps, triage.Options{})
	}
	if err != nil {
		return nil, err
	}
	if vmlinux == "" && in.System != nil {
		if v := cfg.Debuginfo.Find(in.System.Release); v != "" {
			if again, err := cfg.LoadDump(c.Dumps, triage.Options{Vmlinux: v}); err == nil {
				in, vmlinux = again, v
			} else {
				in.Warn(fmt.Sprintf("debuginfo %s did not fit the dump (%v); names and types come from the dump", v, err))
			}
		}
	}
	row.Debuginfo = vmlinux
	return in, nil
}

// fillRow takes host, time, release, title and findings from the incident,
// keeping what the directory said when the incident does not know.
func fillRow(row *store.Row, c Crash, in *incident.Incident) {
	row.Title = in.Title
	row.Findings = findingRefs(in.Findings)
	if s := in.System; s != nil {
		if s.Nodename != "" && s.Nodename != "(none)" {
			row.Host = s.Nodename
		}
		if s.Release != "" {
			row.Release = s.Release
		}
	}
	if row.Host == "" {
		row.Host = in.Source.Host
	}
	if row.Host == "" {
		row.Host = c.Host
	}
	if row.Release == "" {
		row.Release = c.Release
	}
	switch {
	case in.System != nil && in.System.CrashTime != nil && in.Source.Kind == incident.SourceVmcore:
		row.Time, row.TimeSource = in.System.CrashTime.UTC(), "dump"
	case !c.Time.IsZero():
		row.Time = c.Time
		if c.Layout == LayoutSUSE {
			row.TimeSource = "README.txt"
		}
	case in.System != nil && in.System.CrashTime != nil:
		row.Time, row.TimeSource = in.System.CrashTime.UTC(), "log"
	default:
		if files := c.Files(); len(files) > 0 {
			if st, err := os.Stat(files[0]); err == nil {
				row.Time, row.TimeSource = st.ModTime().UTC().Truncate(time.Second), "file time"
			}
		}
	}
}

// panicSite names the file and line of the first frame of a panic's stack
// that is ktriage's code but not the batch runner, so a failed row says
// where the reader broke.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i := 0; i+1 < len(lines); i++ {
		fn, site := strings.TrimSpace(lines[i]), strings.TrimSpace(lines[i+1])
		if strings.HasPrefix(fn, "github.com/ktriage/ktriage/") && !strings.Contains(site, "crashdir/batch.go:") {
			if sp := strings.LastIndexByte(site, ' '); sp > 0 {
				site = site[:sp] // drop the "+0x1f" offset
			}
			return site
		}
	}
	return "unknown site"
}

// ErrTimeout is the error of a crash whose reader ran past Config.Timeout.
var ErrTimeout = errors.New("reading timed out")

// readerPanic carries a reader's panic, with the stack where it happened,
// from the reader's goroutine to the batch worker's.
type readerPanic struct {
	value any
	stack []byte
}

// callWithTimeout runs read on a goroutine of its own, so that a reader
// stuck on a damaged dump costs one row, not a worker for the rest of the
// batch. Go cannot stop a goroutine: a reader past the timeout is
// abandoned and finishes (or not) in the background.
func callWithTimeout(timeout time.Duration, read func() (*incident.Incident, error)) (*incident.Incident, error) {
	type outcome struct {
		in    *incident.Incident
		err   error
		panic *readerPanic
	}
	done := make(chan outcome, 1) // buffered: an abandoned reader must not block forever
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{panic: &readerPanic{value: p, stack: debug.Stack()}}
			}
		}()
		in, err := read()
		done <- outcome{in: in, err: err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case o := <-done:
		if o.panic != nil {
			panic(*o.panic) // processCrash turns it into a failed row
		}
		return o.in, o.err
	case <-timer.C:
		return nil, fmt.Errorf("%w after %s; the reader was abandoned", ErrTimeout, timeout)
	}
}
