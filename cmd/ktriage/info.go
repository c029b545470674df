package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/internal/plausible"
	"github.com/ktriage/ktriage/vmcore"
)

func init() { addCommand("info", newInfoCmd) }

// dumpInfo is what a user needs to judge a dump before analysing it.
type dumpInfo struct {
	Files []string `json:"files"`
	// UnpackedFrom names the archive Files were unpacked from.
	UnpackedFrom []string          `json:"unpacked_from,omitempty"`
	Format       string            `json:"format"`
	Compression  string            `json:"compression"`
	Flattened    bool              `json:"flattened"`
	Split        bool              `json:"split"`
	Incomplete   bool              `json:"incomplete"`
	WrittenBy    string            `json:"written_by,omitempty"`
	PageSize     int64             `json:"page_size"`
	DumpLevel    *int              `json:"dump_level,omitempty"`
	Pages        vmcore.PageCounts `json:"pages"`
	Release      string            `json:"release,omitempty"`
	BuildID      string            `json:"build_id,omitempty"`
	CrashTime    *time.Time        `json:"crash_time,omitempty"`
	CPUs         int               `json:"cpus"`
	// HeaderCPU is the kdump header's current_cpu. It is not the panic CPU:
	// makedumpfile has written 0 for a panic on CPU 1 and QEMU always
	// writes 0; bt and analyze read the kernel's panic_cpu instead.
	HeaderCPU     *int           `json:"header_current_cpu,omitempty"`
	HasVMCoreInfo bool           `json:"has_vmcoreinfo"`
	VMCoreInfoErr string         `json:"vmcoreinfo_error,omitempty"`
	KernelOffset  string         `json:"kernel_offset,omitempty"`
	PhysBase      string         `json:"phys_base,omitempty"`
	Notes         map[string]int `json:"notes"`
	CPURegisters  []cpuRegs      `json:"cpu_registers,omitempty"`
	// Warnings name values the dump holds that cannot be true.
	Warnings []string `json:"warnings,omitempty"`
}

type cpuRegs struct {
	CPU int `json:"cpu"`
	// PID is the task the note names: the kernel saves the running task's
	// pid (0 on an idle CPU); QEMU writes the vCPU's index + 1, so it is
	// left out (nil).
	PID *int32 `json:"pid,omitempty"`
	RIP string `json:"rip"`
	RSP string `json:"rsp"`
	RBP string `json:"rbp"`
	CS  string `json:"cs"`
}

func newInfoCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "info DUMP [DUMP.2 ...]",
		Example: `  ktriage info vmcore
  ktriage info vmcore.1 vmcore.2 --format json`,
		Short: "Describe a dump: format, compression, pages present/excluded/lost, release, CPUs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" && format != "" {
				return fmt.Errorf("unknown --format %q (text or json)", format)
			}
			d, in, err := openDump(cmd, args)
			if err != nil {
				return err
			}
			defer d.Close()
			info := collectInfo(d)
			if in.Unpacked {
				info.UnpackedFrom = in.Named
			}
			switch format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			case "text", "":
				return writeSafe(cmd.OutOrStdout(), func(w io.Writer) { printInfo(w, info) })
			}
			return fmt.Errorf("unknown --format %q (text or json)", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func collectInfo(d *vmcore.Dump) dumpInfo {
	info := dumpInfo{
		Files: d.Paths, Format: d.Format.String(), Compression: d.Compression, Flattened: d.Flattened,
		Split: d.Split, Incomplete: d.Incomplete, PageSize: d.PageSize,
		HasVMCoreInfo: d.VMCoreInfo != nil, Notes: map[string]int{},
	}
	var err error
	if info.Pages, err = d.Pages(); err != nil {
		info.Warnings = append(info.Warnings, "page counts leave out the pages of unreadable bitmap blocks: "+err.Error())
	}
	if d.DumpLevel >= 0 {
		lvl := d.DumpLevel
		info.DumpLevel = &lvl
	}
	if d.HasQEMUNotes() {
		info.WrittenBy = "QEMU dump-guest-memory"
	} else if d.Format == vmcore.FormatKdump {
		info.WrittenBy = "makedumpfile"
	}
	if d.VMCoreInfoErr != nil {
		info.VMCoreInfoErr = d.VMCoreInfoErr.Error()
	}
	info.Warnings = append(info.Warnings, d.Warnings...)
	info.Release = d.Uts.Release
	if vi := d.VMCoreInfo; vi != nil {
		if r := vi.OSRelease(); r != "" {
			info.Release = r
		}
		info.BuildID = vi.BuildID()
		if t, ok := vi.CrashTime(); ok {
			if err := plausible.Time(t); err != nil {
				info.Warnings = append(info.Warnings, "VMCOREINFO CRASHTIME not used: "+err.Error())
			} else {
				info.CrashTime = &t
			}
		}
		if ko, ok := vi.KernelOffset(); ok {
			info.KernelOffset = fmt.Sprintf("%#x", ko)
		}
	}
	if info.CrashTime == nil && !d.HeaderTime.IsZero() && plausible.Time(d.HeaderTime) == nil {
		t := d.HeaderTime
		info.CrashTime = &t
	}
	info.PhysBase = fmt.Sprintf("%#x", d.PhysBase)
	for _, n := range d.Notes {
		info.Notes[noteLabel(n)]++
	}
	regs := d.PRStatus()
	info.CPUs = max(d.NrCPUs, len(regs))
	qemu := d.HasQEMUNotes()
	if d.PanicCPU >= 0 && d.Format == vmcore.FormatKdump && !qemu {
		c := d.PanicCPU
		info.HeaderCPU = &c
	}
	for i, ps := range regs {
		var pid *int32
		if !qemu {
			p := ps.PID
			pid = &p
		}
		info.CPURegisters = append(info.CPURegisters, cpuRegs{CPU: i, PID: pid,
			RIP: fmt.Sprintf("%#016x", ps.Regs.RIP), RSP: fmt.Sprintf("%#016x", ps.Regs.RSP),
			RBP: fmt.Sprintf("%#016x", ps.Regs.RBP), CS: fmt.Sprintf("%#x", ps.Regs.CS)})
	}
	return info
}

func noteLabel(n vmcore.Note) string {
	switch {
	case n.Name == "CORE" && n.Type == 1:
		return "CORE/NT_PRSTATUS"
	case n.Name == "VMCOREINFO":
		return "VMCOREINFO"
	case n.Name == "QEMU":
		return "QEMU/cpu-state"
	}
	return fmt.Sprintf("%s/%d", n.Name, n.Type)
}

func printInfo(w io.Writer, in dumpInfo) {
	row := func(k, v string) { fmt.Fprintf(w, "%14s: %s\n", k, v) }
	row("FILES", strings.Join(in.Files, " "))
	if len(in.UnpackedFrom) > 0 {
		row("UNPACKED FROM", strings.Join(in.UnpackedFrom, " "))
	}
	f := in.Format
	if in.Flattened {
		f += ", flattened"
	}
	if in.Split {
		if len(in.Files) == 1 {
			f += ", one part of a split dump"
		} else {
			f += fmt.Sprintf(", split in %d files", len(in.Files))
		}
	}
	if in.WrittenBy != "" {
		f += " (written by " + in.WrittenBy + ")"
	}
	row("FORMAT", f)
	row("COMPRESSION", in.Compression)
	row("PAGE SIZE", fmt.Sprint(in.PageSize))
	if in.DumpLevel != nil {
		row("DUMP LEVEL", fmt.Sprintf("%d (makedumpfile -d)", *in.DumpLevel))
	}
	p := in.Pages
	pages := fmt.Sprintf("%d present, %d excluded by filtering, %d lost, of %d RAM pages (%s)",
		p.Present, p.Excluded, p.Lost, p.Total, humanBytes(p.Total*uint64(in.PageSize)))
	if p.Unread > 0 {
		pages += fmt.Sprintf("; %d pfns not counted: their bitmap blocks could not be read (WARNING below)", p.Unread)
	}
	row("PAGES", pages)
	status := "complete"
	if in.Incomplete {
		status = "INCOMPLETE: the capture did not finish; pages it did not write are reported as lost"
	}
	row("STATUS", status)
	row("RELEASE", orUnknown(in.Release))
	if in.BuildID != "" {
		row("BUILD-ID", in.BuildID)
	}
	if in.CrashTime != nil {
		row("CRASH TIME", in.CrashTime.UTC().Format("Mon Jan _2 15:04:05 UTC 2006"))
	}
	row("CPUS", fmt.Sprint(in.CPUs))
	if in.HeaderCPU != nil {
		row("HEADER CPU", fmt.Sprintf("%d (the dump header's current_cpu, often 0 whichever CPU panicked: `ktriage bt` names the panic CPU)", *in.HeaderCPU))
	}
	if in.HasVMCoreInfo {
		row("VMCOREINFO", "present")
	} else {
		row("VMCOREINFO", "ABSENT: "+in.VMCoreInfoErr)
	}
	if in.KernelOffset != "" {
		row("KASLR OFFSET", in.KernelOffset)
	}
	row("PHYS BASE", in.PhysBase)
	var notes []string
	for k, v := range in.Notes {
		notes = append(notes, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(notes)
	row("NOTES", strings.Join(notes, ", "))
	for _, r := range in.CPURegisters {
		pid := "-"
		if r.PID != nil {
			pid = fmt.Sprint(*r.PID)
		}
		fmt.Fprintf(w, "%14s: pid %-6s RIP %s RSP %s RBP %s\n", fmt.Sprintf("CPU %d", r.CPU), pid, r.RIP, r.RSP, r.RBP)
	}
	for _, warn := range in.Warnings {
		row("WARNING", warn)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
