package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/internal/crashfmt"
	"github.com/ktriage/ktriage/kernel"
)

func init() { addCommand("sys", newSysCmd) }

type sysJSON struct {
	Kernel        string     `json:"kernel"`
	Dumpfile      string     `json:"dumpfile"`
	CPUs          int        `json:"cpus"`
	OfflineCPUs   int        `json:"offline_cpus,omitempty"`
	CrashTime     *time.Time `json:"crash_time,omitempty"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	LoadAverage   []float64  `json:"load_average"`
	Tasks         int        `json:"tasks"`
	Nodename      string     `json:"nodename"`
	Release       string     `json:"release"`
	Version       string     `json:"version"`
	Machine       string     `json:"machine"`
	MemoryBytes   uint64     `json:"memory_bytes"`
	Panic         string     `json:"panic,omitempty"`
	Warnings      []string   `json:"warnings,omitempty"`
}

func newSysCmd() *cobra.Command {
	var fl dumpFlags
	cmd := &cobra.Command{
		Use: "sys DUMP [DUMP.2 ...]",
		Example: `  ktriage sys vmcore
  ktriage sys --format json /var/crash/127.0.0.1-2026-11-20-10:23:45`,
		Short: "System facts of the crashed kernel, as crash's sys prints them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, opened, err := fl.openKernel(cmd, args)
			if err != nil {
				return err
			}
			defer d.Close()
			defer opened.Close()
			k := opened.Kernel
			s, warns := k.Sys()
			panicMsg := ""
			recs, err := opened.Log, opened.LogErr
			if err != nil {
				warns = append(warns, "log: "+err.Error())
			}
			panicMsg = kernel.PanicMessage(recs)
			out := sysJSON{Kernel: k.Source, Dumpfile: strings.Join(d.Paths, " "), CPUs: s.CPUs, OfflineCPUs: s.OfflineCPUs,
				UptimeSeconds: s.Uptime.Seconds(), LoadAverage: s.LoadAverage[:], Tasks: s.Tasks, Nodename: s.Nodename,
				Release: s.Release, Version: s.Version, Machine: s.Machine, MemoryBytes: s.MemoryBytes, Panic: panicMsg, Warnings: warns}
			if !s.CrashTime.IsZero() {
				out.CrashTime = &s.CrashTime
			}
			switch fl.format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			case "text", "":
				partial, err := d.HasExcluded()
				if err != nil {
					// [PARTIAL DUMP] is then unknown past the block that failed.
					out.Warnings = append(out.Warnings, "dump page counts: "+err.Error())
				}
				return writeSafe(cmd.OutOrStdout(), func(w io.Writer) { printSys(w, out, partial, d.Paths) })
			}
			return fmt.Errorf("unknown --format %q (text or json)", fl.format)
		},
	}
	fl.register(cmd)
	return cmd
}

func printSys(w io.Writer, s sysJSON, partial bool, files []string) {
	row := func(k, v string) { fmt.Fprintf(w, "%12s: %s\n", k, v) }
	row("KERNEL", s.Kernel)
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	df := strings.Join(names, " ")
	if partial {
		df += "  [PARTIAL DUMP]"
	}
	row("DUMPFILE", df)
	cpus := fmt.Sprint(s.CPUs)
	if s.OfflineCPUs > 0 {
		cpus += fmt.Sprintf(" [OFFLINE: %d]", s.OfflineCPUs)
	}
	row("CPUS", cpus)
	if s.CrashTime != nil {
		row("DATE", s.CrashTime.UTC().Format("Mon Jan _2 15:04:05 UTC 2006"))
	}
	row("UPTIME", crashfmt.Uptime(time.Duration(s.UptimeSeconds*float64(time.Second))))
	row("LOAD AVERAGE", fmt.Sprintf("%.2f, %.2f, %.2f", s.LoadAverage[0], s.LoadAverage[1], s.LoadAverage[2]))
	row("TASKS", fmt.Sprint(s.Tasks))
	row("NODENAME", s.Nodename)
	row("RELEASE", s.Release)
	row("VERSION", s.Version)
	row("MACHINE", s.Machine)
	row("MEMORY", crashfmt.Memory(s.MemoryBytes))
	if s.Panic != "" {
		row("PANIC", kernel.SysPanicField(s.Panic))
	}
	for _, wmsg := range s.Warnings {
		fmt.Fprintf(w, "%12s: %s\n", "WARNING", wmsg)
	}
}
