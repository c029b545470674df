package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/internal/termsafe"
	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/minimize"
)

func init() { addCommand("minimize", newMinimizeCmd) }

func newMinimizeCmd() *cobra.Command {
	var f dumpFlags
	var out string
	var opts minimize.Options
	var maxSize string
	cmd := &cobra.Command{
		Use:   "minimize DUMP… -o OUT",
		Short: "write a small kdump-compressed copy of a dump holding only the pages a triage reads",
		Long: `minimize writes a kdump-compressed file (version 6 header, VMCOREINFO, the
CPUs' saved registers, zlib pages) holding only what a triage reads: the
log, the tasks and their stacks, the structures the analyzers use, what crash
reads when it opens a dump, and the page tables that reach them. ktriage and
crash read it as they read the original; it is a few MB where the dump is
gigabytes. Every input format is taken (ELF, kdump with any compression,
flattened, split); the copy is always kdump-compressed.

A manifest lists every kept page range with the reason it was kept: it is
written beside the copy as OUT.manifest.json and carried inside it as an ELF
note named KTRIAGE.

--redact leaves out every page the kernel accounts as user memory, page
cache or free memory (makedumpfile -d 31's classes, read from each page's
struct page), even one a reader touched, and lists each in the manifest. A
dump without its memory map cannot be judged that way, and --redact refuses
it. --rename (implies --redact) also rewrites every task's name to task-PID
and the hostname to "redacted"; names quoted in the kernel log stay. --max-size drops optional evidence (every task's
stack, then the dump's own kallsyms and BTF, then --keep-symbol and
--keep-task pages) until the copy fits, and the manifest says what went.`,
		Example: `  ktriage minimize /var/crash/127.0.0.1-2026-11-20-10:23:45/vmcore -o small.vmcore
  ktriage minimize vmcore.1 vmcore.2 -o small.vmcore --redact --keep-task 1234
  ktriage minimize vmcore -o small.vmcore --keep-symbol jiffies --max-size 4M
  crash vmlinux small.vmcore`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("minimize: -o OUT is required")
			}
			if f.format != "text" && f.format != "json" {
				return fmt.Errorf("unknown --format %q (text or json)", f.format)
			}
			if maxSize != "" {
				n, err := parseSize(maxSize)
				if err != nil {
					return fmt.Errorf("--max-size %s: %w", maxSize, err)
				}
				opts.MaxSize = n
			}
			r, err := resolveInputs(cmd, args, needDump)
			if err != nil {
				return err
			}
			r.printNotes(cmd)
			if err := checkOutputPath(out, append(append([]string{}, args...), r.Dumps...)); err != nil {
				return err
			}
			opts.Attach = kernel.AttachOptions{Vmlinux: f.vmlinux, Discover: !f.noDebuginfo, DebuginfoDir: f.debuginfoDir}
			if !f.noDebuginfo {
				c, err := f.fetch.client(cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				opts.Attach.Fetch, opts.Attach.WantDWARF = c, f.fetch.dwarf
			}
			res, err := minimize.Minimize(r.Dumps, out, opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if f.format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"output": res.Out, "size": res.Size, "input_size": res.InputSize,
					"seconds": res.Elapsed.Seconds(), "manifest": res.Manifest})
			}
			fmt.Fprint(termsafe.NewWriter(w), minimizeSummary(res))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "the minimized dump to write (its manifest goes to OUT.manifest.json)")
	cmd.Flags().IntSliceVar(&opts.KeepTasks, "keep-task", nil, "also keep this task's task_struct and kernel stack (PID; repeatable)")
	cmd.Flags().StringSliceVar(&opts.KeepSymbols, "keep-symbol", nil, "also keep the object this kernel symbol names (repeatable)")
	cmd.Flags().BoolVar(&opts.Redact, "redact", false, "leave out user memory, page cache and free pages even where a reader touched them")
	cmd.Flags().BoolVar(&opts.Rename, "rename", false, "with --redact: replace task names and the hostname")
	cmd.Flags().StringVar(&maxSize, "max-size", "", "size budget (e.g. 5M): drop optional evidence until the copy fits")
	cmd.Flags().StringVar(&opts.Compression, "compress", "zlib", "page compression: zlib (every crash reads it), zstd (crash 8.0.3+) or none")
	return cmd
}

func minimizeSummary(res *minimize.Result) string {
	m := res.Manifest
	s := fmt.Sprintf("%s: %s, %d pages, %.1f%% of the input's %s, written in %.1f s\n",
		res.Out, humanBytes(uint64(res.Size)), m.Pages, 100*float64(res.Size)/float64(max(res.InputSize, 1)),
		humanBytes(uint64(res.InputSize)), res.Elapsed.Seconds())
	s += "kept:\n"
	for _, c := range m.Reasons {
		s += fmt.Sprintf("  %6d pages  %s\n", c.Pages, c.Reason)
	}
	for _, c := range m.Dropped {
		s += fmt.Sprintf("dropped for --max-size: %d pages of %s\n", c.Pages, c.Reason)
	}
	if len(m.Redactions) > 0 {
		s += fmt.Sprintf("redacted: %d pages left out or rewritten (see the manifest)\n", len(m.Redactions))
	}
	for _, n := range m.Notes {
		s += "note: " + n + "\n"
	}
	s += fmt.Sprintf("manifest: %s.manifest.json (also inside the dump as the %s note)\n", res.Out, minimize.ManifestNote)
	return s
}

// parseSize reads a byte count with an optional K, M or G suffix (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a size: give bytes, or a number with K, M or G")
	}
	return int64(n * float64(mult)), nil
}
