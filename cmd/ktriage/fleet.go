package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ktriage/ktriage/crashdir"
	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/termsafe"
	"github.com/ktriage/ktriage/report"
	fleetreport "github.com/ktriage/ktriage/report/fleet"
	"github.com/ktriage/ktriage/triage"
)

func init() {
	addCommand("fleet", newFleetCmd)
	addCommand("history", newHistoryCmd)
	addCommand("summary", newSummaryCmd)
}

// fleetOptions are the batch flags; analyze fills them when it hands a
// directory of many crashes over (see runFleet).
type fleetOptions struct {
	jobs          int
	store         string
	noStore       bool
	force         bool
	format        string
	output        string
	rules         string
	debuginfoDirs []string
	noSystemDebug bool
	fetch         fetchFlags
	since         string
	timeout       time.Duration
	worker        string
	lease         time.Duration
	settle        time.Duration
	reanalyze     bool
	// roots are the trees being analyzed; -o may not point into them.
	roots []string
}

// defaultDumpTimeout bounds one crash: the corpus dumps take well under a
// second, a large vmcore with DWARF debuginfo a minute or two.
const defaultDumpTimeout = 15 * time.Minute

func (o *fleetOptions) registerStore(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.store, "store", "", "results store: a SQLite file, or postgres://… for a shared store "+
		"(default $KTRIAGE_STORE or "+store.DefaultPath()+")")
}

func (o *fleetOptions) registerOutput(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.format, "format", "text", "report format: "+strings.Join(fleetreport.Formats, ", "))
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write the report to FILE instead of standard output")
}

func newFleetCmd() *cobra.Command {
	o := &fleetOptions{}
	cmd := &cobra.Command{
		Use: "fleet DIR... [flags]",
		Example: `  ktriage fleet /var/crash
  ktriage fleet --format html -o fleet.html /srv/crash-archive/*
  ktriage fleet --no-store -j 4 /mnt/collected
  ktriage fleet --store postgres://triage@db/crashes /var/crash
  ktriage fleet --store postgres://triage@db/crashes --since 30d --format html -o fleet.html /srv/crash-archive`,
		Short: "Analyze every crash under /var/crash trees and group them by signature",
		Long: `Find every crash dump and kernel log below the given directories (RHEL/Fedora,
Debian/Ubuntu and SUSE kdump layouts, split and flattened dumps, loose dumps
and logs), analyze them in parallel and report one row per crash and a
summary grouped by crash title and by finding: count, hosts, kernels, first
and last seen, affected versus fixed kernels.

Results are kept in a store (SQLite by default; --store postgres://… shares
one between hosts), keyed by each dump's content — its size, a hash of its
header pages and the kernel build-id and crash time they hold — so the same
dump under another path, mount or name is the same crash. The store also
remembers each file's size, time and inode: a rerun stats the tree and reads
only what is new or changed. --force analyzes all again; --reanalyze-stale
analyzes again what another ktriage version or rulebook produced.

Any number of fleet commands, on any number of hosts, may run on one tree
with one store: each claims a crash before analyzing it and renews its
claims while it works (--lease); a crash another worker holds is waited for
and reported from its stored row, and the claims of a worker that died are
taken over once their lease runs out. Every row names the worker host, the
ktriage version and the rulebook digest that produced it.

A file kdump has not renamed yet (vmcore-incomplete), or one that cannot be
read and changed within --settle, is taken for a copy in progress and left
for a later run; hidden and temporary files (rsync's .NAME.XXXXXX) are not read.
A dump that cannot be read is reported from its companion log (status
log-only) or as failed; it never stops the rest. Ctrl-C stops after the
crashes in progress and keeps what was done.

Exit status: 0 when every crash was analyzed, 2 when some failed (the report
names them), 130 when interrupted.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFleet(cmd, args, o)
		},
	}
	cmd.Flags().IntVarP(&o.jobs, "jobs", "j", runtime.NumCPU(), "crashes analyzed at once")
	o.registerStore(cmd)
	cmd.Flags().BoolVar(&o.noStore, "no-store", false, "keep no results (and reuse none)")
	cmd.Flags().BoolVar(&o.force, "force", false, "analyze again the crashes the store already holds")
	cmd.Flags().DurationVar(&o.timeout, "timeout", defaultDumpTimeout, "give up on one crash after this long (0: never)")
	cmd.Flags().StringVar(&o.worker, "worker", "", "name of this worker in claims and rows (default HOST:PID)")
	cmd.Flags().DurationVar(&o.lease, "lease", crashdir.DefaultLease,
		"how long a claim on a crash outlives its worker's last heartbeat")
	cmd.Flags().DurationVar(&o.settle, "settle", time.Minute,
		"leave for a later run a capture in progress, or an unreadable file changed within this long (0: never wait)")
	cmd.Flags().BoolVar(&o.reanalyze, "reanalyze-stale", false,
		"analyze again the stored crashes another ktriage version or rulebook produced")
	cmd.Flags().StringVar(&o.since, "since", "", "report only crashes since a date (2026-11-01) or for a duration back (30d, 2w, 36h)")
	o.registerOutput(cmd)
	cmd.Flags().StringVar(&o.rules, "rules", "", "folder of extra YAML rules (a team's own rulebook)")
	cmd.Flags().StringArrayVar(&o.debuginfoDirs, "debuginfo-dir", nil,
		"folder with debug vmlinux files (vmlinux-<release>, <release>/vmlinux, a usr/lib/debug tree, -dbg .deb or kernel-debuginfo .rpm packages); repeatable")
	cmd.Flags().BoolVar(&o.noSystemDebug, "no-system-debuginfo", false,
		"do not look in /usr/lib/debug (read every dump with its own kallsyms and BTF)")
	o.fetch.register(cmd.Flags())
	return cmd
}

// runFleet analyzes the crashes below dirs and writes the fleet report.
func runFleet(cmd *cobra.Command, dirs []string, o *fleetOptions) error {
	if !validFleetFormat(o.format) {
		return fmt.Errorf("unknown --format %q (use %s)", o.format, strings.Join(fleetreport.Formats, ", "))
	}
	if o.jobs < 1 {
		return fmt.Errorf("--jobs %d: give at least 1 (crashes analyzed at once)", o.jobs)
	}
	softMemoryLimit(o.jobs) // each worker's dump has its own budget
	if o.timeout < 0 {
		return fmt.Errorf("--timeout %s: give a duration such as 15m, or 0 for none", o.timeout)
	}
	if o.lease < time.Second {
		return fmt.Errorf("--lease %s: give at least 1s (workers renew their claims every third of it)", o.lease)
	}
	var since time.Time
	if o.since != "" {
		t, err := crashdir.ParseSince(o.since, time.Now())
		if err != nil {
			return err
		}
		since = t
	}
	o.roots = dirs
	if o.output != "" {
		// Refuse a bad -o before the batch, not after minutes of work.
		if err := checkOutputPath(o.output, dirs); err != nil {
			return err
		}
	}
	rb, err := loadRulebook(o.rules) // analyze.go's: built-in rules plus a team's folder
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(commandContext(cmd), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the batch winds down; a second one kills.
		<-ctx.Done()
		stop()
	}()

	// One debuginfo client for the run: crashes of one kernel share its
	// download and its cache.
	fetch, err := o.fetch.client(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	fetch.PackageDirs = o.debuginfoDirs // .deb/.rpm debug packages there are read by build-id
	cfg := crashdir.Config{Roots: dirs, Jobs: o.jobs, Rules: rb, Force: o.force, Timeout: o.timeout,
		Debuginfo: &crashdir.Debuginfo{Dirs: o.debuginfoDirs, System: !o.noSystemDebug,
			Fetch: fetch, WantDWARF: o.fetch.dwarf},
		Worker: o.worker, Lease: o.lease, Settle: o.settle, ReanalyzeStale: o.reanalyze, Version: versionString(),
		MemoryLimit: memoryLimit,
		// Only JSON Lines carry whole incidents; the other views need the rows.
		DropIncidents: o.format != "jsonl" && o.format != "json"}
	if !o.noStore {
		st, err := store.Open(ctx, o.store)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg.Store = st
	}
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.Progress = crashdir.NewTerminalProgress(f)
	}
	cfg.LoadDump = loadArchivedDump
	res, runErr := crashdir.Run(ctx, cfg)
	if res == nil {
		return runErr
	}
	for _, e := range res.StoreErrors {
		fmt.Fprintf(cmd.ErrOrStderr(), "ktriage: not stored: %s\n", e)
	}
	if !since.IsZero() {
		res.KeepSince(since)
	}
	write := func(w io.Writer) error { return fleetreport.WriteReport(w, res, o.format) }
	if err := writeFleetReport(cmd, o, write); err != nil {
		return err
	}
	if errors.Is(runErr, context.Canceled) {
		return &exitError{code: 130, err: errors.New("interrupted: the crashes analyzed so far are reported and stored")}
	}
	if runErr != nil {
		return runErr
	}
	if _, _, _, failed := res.Counts(); failed > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%d of %d crashes could not be analyzed (the report names them)",
			failed, len(res.Results))}
	}
	return nil
}

// commandContext is the command's context, or a background one when the
// command was not started by Execute (another command calling in).
func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func validFleetFormat(f string) bool {
	for _, ok := range fleetreport.Formats {
		if f == ok {
			return true
		}
	}
	return f == "md" || f == "json"
}

// writeFleetReport sends a report to -o FILE or standard output.
// Text and Markdown go through termsafe: crash trees name hosts and folders
// after whatever was on disk.
func writeFleetReport(cmd *cobra.Command, o *fleetOptions, write func(io.Writer) error) error {
	if o.format == "text" || o.format == "markdown" || o.format == "md" {
		inner := write
		write = func(w io.Writer) error {
			safe := termsafe.NewWriter(w)
			if err := inner(safe); err != nil {
				return err
			}
			return safe.Flush()
		}
	}
	if o.output == "" {
		return write(cmd.OutOrStdout())
	}
	f, err := createOutput(o.output, o.roots)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", o.output, err)
	}
	return f.Close()
}

// storedResult turns the store's rows into a report's input. The store
// stays open (close it after writing): JSON Lines read each incident from
// it as they are written, not all at once.
func storedResult(cmd *cobra.Command, o *fleetOptions) (*crashdir.FleetResult, store.Store, error) {
	ctx := commandContext(cmd)
	st, err := store.Open(ctx, o.store)
	if err != nil {
		return nil, nil, err
	}
	var since time.Time
	if o.since != "" {
		if since, err = crashdir.ParseSince(o.since, time.Now()); err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	res := &crashdir.FleetResult{FromStore: true, Store: st}
	if res.NewSince, err = st.LastRun(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	err = st.EachRow(ctx, func(r *store.Row) error {
		if !since.IsZero() && (r.Time.IsZero() || r.Time.Before(since)) {
			return nil
		}
		res.Results = append(res.Results, crashdir.Result{Row: *r})
		return nil
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	res.Since = since
	res.Summary = crashdir.SummarizeRun(res.Rows(), res.NewSince)
	if len(res.Results) == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "the store %s holds no crashes yet: run `ktriage fleet DIR` first\n", st.Where())
	}
	return res, st, nil
}

func newHistoryCmd() *cobra.Command {
	cmd := newStoreReportCmd("history", "List every crash the results store holds, oldest first", fleetreport.WriteHistory)
	cmd.Flags().String("show", "", "write the full stored report of one crash, named by its path (as listed) or key")
	return cmd
}

// showStored writes the full report of the stored crash whose path or key
// (or key prefix) is name, from the incident the store kept.
func showStored(cmd *cobra.Command, o *fleetOptions, name string) error {
	ctx := commandContext(cmd)
	st, err := store.Open(ctx, o.store)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.Rows(ctx)
	if err != nil {
		return err
	}
	var match []store.Row
	for _, r := range rows {
		if r.Path == name || r.Key == name || len(name) >= 6 && strings.HasPrefix(r.Key, name) {
			match = append(match, r)
		}
	}
	switch len(match) {
	case 0:
		return fmt.Errorf("the store %s holds no crash with path or key %q (see `ktriage history`)", st.Where(), name)
	case 1:
	default:
		return fmt.Errorf("%q names %d stored crashes: give more of the key", name, len(match))
	}
	in, err := st.Incident(ctx, match[0].Key)
	if err != nil {
		return err
	}
	if in == nil {
		return fmt.Errorf("%s was not analyzed: %s", match[0].Path, match[0].Status)
	}
	format := o.format
	if format == "jsonl" {
		format = "json"
	}
	return writeFleetReport(cmd, o, func(w io.Writer) error { return report.Write(w, in, format, report.Options{}) })
}

func newSummaryCmd() *cobra.Command {
	return newStoreReportCmd("summary", "Summarize the results store: crashes grouped by title and by finding",
		fleetreport.WriteSummary)
}

// newStoreReportCmd makes a command that answers from the store alone.
func newStoreReportCmd(name, short string, write func(io.Writer, *crashdir.FleetResult, string) error) *cobra.Command {
	o := &fleetOptions{}
	cmd := &cobra.Command{
		Use:     name,
		Short:   short,
		Example: fmt.Sprintf("  ktriage %s\n  ktriage %s --since 30d --format markdown", name, name),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !validFleetFormat(o.format) {
				return fmt.Errorf("unknown --format %q (use %s)", o.format, strings.Join(fleetreport.Formats, ", "))
			}
			if f := cmd.Flags().Lookup("show"); f != nil && f.Value.String() != "" {
				return showStored(cmd, o, f.Value.String())
			}
			res, st, err := storedResult(cmd, o)
			if err != nil {
				return err
			}
			defer st.Close()
			return writeFleetReport(cmd, o, func(w io.Writer) error { return write(w, res, o.format) })
		},
	}
	o.registerStore(cmd)
	o.registerOutput(cmd)
	cmd.Flags().StringVar(&o.since, "since", "", "only crashes since a date (2026-11-01) or for a duration back (30d, 2w, 36h)")
	return cmd
}

// loadArchivedDump is the batch's dump loader: an archived dump (vmcore.zst,
// a tar.gz of a crash folder) is unpacked into the cache first, the way
// every other command opens it.
func loadArchivedDump(paths []string, opts triage.Options) (*incident.Incident, error) {
	r, err := resolveInputs(nil, paths, needDumpOrLog)
	if err != nil {
		return nil, err
	}
	var in *incident.Incident
	switch {
	case len(r.Dumps) > 0:
		in, err = triage.LoadDump(r.Dumps, opts)
	default:
		in, err = loadLog(r.Log)
	}
	if err != nil {
		return nil, err
	}
	if r.Unpacked {
		in.Source.Path = strings.Join(paths, " ")
	}
	return in, nil
}
