// Package cutdump cuts a real kdump-compressed crash dump down to the pages
// ktriage reads, so the project can carry small real fixtures. It runs a
// reader workload with a page hook to learn which pfns are needed, then
// writes a new kdump-compressed file (optionally flattened, split or marked
// incomplete) holding only those pages, their compressed bytes copied
// verbatim: an LZO dump stays LZO, a zstd dump stays zstd. Build writes a
// kdump-compressed file from scratch instead (a fresh header, recompressed
// pages), for sources of any format: `ktriage minimize` uses it.
package cutdump

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/vmcore"
)

// Reads says how much of ktriage's reading a fixture must support.
type Reads int

const (
	// ReadDmesg: the kernel log from VMCOREINFO alone (`ktriage dmesg`).
	ReadDmesg Reads = iota
	// ReadSys adds kallsyms and BTF from the dump, `ktriage sys` and the
	// task list (a few MB, mostly BTF).
	ReadSys
	// ReadStacks adds every task's and every CPU's backtrace (`ktriage bt`):
	// stacks and the pages of the kernel's ORC table the searches touch.
	ReadStacks
)

// Workload is what a reader computed from a dump, and the pages it touched.
type Workload struct {
	Reads    Reads
	Dmesg    []byte // the kernel log as `ktriage dmesg` prints it
	Sys      kernel.SysInfo
	Warnings []string // Sys warnings
	Tasks    int      // threads listed by Tasks()
	// Stacks holds every task's backtrace and every CPU's (as bt --all
	// unwinds it), one line per frame, keyed by "pid@task" or "cpuN".
	Stacks map[string]string
	PFNs   []uint64 // every pfn read, sorted, without repeats
}

// Run opens the dump of paths (every part of a split set) and reads it the
// way `ktriage dmesg` does and, as reads asks, the way `ktriage sys` and
// `ktriage bt` do (kallsyms and BTF from the dump, the task list, stacks),
// recording every pfn read. Any failure is an
// error: a fixture meant to carry facts it cannot give is useless.
func Run(paths []string, reads Reads) (*Workload, error) {
	return RunWith(paths, reads, kernel.AttachOptions{})
}

// RunWith is Run with names and types from where attach says (a debug
// vmlinux or debuginfo pack, for kernels whose dumps carry no kallsyms or
// BTF).
func RunWith(paths []string, reads Reads, attach kernel.AttachOptions) (*Workload, error) {
	seen := map[uint64]bool{}
	var mu sync.Mutex // readers read pages on several goroutines
	d, err := vmcore.OpenWith(vmcore.OpenOptions{PageHook: func(pfn uint64) {
		mu.Lock()
		seen[pfn] = true
		mu.Unlock()
	}}, paths...)
	if err != nil {
		return nil, err
	}
	defer d.Close()

	w := &Workload{Reads: reads}
	opened, err := kernel.Open(d, kernel.OpenOptions{AttachOptions: attach, LogOnly: reads < ReadSys})
	if err != nil {
		return nil, err
	}
	defer opened.Close()
	recs := opened.Log
	if err := opened.LogErr; err != nil {
		return nil, fmt.Errorf("kernel log: %w", err)
	}
	var buf bytes.Buffer
	if err := kernel.WriteDmesg(&buf, recs); err != nil {
		return nil, err
	}
	w.Dmesg = buf.Bytes()
	if reads >= ReadSys {
		if opened.Kernel == nil {
			return nil, fmt.Errorf("attach: %w", opened.KernelErr)
		}
		if err := w.readKernel(opened.Kernel, reads); err != nil {
			return nil, err
		}
	}
	for pfn := range seen {
		w.PFNs = append(w.PFNs, pfn)
	}
	sort.Slice(w.PFNs, func(i, j int) bool { return w.PFNs[i] < w.PFNs[j] })
	return w, nil
}

// readKernel attaches the dump's kallsyms and BTF and reads what sys,
// ps and (for ReadStacks) bt read.
func (w *Workload) readKernel(k *kernel.Kernel, reads Reads) error {
	w.Sys, w.Warnings = k.Sys()
	tasks, err := k.Tasks()
	if err != nil {
		return fmt.Errorf("tasks: %w", err)
	}
	w.Tasks = len(tasks)
	if reads < ReadStacks {
		return nil
	}
	w.Stacks = map[string]string{}
	for _, t := range tasks {
		frames, err := k.Backtrace(t)
		w.Stacks[fmt.Sprintf("%d@%#x", t.PID, t.Addr)] = framesText(frames, err)
	}
	for cpu := 0; cpu < k.NrCPUIDs(); cpu++ {
		t, frames, err := k.CPUBacktrace(cpu)
		w.Stacks[fmt.Sprintf("cpu%d %d@%#x", cpu, t.PID, t.Addr)] = framesText(frames, err)
		// The call before each return address: the evidence the old-kernel
		// tests read where crash leaves a frame out.
		var call [7]byte
		for _, f := range frames {
			if !f.Interrupted && f.Function != "" {
				_ = k.Read(call[:], f.PC-uint64(len(call)))
			}
		}
	}
	// The mount table too: analyze names the frozen mount from it.
	mounts, err := k.Mounts()
	w.Stacks["mounts"] = fmt.Sprintf("%+v %v", mounts, err)
	return nil
}

func framesText(frames []kernel.Frame, err error) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "%#x %#x %s+%#x %s %s %v\n", f.SP, f.PC, f.Function, f.Offset, f.Module, f.Stack, f.Reliable)
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

// Same reports how a workload on a cut dump differs from the one on its
// source, or "" when they agree on everything a fixture test checks.
func (w *Workload) Same(src *Workload) string {
	if !bytes.Equal(w.Dmesg, src.Dmesg) {
		return fmt.Sprintf("dmesg differs (%d bytes, source %d)", len(w.Dmesg), len(src.Dmesg))
	}
	if w.Reads != src.Reads {
		return "the workloads read different things"
	}
	if w.Reads < ReadSys {
		return ""
	}
	a, b := w.Sys, src.Sys
	if !a.CrashTime.Equal(b.CrashTime) {
		return fmt.Sprintf("crash time %v, source %v", a.CrashTime, b.CrashTime)
	}
	a.CrashTime = b.CrashTime // compared above with Equal (monotonic and location may differ)
	if a != b {
		return fmt.Sprintf("sys facts differ:\n cut    %+v\n source %+v", a, b)
	}
	if w.Tasks != src.Tasks {
		return fmt.Sprintf("%d tasks, source %d", w.Tasks, src.Tasks)
	}
	if len(w.Stacks) != len(src.Stacks) {
		return fmt.Sprintf("%d stacks, source %d", len(w.Stacks), len(src.Stacks))
	}
	for key, want := range src.Stacks {
		if got := w.Stacks[key]; got != want {
			return fmt.Sprintf("stack of %s differs:\n cut:\n%s source:\n%s", key, got, want)
		}
	}
	if strings.Join(w.Warnings, "\n") != strings.Join(src.Warnings, "\n") {
		return fmt.Sprintf("sys warnings differ: %q, source %q", w.Warnings, src.Warnings)
	}
	return ""
}
