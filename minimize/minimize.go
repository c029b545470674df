// Package minimize writes a small kdump-compressed copy of a crash dump that
// holds only the pages a triage reads: the log, the tasks and their stacks,
// the structures the analyzers use, the page tables that reach them, and
// what the user asks to keep. ktriage and crash read the copy as they read
// the original, so it can be sent where a dump of gigabytes cannot.
//
// The pages are learned, not guessed: each reader runs on the source with
// the dump's page hook on (as internal/cutdump does for the fixtures), and
// every page it touched is kept with the name of the reader as its reason.
// The copy is written by internal/cutdump's Build, recompressed (zlib by
// default, which every crash reads), whatever the source's format.
package minimize

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/ktriage/ktriage/internal/cutdump"
	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/triage"
	"github.com/ktriage/ktriage/vmcore"
)

// Options say what to keep and how to write it.
type Options struct {
	// Attach names where names and types come from (a debug vmlinux,
	// discovery); the dump's own kallsyms and BTF are read as well, so the
	// copy triages with or without debuginfo.
	Attach kernel.AttachOptions
	// KeepTasks are PIDs whose task_struct and kernel stack are kept.
	KeepTasks []int
	// KeepSymbols are kernel symbols whose object is kept, for inspection
	// in crash later.
	KeepSymbols []string
	// Redact drops every page the kernel accounts as user memory, page
	// cache or free (makedumpfile -d 31's classes), even when a reader
	// touched it.
	Redact bool
	// Rename replaces task names and the hostname with neutral ones
	// (implies Redact).
	Rename bool
	// MaxSize, if positive, bounds the output: optional evidence is dropped
	// (least needed first) until it fits.
	MaxSize int64
	// Compression of the pages: "zlib" (default), "zstd" or "none".
	Compression string
	// Now is the clock for the manifest (tests fix it); nil: time.Now.
	Now func() time.Time
}

// Reasons a page is kept, in the order they are gathered; a page is
// credited to the first reader that touched it.
const (
	ReasonLog        = "log: the kernel log and VMCOREINFO's layout of it"
	ReasonTriage     = "triage: what ktriage analyze reads (system facts, tasks, D and active stacks, locks, mounts, settings)"
	ReasonDumpSyms   = "symbols: the dump's own kallsyms and BTF, for triage without a debug vmlinux"
	ReasonStacks     = "stacks: every task's and every CPU's backtrace (bt -a, foreach bt, ps)"
	ReasonKeepTask   = "--keep-task"
	ReasonKeepSymbol = "--keep-symbol"
)

// optional lists the reasons --max-size may drop, first dropped first.
var optional = []string{ReasonAllStacks, ReasonStacks, ReasonDumpSyms, ReasonKeepSymbol, ReasonKeepTask}

// Result is what Minimize wrote.
type Result struct {
	Out       string
	Size      int64
	InputSize int64
	Manifest  *Manifest
	Elapsed   time.Duration
}

// Minimize reads the dump of paths (one file, or every part of a split
// set) and writes the minimized copy to out, with its manifest beside it
// at out+".manifest.json" and inside it as a note.
func Minimize(paths []string, out string, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Compression == "" {
		opts.Compression = "zlib"
	}
	if opts.Rename {
		opts.Redact = true
	}
	packer, err := cutdump.NewPacker(opts.Compression)
	if err != nil {
		return nil, err
	}
	g := newGatherer()
	d, err := vmcore.OpenWith(vmcore.OpenOptions{PageHook: g.hook}, paths...)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	g.d = d
	if d.PageSize <= 0 {
		return nil, fmt.Errorf("%s: page size unknown (no VMCOREINFO): cannot lay out a kdump file", paths[0])
	}
	if d.VMCoreInfo == nil {
		return nil, fmt.Errorf("%s: %v: a minimized dump needs it to be read at all", paths[0], d.VMCoreInfoErr)
	}

	defer g.close()
	if err := g.gather(paths, opts); err != nil {
		return nil, err
	}
	g.stop() // what is kept is decided; later reads are the writer's

	m := newManifest(paths, d, opts)
	kept := g.pfns()
	var redactor *redactor
	if opts.Redact {
		redactor, err = newRedactor(d, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: redaction: %w", paths[0], err)
		}
		if kept, err = redactor.filter(kept, g.reason); err != nil {
			return nil, fmt.Errorf("%s: %w", paths[0], err)
		}
		if opts.Rename {
			redactor.rename(g.k, g.tasks)
		}
	}

	// Pack every page, then drop optional evidence until the budget holds.
	var packed []cutdump.Packed
	page := make([]byte, d.PageSize)
	absent := map[uint64]bool{}
	for _, pfn := range kept {
		if _, err := d.ReadPhys(page, pfn*uint64(d.PageSize)); err != nil {
			// A reader of the copy must find the page missing the way it
			// found it missing in the source: not RAM, filtered out, or
			// lost (listed, never written).
			switch {
			case errors.Is(err, vmcore.ErrNotPresent):
				absent[pfn] = true
			case errors.Is(err, vmcore.ErrExcluded):
			default:
				packed = append(packed, cutdump.Packed{PFN: pfn, Lost: true})
			}
			continue
		}
		if redactor != nil {
			redactor.rewrite(pfn, page)
		}
		packed = append(packed, packer.Pack(pfn, page))
	}
	img, err := g.image(packer.Status(), redactor)
	if err != nil {
		return nil, err
	}
	ram := img.RAM
	img.RAM = func(pfn uint64) bool { return ram(pfn) && !absent[pfn] }
	if opts.MaxSize > 0 {
		// The note area (with the manifest, which only shrinks as pages
		// are dropped) counts against the budget too.
		probe := *m
		probe.addRanges(packed, g.reason)
		if err := probe.embed(img, d); err != nil {
			return nil, err
		}
		packed = fitBudget(packed, g.reason, img, opts.MaxSize-int64(len(img.Notes)), m)
	}
	m.addRanges(packed, g.reason)
	m.Requests = g.requests
	if redactor != nil {
		redactor.sortDone()
		m.Redactions = append(m.Redactions, redactor.done...)
	}
	m.finish(opts)
	if err := m.embed(img, d); err != nil {
		return nil, err
	}
	size, err := cutdump.Build(out, img, packed)
	if err != nil {
		return nil, err
	}
	if opts.MaxSize > 0 && size > opts.MaxSize {
		m.Notes = append(m.Notes, fmt.Sprintf("the required pages alone take %d bytes, more than --max-size %d", size, opts.MaxSize))
	}
	if err := m.writeBeside(out); err != nil {
		return nil, err
	}
	var in int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			in += st.Size()
		}
	}
	return &Result{Out: out, Size: size, InputSize: in, Manifest: m, Elapsed: time.Since(start)}, nil
}

// gatherer runs each reader on the source with the page hook on.
type gatherer struct {
	mu      sync.Mutex // guards reason, request and stopped
	stopped bool       // the hook no longer records
	d       *vmcore.Dump
	reason  map[uint64]string
	cur     string
	sys     kernel.SysInfo
	// request collects the pages of one --keep-* request, whoever was
	// credited with them first.
	request  map[uint64]bool
	requests []Count
	opened   *kernel.Opened
	k        *kernel.Kernel // nil when no names and types were found
	tasks    []kernel.Task
}

func (g *gatherer) close() {
	if g.opened != nil {
		g.opened.Close()
	}
}

func newGatherer() *gatherer {
	return &gatherer{reason: map[uint64]string{}}
}

// hook records a page read from the dump (the dump's page hook).
func (g *gatherer) hook(pfn uint64) {
	// Readers read in parallel (symbols pages the dump's BTF in on
	// several goroutines).
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	if _, seen := g.reason[pfn]; !seen {
		g.reason[pfn] = g.cur
	}
	if g.request != nil {
		g.request[pfn] = true
	}
}

// stop ends the recording: later reads are not the triage's.
func (g *gatherer) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}

func (g *gatherer) pfns() []uint64 {
	out := make([]uint64, 0, len(g.reason))
	for p := range g.reason {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (g *gatherer) gather(paths []string, opts Options) error {
	g.cur = ReasonLog
	opened, err := kernel.Open(g.d, kernel.OpenOptions{LogOnly: true})
	if err != nil {
		return fmt.Errorf("%s: %w", paths[0], err)
	}
	opened.Close()

	g.cur = ReasonTriage
	a := opts.Attach
	if _, err := triage.LoadDump(paths, triage.Options{Vmlinux: a.Vmlinux, Discover: a.Discover,
		DebuginfoDir: a.DebuginfoDir, Fetch: a.Fetch, WantDWARF: a.WantDWARF, PageHook: g.hook}); err != nil {
		return fmt.Errorf("triage of %s: %w", paths[0], err)
	}
	if a.Vmlinux != "" || a.Discover || a.Fetch != nil {
		g.cur = ReasonDumpSyms
		if _, err := triage.LoadDump(paths, triage.Options{PageHook: g.hook}); err != nil {
			return fmt.Errorf("triage of %s without debuginfo: %w", paths[0], err)
		}
	}

	opened, err = kernel.Open(g.d, kernel.OpenOptions{AttachOptions: a})
	if err != nil {
		return fmt.Errorf("%s: %w", paths[0], err)
	}
	g.opened = opened
	k := opened.Kernel
	g.k = k
	if k == nil {
		// Only the log can be kept: no names, so no tasks or structures.
		if len(opts.KeepTasks)+len(opts.KeepSymbols) > 0 {
			return fmt.Errorf("%s: --keep-task and --keep-symbol need the kernel's names and types: %v", paths[0], opened.KernelErr)
		}
		return nil
	}
	g.sys, _ = k.Sys()
	g.cur = ReasonStacks
	tasks, _ := k.Tasks()
	g.tasks = tasks
	for _, t := range tasks {
		k.Backtrace(t)
	}
	for cpu := 0; cpu < k.NrCPUIDs(); cpu++ {
		k.CPUBacktrace(cpu)
	}

	g.keepForCrash(k, tasks)

	for _, pid := range opts.KeepTasks {
		if err := g.keepRequest(fmt.Sprintf("%s %d", ReasonKeepTask, pid), func() error { return keepTask(k, tasks, pid) }); err != nil {
			return err
		}
	}
	for _, name := range opts.KeepSymbols {
		if err := g.keepRequest(fmt.Sprintf("%s %s", ReasonKeepSymbol, name), func() error { return keepSymbol(k, name) }); err != nil {
			return err
		}
	}
	return nil
}

// keepRequest runs one --keep-* reader and counts every page it touched.
func (g *gatherer) keepRequest(what string, read func() error) error {
	g.cur, g.request = what, map[uint64]bool{}
	defer func() { g.request = nil }()
	if err := read(); err != nil {
		return err
	}
	g.requests = append(g.requests, Count{what, len(g.request)})
	return nil
}

// keepTask reads the task_struct and the kernel stack of pid.
func keepTask(k *kernel.Kernel, tasks []kernel.Task, pid int) error {
	found := false
	for _, t := range tasks {
		if t.PID != pid {
			continue
		}
		found = true
		size, err := k.Types.StructSize("task_struct")
		if err != nil {
			return fmt.Errorf("--keep-task %d: task_struct size: %w", pid, err)
		}
		readRange(k, t.Addr, size)
		if r, ok := k.TaskStack(t); ok {
			readRange(k, r.Lo, r.Hi-r.Lo)
		}
	}
	if !found {
		return fmt.Errorf("--keep-task %d: no task with that PID in the dump's task list", pid)
	}
	return nil
}

// keepSymbol reads the object a kernel symbol names, as long as the
// symbol table says it is (a variable's type size when it has one).
func keepSymbol(k *kernel.Kernel, name string) error {
	addr, err := k.Addr(name)
	if err != nil {
		return fmt.Errorf("--keep-symbol %s: %w", name, err)
	}
	size := uint64(0)
	if _, _, sz, ok := k.Syms.Symbolize(addr); ok {
		size = sz
	}
	if size == 0 {
		size = 1
	}
	if size > 64<<20 {
		return fmt.Errorf("--keep-symbol %s: %d bytes is more than a structure to inspect", name, size)
	}
	if !readRange(k, addr, size) {
		return fmt.Errorf("--keep-symbol %s: %#x+%d is not readable in the dump", name, addr, size)
	}
	return nil
}

// readRange reads [addr, addr+size) page by page, so the hook sees every
// page (and the page tables translating it); false when nothing read.
func readRange(k *kernel.Kernel, addr, size uint64) bool {
	any := false
	buf := make([]byte, 1)
	for a := addr &^ 0xfff; a < addr+size; a += 0x1000 {
		at := max(a, addr)
		if k.Read(buf, at) == nil {
			any = true
		}
	}
	return any
}

// image is the header of the copy: the source's facts, its notes.
func (g *gatherer) image(status uint32, r *redactor) (*cutdump.Image, error) {
	d := g.d
	uts := d.Uts
	// ELF cores carry no utsname, QEMU leaves it empty: the kernel's own.
	if uts.Release == "" {
		s := g.sys
		uts = vmcore.Utsname{Sysname: "Linux", Nodename: s.Nodename, Release: s.Release, Version: s.Version,
			Machine: s.Machine, Domainname: "(none)"}
		if uts.Release == "" {
			uts.Release = d.VMCoreInfo.OSRelease()
		}
	}
	if uts.Machine == "" {
		uts.Machine = "x86_64"
	}
	if r != nil {
		uts.Nodename = r.hostname(uts.Nodename)
	}
	img := &cutdump.Image{
		Uts:        uts,
		Time:       d.HeaderTime,
		BlockSize:  d.PageSize,
		MaxMapnr:   d.MaxPFN(),
		NrCPUs:     d.NrCPUs,
		CurrentCPU: d.PanicCPU,
		PhysBase:   d.PhysBase,
		DumpLevel:  max(d.DumpLevel, 0),
		Status:     status,
		Incomplete: d.Incomplete,
		RAM:        ramOf(d),
	}
	return img, nil
}

// ramOf says which pfns are RAM: the source's first bitmap, or its ELF
// load segments.
func ramOf(d *vmcore.Dump) func(uint64) bool {
	f := d.ELF()
	if f == nil {
		return d.InRAM
	}
	ps := uint64(d.PageSize)
	return func(pfn uint64) bool {
		a := pfn * ps
		for _, s := range f.Loads {
			if a >= s.PAddr && a < s.PAddr+s.MemSize {
				return true
			}
		}
		return false
	}
}
