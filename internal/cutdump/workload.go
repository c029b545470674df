// Package cutdump cuts a real kdump-compressed crash dump down to the pages
// ktriage reads, so the project can carry small real fixtures. It runs a
// reader workload with a page hook to learn which pfns are needed, then
// writes a new kdump-compressed file (optionally flattened, split or marked
// incomplete) holding only those pages, their compressed bytes copied
// verbatim: an LZO dump stays LZO, a zstd dump stays zstd.
package cutdump

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/vmcore"
)

// Workload is what a reader computed from a dump, and the pages it touched.
type Workload struct {
	Dmesg []byte // the kernel log as `ktriage dmesg` prints it
	// Full is set when kallsyms+BTF attached and Sys/Tasks ran.
	Full     bool
	Sys      kernel.SysInfo
	Warnings []string // Sys warnings
	Tasks    int      // threads listed by Tasks()
	PFNs     []uint64 // every pfn read, sorted, without repeats
}

// Run reads the dump the way `ktriage dmesg` does and, when full is set,
// also the way `ktriage sys` does (kallsyms and BTF from the dump, the task
// list), recording every pfn read. A failure of the dmesg path is an
// error; a failure of the full path is too, since a fixture meant to carry
// Sys facts without them would be useless.
func Run(d *vmcore.Dump, full bool) (*Workload, error) {
	seen := map[uint64]bool{}
	prev := d.PageHook
	d.PageHook = func(pfn uint64) { seen[pfn] = true }
	defer func() { d.PageHook = prev }()

	w := &Workload{}
	as, err := kernel.NewAddressSpace(d)
	if err != nil {
		return nil, err
	}
	recs, err := kernel.ReadLog(as, d.VMCoreInfo)
	if err != nil {
		return nil, fmt.Errorf("kernel log: %w", err)
	}
	var buf bytes.Buffer
	if err := kernel.WriteDmesg(&buf, recs); err != nil {
		return nil, err
	}
	w.Dmesg = buf.Bytes()
	if full {
		k, err := kernel.Attach(d, kernel.AttachOptions{})
		if err != nil {
			return nil, fmt.Errorf("attach (kallsyms+BTF from the dump): %w", err)
		}
		w.Sys, w.Warnings = k.Sys()
		tasks, err := k.Tasks()
		if err != nil {
			return nil, fmt.Errorf("tasks: %w", err)
		}
		w.Tasks = len(tasks)
		w.Full = true
	}
	for pfn := range seen {
		w.PFNs = append(w.PFNs, pfn)
	}
	sort.Slice(w.PFNs, func(i, j int) bool { return w.PFNs[i] < w.PFNs[j] })
	return w, nil
}

// Same reports how a workload on a cut dump differs from the one on its
// source, or "" when they agree on everything a fixture test checks.
func (w *Workload) Same(src *Workload) string {
	if !bytes.Equal(w.Dmesg, src.Dmesg) {
		return fmt.Sprintf("dmesg differs (%d bytes, source %d)", len(w.Dmesg), len(src.Dmesg))
	}
	if w.Full != src.Full {
		return "one workload attached kallsyms+BTF, the other did not"
	}
	if !w.Full {
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
	if strings.Join(w.Warnings, "\n") != strings.Join(src.Warnings, "\n") {
		return fmt.Sprintf("sys warnings differ: %q, source %q", w.Warnings, src.Warnings)
	}
	return ""
}
