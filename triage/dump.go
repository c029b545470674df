// Package triage turns what a crash left — a dump or a text log — into one
// incident.Incident. It is the only place that knows both front ends; it
// decides nothing about causes (that is the analyzers' job).
package triage

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/phase"
	"github.com/ktriage/ktriage/internal/plausible"
	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/textlog"
	"github.com/ktriage/ktriage/vmcore"
)

// Options tunes how a dump is read.
type Options struct {
	// Vmlinux is a debug vmlinux; empty means the dump's own kallsyms+BTF
	// unless Discover finds one.
	Vmlinux string
	// Discover looks for the debug vmlinux in DebuginfoDir and the distro
	// paths (see kernel.AttachOptions).
	Discover     bool
	DebuginfoDir string
	// Fetch and WantDWARF bring the debug vmlinux by build-id (debuginfod,
	// debug packages; see kernel.AttachOptions).
	Fetch     *debuginfo.Client
	WantDWARF bool
	// PageHook, if set, sees every physical page the analysis reads (the
	// fixture cutter uses it to keep exactly those pages).
	PageHook func(pfn uint64)
	// Trace, when set, times each phase of the reading (`--trace`).
	Trace *phase.Recorder
	// Names, when set (NewNamesCache), shares the kernel names and types
	// decoded from a dump with later dumps of the same build: a batch over
	// a fleet's dumps decodes each build's kallsyms and BTF once.
	Names *symbols.NamesCache
	// MemoryLimit bounds what reading the dump may allocate on sizes the
	// dump states (vmcore.OpenOptions.MemoryLimit; 0: vmcore.DefaultMemoryLimit).
	MemoryLimit int64
	// BitmapCountsDir keeps a kdump file's counts of dumped pages between
	// runs (vmcore.OpenOptions.BitmapCountsDir; DefaultBitmapCountsDir).
	BitmapCountsDir string
}

// DefaultBitmapCountsDir is where the counts of a kdump file's bitmap
// are kept: beside the DWARF index cache ("" when there is no cache
// folder).
func DefaultBitmapCountsDir() string {
	d := symbols.DefaultIndexCacheDir()
	if d == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(d), "bitmaps")
}

// NewNamesCache is the Names cache of a run: a handful of builds in
// memory, every build seen on disk beside the DWARF index cache.
func NewNamesCache() *symbols.NamesCache {
	return symbols.NewNamesCache(8, symbols.DefaultIndexCacheDir())
}

// LoadDump reads a dump (several paths: a split set) into an incident. It
// degrades rather than fails: without usable symbols it still returns the
// log, with a warning saying what could not be read.
func LoadDump(paths []string, opts Options) (*incident.Incident, error) {
	t0 := time.Now()
	d, err := vmcore.OpenWith(vmcore.OpenOptions{MemoryLimit: opts.MemoryLimit, PageHook: opts.PageHook,
		BitmapCountsDir: opts.BitmapCountsDir}, paths...)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	tr := opts.Trace
	tr.Record("open", time.Since(t0), d.BytesRead())
	tr.CountBytes(d.BytesRead)
	in := &incident.Incident{Source: incident.Source{Path: strings.Join(paths, " "), Kind: incident.SourceVmcore, Format: d.Describe()}}
	if d.Incomplete {
		in.Warn("the dump is incomplete: pages the capture did not write are missing")
	}
	for _, w := range d.Warnings {
		in.Warn(w)
	}
	// The kernel's reports in the log are found on another core while the
	// names, types and tasks are read; finishFromLog waits for them.
	logReports := make(chan textlog.Extracted, 1)
	var log []incident.LogRecord
	onLog := func(recs []kernel.LogRecord, _ error) {
		log = toLogRecords(recs)
		if kernel.PanicMessage(recs) == "" {
			return // finishFromLog will not ask
		}
		go func() {
			defer tr.Beside("log reports")()
			logReports <- textlog.FromRecords(log)
		}()
	}
	opened, err := kernel.Open(d, kernel.OpenOptions{AttachOptions: kernel.AttachOptions{
		Vmlinux: opts.Vmlinux, Discover: opts.Discover, DebuginfoDir: opts.DebuginfoDir,
		Fetch: opts.Fetch, WantDWARF: opts.WantDWARF, Names: opts.Names}, Trace: tr, OnLog: onLog})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", paths[0], err)
	}
	defer opened.Close()
	recs, err := opened.Log, opened.LogErr
	var damage *kernel.LogDamage
	switch {
	case errors.As(err, &damage):
		in.Warn(damage.Error()) // what was read is kept; the loss is named
	case err != nil:
		in.Warn("kernel log unreadable: " + err.Error())
	}
	in.Log = log // converted by onLog
	panicMsg := kernel.PanicMessage(recs)

	sys := &incident.System{}
	in.System = sys
	if vi := d.VMCoreInfo; vi != nil {
		sys.Release = vi.OSRelease()
		if t, ok := vi.CrashTime(); ok && plausible.Time(t) == nil {
			sys.CrashTime = &t // checked again, with a warning, by kernel.Sys
		}
	}
	k := opened.Kernel
	if k == nil {
		in.Warn("no kernel symbols, so no tasks or system facts: " + opened.KernelErr.Error())
		finishFromLog(in, panicMsg, logReports)
		return in, nil
	}
	sys.KernelSource = k.Source
	if k.Fetched != "" {
		sys.KernelSource += " (from " + k.Fetched + ")"
	}
	for _, w := range k.Warnings {
		in.Warn(w)
	}
	end := tr.Start("system")
	fillSystem(in, k)
	fillSysctls(in, k)
	end()
	end = tr.Start("tasks")
	tasks, err := k.Tasks()
	end()
	if err != nil {
		in.Warn("task list: " + err.Error())
	}
	cr := newContainerReader(k)
	end = tr.Start("task details and stacks")
	fillTasks(in, k, d, tasks, cr, tr)
	end()
	end = tr.Start("mounts")
	mounts, err := k.Mounts()
	end()
	if err == nil {
		for _, m := range mounts {
			in.Mounts = append(in.Mounts, incident.Mount{Device: m.Device, Path: m.Path, FSType: m.FSType, Frozen: m.Frozen})
		}
	} else {
		in.Warn("mount table: " + err.Error())
	}
	finishFromLog(in, panicMsg, logReports)
	end = tr.Start("waits and locks")
	fillWaits(in, k, tasks, mounts, cr)
	fillIOWaits(in, k, tasks)
	end()
	end = tr.Start("panic task")
	fillPanicTask(in, k, cr)
	end()
	return in, nil
}

// fillPanicTask names the task that was running on the panicking CPU and
// unwinds its stack from the registers the CPU saved.
func fillPanicTask(in *incident.Incident, k *kernel.Kernel, cr *containerReader) {
	if in.Panic == nil {
		return
	}
	cpu := k.PanicCPU()
	if cpu < 0 {
		return
	}
	t, frames, err := k.CPUBacktrace(cpu)
	if err != nil && len(frames) == 0 && t.Addr == 0 {
		in.Warn(fmt.Sprintf("panic CPU %d: %v", cpu, err))
		return
	}
	if len(frames) > 0 && cutByDump(err) {
		in.Warn(fmt.Sprintf("panic stack (CPU %d) ends early, after %d frames: %v", cpu, len(frames), err))
	}
	c, pid := cpu, t.PID
	in.Panic.CPU, in.Panic.PID, in.Panic.Comm = &c, &pid, t.Comm
	if r, ok := k.TaskStack(t); ok {
		in.Panic.TaskStack = &incident.AddrRange{Lo: r.Lo, Hi: r.Hi}
	}
	in.Panic.Container = cr.of(t)
	if len(frames) > 0 {
		in.Panic.Backtrace = toFrames(frames)
	}
}

func toLogRecords(recs []kernel.LogRecord) []incident.LogRecord {
	out := make([]incident.LogRecord, 0, len(recs))
	for i, r := range recs {
		if r.Legacy {
			for _, line := range strings.Split(string(r.Text), "\n") {
				if line != "" {
					out = append(out, incident.LogRecord{Level: -1, Text: line, Line: len(out) + 1})
				}
			}
			continue
		}
		ts := float64(r.TsNsec) / 1e9
		lr := incident.LogRecord{Time: &ts, Level: r.Level, Text: string(r.Text), Line: i + 1}
		if r.CallerID != 0 {
			if r.CallerID&0x80000000 != 0 {
				lr.Caller = fmt.Sprintf("C%d", r.CallerID&0x7fffffff)
			} else {
				lr.Caller = fmt.Sprintf("T%d", r.CallerID)
			}
		}
		out = append(out, lr)
	}
	return out
}

func fillSystem(in *incident.Incident, k *kernel.Kernel) {
	s, warns := k.Sys()
	for _, w := range warns {
		in.Warn("system facts: " + w)
	}
	sys := in.System
	sys.Release, sys.Version, sys.Nodename, sys.Machine = s.Release, s.Version, s.Nodename, s.Machine
	sys.CPUs, sys.MemoryBytes, sys.Tasks = s.CPUs, s.MemoryBytes, s.Tasks
	sys.UptimeSeconds = s.Uptime.Seconds()
	sys.LoadAverage = s.LoadAverage[:]
	if !s.CrashTime.IsZero() {
		t := s.CrashTime
		sys.CrashTime = &t
	}
}

func fillTasks(in *incident.Incident, k *kernel.Kernel, d *vmcore.Dump, tasks []kernel.Task, cr *containerReader, tr *phase.Recorder) {
	stack := func(t kernel.Task) []incident.Frame {
		defer tr.Start("stack")()
		return backtrace(in, k, t)
	}
	// The latest runqueue clock is the scheduler's reading of the crash
	// time: an idle CPU's clock stops while it sleeps (NO_HZ), so the
	// task's own CPU could understate how long it has waited.
	rqs, _ := k.RunQueues()
	var now uint64
	for _, rq := range rqs {
		now = max(now, rq.Clock)
	}
	for _, t := range tasks {
		if t.Active {
			in.ActiveTasks = append(in.ActiveTasks, incident.ActiveTask{CPU: t.CPU, PID: t.PID, Comm: t.Comm,
				Backtrace: stack(t), Container: cr.of(t)})
		}
		if t.State == kernel.StateUninterruptible {
			bt := incident.BlockedTask{PID: t.PID, Comm: t.Comm, State: "D", Backtrace: stack(t), Container: cr.of(t)}
			if now > 0 && t.LastArrival > 0 && now >= t.LastArrival {
				secs := float64(now-t.LastArrival) / 1e9
				bt.BlockedSeconds = &secs
				bt.BlockedFrom = fmt.Sprintf("sched_info.last_arrival %.3f s against the latest runqueue clock %.3f s",
					float64(t.LastArrival)/1e9, float64(now)/1e9)
			}
			in.BlockedTasks = append(in.BlockedTasks, bt)
		}
	}
}

// finishFromLog fills the panic from the log and the task that was running
// on the panicking CPU.
func finishFromLog(in *incident.Incident, panicMsg string, logReports <-chan textlog.Extracted) {
	if panicMsg == "" {
		return
	}
	p := &incident.Panic{Message: panicMsg}
	in.Panic = p
	reportsFromLog(in, <-logReports)
	if in.Title == "" {
		in.Title = p.Title
	}
	if p.Title == "" {
		p.Title = strings.TrimSpace(panicMsg)
	}
	if in.Title == "" {
		in.Title = p.Title
	}
}
