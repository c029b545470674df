package crashdir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// Worker names this process in claims (default host:pid); the host
	// part goes into each row it analyzes.
	Worker string
	// Version is the ktriage version recorded in each row.
	Version string
	// ReanalyzeStale analyzes again stored crashes whose row another
	// ktriage version or another rulebook produced; without it they are
	// reused as they are.
	ReanalyzeStale bool
	// Lease is how long a claim on a crash lasts without a heartbeat
	// (default DefaultLease): after a worker dies, its crashes wait this
	// long before another worker takes them.
	Lease time.Duration
	// Settle: a crash whose files changed less than this long ago and that
	// cannot be read whole is taken for a copy still being written and
	// waited for (listed as skipped, not stored) instead of failed. 0 waits
	// for nothing.
	Settle time.Duration
	// KeepIncidents keeps every incident in memory; otherwise, with a
	// store, an incident is dropped once stored and read back on demand
	// (FleetResult.IncidentOf), so memory does not grow with the fleet.
	// Without a store incidents are kept, unless DropIncidents says the
	// report needs only the rows (every format but JSON Lines).
	KeepIncidents, DropIncidents bool
	// LoadDump and ParseLog read one crash; nil means triage.LoadDump and
	// the text-log reader. Tests replace them.
	LoadDump func(paths []string, opts triage.Options) (*incident.Incident, error)
	// MemoryLimit is each dump's memory budget (triage.Options.MemoryLimit):
	// a dump whose sizes ask more fails alone, its row saying why.
	MemoryLimit int64
	ParseLog    func(path string) (*incident.Incident, error)

	dumpOptions triage.Options // what every LoadDump of the run shares (set by prepare)
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
	// Started is when this batch began, PreviousRun when the one before it
	// did (zero without a store or a previous run). NewSince is when the
	// crashes counted as new were first seen from: this batch's start when
	// there was a run before it; for rows read from the store, the latest
	// run's start.
	Started, PreviousRun, NewSince time.Time
	// Store, when set, holds the incidents not kept in Results.
	Store store.Store
	// Since is the start of the reported period (KeepSince), zero for all.
	Since time.Time
}

// KeepSince keeps the crashes at or after t (rows without a crash time are
// dropped: no one can say when they happened) and summarizes them again.
func (f *FleetResult) KeepSince(t time.Time) {
	kept := f.Results[:0]
	for _, r := range f.Results {
		if !r.Row.Time.IsZero() && !r.Row.Time.Before(t) {
			kept = append(kept, r)
		}
	}
	f.Results, f.Since = kept, t
	f.Summary = SummarizeRun(f.Rows(), f.NewSince)
}

// IncidentOf returns the incident of Results[i]: the one in memory, or the
// stored one.
func (f *FleetResult) IncidentOf(ctx context.Context, i int) (*incident.Incident, error) {
	r := &f.Results[i]
	if r.Incident != nil || f.Store == nil || r.Row.Key == "" || r.Row.Failed() {
		return r.Incident, nil
	}
	return f.Store.Incident(ctx, r.Row.Key)
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

// DefaultLease is how long a claim lasts without a heartbeat.
const DefaultLease = 2 * time.Minute

// outcome is what became of one crash in one pass of the batch.
type outcome int

const (
	done      outcome = iota
	deferred          // another live worker holds its claim: ask again later
	waiting           // its files are still being written: not this run
	duplicate         // the same dump as another crash of this batch
)

// Run discovers the crashes below cfg.Roots and analyzes them in parallel.
// A crash that fails (an error, or a panic in a reader) becomes a failed
// row; only a problem with the roots themselves is an error. When ctx is
// cancelled, Run lets the crashes in progress finish, keeps them, marks the
// rest interrupted, and returns ctx's error beside the partial result.
//
// With a store, any number of Runs (processes, hosts) may work on the same
// tree at once: each crash is claimed before it is analyzed, a crash
// another worker holds is waited for and reported from its stored row, and
// the claim of a worker that died is taken over once its lease runs out.
func Run(ctx context.Context, cfg Config) (*FleetResult, error) {
	b := &batch{cfg: cfg, started: time.Now().UTC()}
	if err := b.prepare(ctx); err != nil {
		return nil, err
	}
	defer b.cfg.dumpOptions.Names.Wait() // the names cache's disk copies
	return b.run(ctx)
}

// batch is one Run's state.
type batch struct {
	cfg      Config
	rulebook string // digest of cfg.Rules
	host     string
	started  time.Time
	cache    *fileCache
	disc     *Discovery

	mu      sync.Mutex
	ids     []crashID
	results []Result
	state   []outcome
	why     []string // waiting or duplicate: the reason
	strs    map[string]string
	res     *FleetResult
}

func (b *batch) prepare(ctx context.Context) error {
	cfg := &b.cfg
	// Most of a fleet runs a few kernel builds: each build's names and
	// types are decoded from its first dump only.
	cfg.dumpOptions = triage.Options{Names: triage.NewNamesCache(), MemoryLimit: cfg.MemoryLimit}
	if cfg.Rules == nil {
		rb, err := analyzers.Builtin()
		if err != nil {
			return fmt.Errorf("built-in rulebook: %w", err)
		}
		cfg.Rules = rb
	}
	b.rulebook = rulebookDigest(cfg.Rules)
	b.host, _ = os.Hostname()
	if cfg.Worker == "" {
		cfg.Worker = fmt.Sprintf("%s:%d", b.host, os.Getpid())
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Store == nil {
		cfg.KeepIncidents = true // nowhere else to find them
	} else {
		files, err := cfg.Store.Files(ctx)
		if err != nil {
			return err
		}
		b.cache = newFileCache(files)
	}
	b.disc = &Discovery{cache: b.cache, lazyRelease: true}
	if err := b.disc.walk(cfg.Roots); err != nil {
		return err
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
	if cfg.Jobs <= 0 {
		cfg.Jobs = runtime.NumCPU()
	}
	return nil
}

func (b *batch) run(ctx context.Context) (*FleetResult, error) {
	cfg := &b.cfg
	crashes := b.disc.Crashes
	b.res = &FleetResult{Skipped: b.disc.Skipped, Started: b.started, Store: cfg.Store}
	b.results = make([]Result, len(crashes))
	b.state = make([]outcome, len(crashes))
	b.why = make([]string, len(crashes))
	reached := make([]bool, len(crashes))
	b.identifyAll(ctx)
	if cfg.Store != nil {
		prev, err := cfg.Store.StartRun(ctx, cfg.Worker, b.started)
		if err != nil {
			return nil, err
		}
		b.res.PreviousRun = prev
		if !prev.IsZero() {
			b.res.NewSince = b.started
		}
		stopBeat := b.heartbeat(ctx)
		defer stopBeat()
	}
	if cfg.Progress != nil {
		cfg.Progress.Start(len(crashes))
	}
	// Workers start at different places of the list, so several of them
	// on one tree rarely reach for the same crash at once.
	var order []int
	offset := 0
	if n := len(crashes); n > 0 {
		offset = int(fnv32(cfg.Worker) % uint32(n))
	}
	for k := range crashes {
		i := (k + offset) % len(crashes)
		if s := b.state[i]; s == waiting || s == duplicate {
			reached[i] = true
			continue
		}
		order = append(order, i)
	}
	// Crashes other workers hold are asked for again soon (most are being
	// analyzed and done within a second), then less often: at most every
	// quarter lease, and never more than every 2 s.
	poll := 50 * time.Millisecond
	for pass := 0; len(order) > 0; pass++ {
		if pass > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
			poll = min(2*poll, cfg.Lease/4, 2*time.Second)
		}
		if ctx.Err() != nil {
			break
		}
		b.pass(ctx, order, reached)
		var again []int
		for _, i := range order {
			if reached[i] && b.state[i] == deferred {
				again = append(again, i)
			}
		}
		order = again
	}
	if cfg.Progress != nil {
		cfg.Progress.Finish()
	}
	res := b.res
	for i, ok := range reached {
		c := crashes[i]
		switch {
		case !ok || b.state[i] == deferred:
			res.Results = append(res.Results, Result{Crash: c, Row: store.Row{Path: c.Name(), Layout: string(c.Layout),
				Host: c.Host, Time: c.Time, Status: store.StatusInterrupted}})
			res.Interrupted = true
		case b.state[i] == waiting || b.state[i] == duplicate:
			res.Skipped = append(res.Skipped, Skipped{Path: c.Name(), Reason: b.why[i]})
		default:
			res.Results = append(res.Results, b.results[i])
		}
	}
	b.results = nil
	if b.cache != nil {
		changed, vanished := b.cache.updates(cfg.Roots)
		ctx := context.WithoutCancel(ctx)
		if err := cfg.Store.SaveFiles(ctx, changed); err != nil {
			res.StoreErrors = append(res.StoreErrors, err.Error())
		}
		if !res.Interrupted {
			if err := cfg.Store.Vanish(ctx, vanished); err != nil {
				res.StoreErrors = append(res.StoreErrors, err.Error())
			}
		}
	}
	sort.SliceStable(res.Results, func(i, j int) bool { return rowLess(&res.Results[i].Row, &res.Results[j].Row) })
	res.Summary = SummarizeRun(res.Rows(), res.NewSince)
	if res.Interrupted && ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// crashID is what identification found of one crash.
type crashID struct {
	files []string // absolute
	sts   []os.FileInfo
	key   string
	id    Identity // when computed in this run (not known by stat)
	err   error
}

// identifyAll gives every crash its content key — from the store's memory
// of unchanged files, else from its header pages — and sets aside, in
// discovery order, the crashes still being written and the second and later
// copies of one dump.
func (b *batch) identifyAll(ctx context.Context) {
	crashes := b.disc.Crashes
	b.ids = make([]crashID, len(crashes))
	parallel(b.cfg.Jobs, len(crashes), func(i int) {
		if ctx.Err() != nil || crashes[i].Empty {
			return
		}
		ci := &b.ids[i]
		ci.files = absPaths(crashes[i].Files())
		if ci.sts, ci.err = statFiles(ci.files); ci.err != nil {
			return
		}
		if w := b.unsettled(crashes[i], ci.sts, false); w != "" {
			b.state[i], b.why[i] = waiting, w
			return
		}
		if ci.key = b.cache.key(ci.files, ci.sts); ci.key != "" {
			return
		}
		if ci.id, ci.err = identify(ci.files); ci.err != nil {
			return
		}
		ci.key = ci.id.Key
		for j, p := range ci.files {
			b.cache.setKey(p, ci.sts[j], ci.key)
		}
	})
	first := map[string]int{}
	for i := range crashes {
		key := b.ids[i].key
		if key == "" || b.state[i] == waiting {
			continue
		}
		if j, ok := first[key]; ok {
			b.state[i], b.why[i] = duplicate, "the same dump as "+crashes[j].Name()+" (content key "+key+")"
			continue
		}
		first[key] = i
	}
}

// parallel calls f(0) … f(n-1) on jobs goroutines.
func parallel(jobs, n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// pass hands the crashes of order to cfg.Jobs workers.
func (b *batch) pass(ctx context.Context, order []int, reached []bool) {
	cfg := &b.cfg
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < cfg.Jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					continue // cancelled: leave it unreached
				}
				r, out, why := b.processCrash(ctx, i)
				var storeErr error
				if out == done && cfg.Store != nil && !r.Row.Reused && r.Row.Key != "" {
					// Stored even after a cancel: the work is done and whole.
					storeErr = cfg.Store.Put(context.WithoutCancel(ctx), &r.Row, r.Incident)
					if storeErr == nil && !cfg.KeepIncidents {
						r.Incident = nil // stored; IncidentOf reads it back
					}
				}
				if cfg.Store == nil && cfg.DropIncidents {
					r.Incident = nil
				}
				b.mu.Lock()
				b.results[i], b.state[i], b.why[i] = r, out, why
				reached[i] = true
				if storeErr != nil {
					b.res.StoreErrors = append(b.res.StoreErrors, fmt.Sprintf("%s: %v", r.Row.Path, storeErr))
				}
				if cfg.Progress != nil && out != deferred {
					cfg.Progress.Done(&b.results[i])
				}
				b.mu.Unlock()
			}
		}()
	}
dispatch:
	for _, i := range order {
		select {
		case <-ctx.Done():
			break dispatch
		case next <- i:
		}
	}
	close(next)
	wg.Wait()
}

// heartbeat extends this worker's leases while the batch runs.
func (b *batch) heartbeat(ctx context.Context) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(b.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				b.cfg.Store.Heartbeat(context.WithoutCancel(ctx), b.cfg.Worker, b.cfg.Lease)
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// reusable tells whether a stored row answers for this batch.
func (b *batch) reusable(row *store.Row) bool {
	switch {
	case b.cfg.Force:
		// Analyzed again by this batch or a worker beside it.
		return !row.AnalyzedAt.Before(b.started)
	case b.cfg.ReanalyzeStale:
		return row.Version == b.cfg.Version && row.Rulebook == b.rulebook
	}
	return true
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// rulebookDigest names a rulebook by its content.
func rulebookDigest(rb *analyzers.Rulebook) string {
	b, err := json.Marshal(rb.Rules)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
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
// one, and otherwise claims and analyzes it. A panic anywhere below becomes
// a failed row: one bad dump must never stop the batch.
func (b *batch) processCrash(ctx context.Context, i int) (r Result, out outcome, why string) {
	cfg := &b.cfg
	c := b.disc.Crashes[i]
	r.Crash = c
	r.Row = store.Row{Path: c.Name(), Layout: string(c.Layout), Host: c.Host, Time: c.Time, Log: c.Log, Release: c.Release,
		Version: cfg.Version, Rulebook: b.rulebook, Worker: cfg.Worker, WorkerHost: b.host}
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
			out = done
		}
		r.Row.Seconds = time.Since(start).Seconds()
		r.Row.AnalyzedAt = time.Now().UTC()
	}()

	if c.Empty {
		r.Row.Status = store.Failed("empty crash folder: the capture saved nothing (kdump failed before writing; " +
			"the capture kernel's console or `journalctl -b -1 -u kdump` says why)")
		return r, done, ""
	}
	ci := &b.ids[i]
	if ci.err != nil {
		r.Row.Status = store.Failed(ci.err.Error())
		return r, done, ""
	}
	files, sts, key, id := ci.files, ci.sts, ci.key, ci.id
	r.Row.Path = strings.Join(files, " ")
	var err error
	r.Row.Key = key
	if id.Key != "" {
		r.Row.Size, r.Row.Checksum, r.Row.BuildID = id.Size, id.Checksum, id.BuildID
	}
	if cfg.Store != nil {
		if row, ok := b.stored(ctx, key, c); ok {
			r.Row = *row
			return r, done, ""
		}
		ok, attempts, err := cfg.Store.Claim(ctx, key, cfg.Worker, cfg.Lease)
		switch {
		case err != nil:
			r.Row.Status = store.Failed(err.Error())
			return r, done, ""
		case !ok:
			return r, deferred, ""
		}
		// Claimed; a worker may have finished it between the look and the claim.
		if row, ok := b.stored(ctx, key, c); ok {
			cfg.Store.Release(context.WithoutCancel(ctx), key, cfg.Worker)
			r.Row = *row
			return r, done, ""
		}
		r.Row.Attempt = attempts
	}
	if id.Key == "" {
		// Known by stat, but not stored: its size and checksum for the row.
		if id, err = identify(files); err == nil {
			r.Row.Size, r.Row.Checksum, r.Row.BuildID = id.Size, id.Checksum, id.BuildID
		}
	}
	analyzeCrash(cfg, c, &r)
	b.intern(&r.Row)
	if r.Row.Failed() || r.Row.Status.Kind == store.KindIncomplete || r.Row.LogOnly() {
		if w := b.unsettled(c, sts, true); w != "" {
			if cfg.Store != nil {
				cfg.Store.Release(context.WithoutCancel(ctx), key, cfg.Worker)
			}
			return r, waiting, w
		}
	}
	return r, done, ""
}

// stored returns the stored row of key if it answers for this batch, with
// the crash's path as found now.
func (b *batch) stored(ctx context.Context, key string, c Crash) (*store.Row, bool) {
	row, ok, err := b.cfg.Store.Get(ctx, key)
	if err != nil || !ok || !b.reusable(row) {
		return nil, false
	}
	row.Reused = true
	row.Path = strings.Join(absPaths(c.Files()), " ")
	b.intern(row)
	return row, true
}

// intern makes the strings rows repeat (hosts, kernels, titles, findings,
// versions) one copy each: every row read back from the store decodes its
// own, and a fleet's rows are all kept for the report.
func (b *batch) intern(r *store.Row) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.strs == nil {
		b.strs = map[string]string{}
	}
	one := func(s *string) {
		if v, ok := b.strs[*s]; ok {
			*s = v
		} else {
			b.strs[*s] = *s
		}
	}
	for _, s := range []*string{&r.Layout, &r.Host, &r.TimeSource, &r.Release, &r.Title, &r.BuildID,
		&r.Worker, &r.WorkerHost, &r.Version, &r.Rulebook, &r.Debuginfo} {
		one(s)
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		one(&f.ID)
		one(&f.Title)
		one(&f.Severity)
		one(&f.Applies)
	}
}

// unsettled says why a crash looks like a copy still being written, or "".
// Before reading, only a capture kdump has not renamed yet
// (vmcore-incomplete) that changed within the settle time counts; after a
// read that failed or came out incomplete, any file that changed within
// it, or that changed while it was read.
func (b *batch) unsettled(c Crash, before []os.FileInfo, afterRead bool) string {
	if b.cfg.Settle <= 0 {
		return ""
	}
	files := c.Files()
	for j, st := range before {
		age := time.Since(st.ModTime())
		recent := age < b.cfg.Settle
		if !afterRead && recent && strings.Contains(filepath.Base(files[j]), "-incomplete") {
			return fmt.Sprintf("still being written (changed %s ago, named as kdump names a capture in progress); "+
				"analyzed once it has not changed for %s", age.Round(time.Second), b.cfg.Settle)
		}
		if !afterRead {
			continue
		}
		now, err := os.Stat(files[j])
		if err != nil {
			return "vanished while being read"
		}
		if now.Size() != st.Size() || !now.ModTime().Equal(st.ModTime()) {
			return fmt.Sprintf("still being written (it changed while being read: %d → %d bytes)", st.Size(), now.Size())
		}
		if recent {
			return fmt.Sprintf("unreadable and changed %s ago: taken for a copy in progress; "+
				"analyzed once it has not changed for %s", age.Round(time.Second), b.cfg.Settle)
		}
	}
	return ""
}

func absPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if a, err := filepath.Abs(p); err == nil {
			p = a
		}
		out[i] = p
	}
	return out
}

// analyzeCrash reads the crash into an incident — from the dump, or from
// the companion log when the dump cannot be read — and runs the rulebook.
func analyzeCrash(cfg *Config, c Crash, r *Result) {
	row := &r.Row
	if c.Release == "" && c.Log != "" {
		c.Release = releaseFromLog(c.Log) // to choose debuginfo before the dump is read
		if row.Release == "" {
			row.Release = c.Release
		}
	}
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
	opts := func(vmlinux string) triage.Options {
		o := cfg.dumpOptions
		o.Vmlinux = vmlinux
		return cfg.Debuginfo.fetchOptions(o)
	}
	vmlinux := cfg.Debuginfo.Find(c.Release)
	in, err := cfg.LoadDump(c.Dumps, opts(vmlinux))
	if err != nil && vmlinux != "" {
		// A wrong hint must not cost the dump: retry without the vmlinux.
		vmlinux = ""
		in, err = cfg.LoadDump(c.Dumps, opts(""))
	}
	if err != nil {
		return nil, err
	}
	if vmlinux == "" && in.System != nil {
		if v := cfg.Debuginfo.Find(in.System.Release); v != "" {
			if again, err := cfg.LoadDump(c.Dumps, opts(v)); err == nil {
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
