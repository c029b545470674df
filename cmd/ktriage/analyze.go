package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/report"
	"github.com/ktriage/ktriage/textlog"
	"github.com/ktriage/ktriage/vmcore"
)

func init() {
	addCommand(newAnalyzeCmd)
	loadLog = textlog.ParseFile
}

// dumpOptions are what a dump loader needs besides the dump's files.
type dumpOptions struct {
	Vmlinux      string
	DebuginfoDir string
	NoDebuginfo  bool
}

// loadDump turns a vmcore (all files of a split set) into an incident. The
// dump path registers it from its own file; while it is nil, analyze reads
// the companion vmcore-dmesg.txt of a kdump directory, or says what is missing.
var loadDump func(paths []string, opts dumpOptions) (*incident.Incident, error)

// loadLog turns a text log into an incident; a variable so tests can
// substitute it.
var loadLog func(path string) (*incident.Incident, error)

func newAnalyzeCmd() *cobra.Command {
	var (
		format, rulesDir, outFile string
		dopts                     dumpOptions
	)
	cmd := &cobra.Command{
		Use:   "analyze PATH [PATH.2 ...]",
		Short: "Tell why the kernel crashed: verdict, evidence, fix, from a vmcore, a kdump directory or a text log",
		Long: `Read a crash dump (ELF, kdump-compressed, flattened; give every file of a
split dump), a kdump directory, or a kernel text log (dmesg, vmcore-dmesg.txt,
/var/log/messages, kern.log, journalctl, console capture), run the rulebook
over it and write the incident report.

The rulebook is built in; --rules DIR adds a team's own YAML rules (a rule
with a built-in id replaces it). ` + "`ktriage rules check DIR`" + ` lints them.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !validFormat(format) {
				return fmt.Errorf("unknown --format %q (use %s)", format, strings.Join(report.Formats, ", "))
			}
			if outFile != "" {
				if err := checkOutputPath(outFile, args); err != nil {
					return err
				}
			}
			// A /var/crash tree or an archive of many crashes goes to the
			// batch runner (crashdir); one dump or log gets the full report.
			if handled, err := analyzeFleet(cmd, args, format, outFile, rulesDir); handled {
				return err
			}
			rb, err := loadRulebook(rulesDir)
			if err != nil {
				return err
			}
			in, err := loadIncident(args, dopts)
			if err != nil {
				return err
			}
			analyzers.Analyze(in, rb)

			out := cmd.OutOrStdout()
			color := false
			if outFile != "" {
				f, err := createOutput(outFile, args)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			} else if f, ok := out.(*os.File); ok && format == "text" {
				color = term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
			}
			if err := report.Write(out, in, format, report.Options{Color: color}); err != nil {
				return fmt.Errorf("writing the report: %w", err)
			}
			if c, ok := out.(io.Closer); ok && outFile != "" {
				return c.Close()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "report format: text, markdown, json or html")
	cmd.Flags().StringVar(&rulesDir, "rules", "", "folder of extra YAML rules (a team's own rulebook)")
	cmd.Flags().StringVarP(&outFile, "output", "o", "", "write the report to FILE instead of standard output")
	cmd.Flags().StringVar(&dopts.Vmlinux, "vmlinux", "", "debug vmlinux matching the dump (default: found by release in the distro debuginfo paths, else the dump's own kallsyms and BTF)")
	cmd.Flags().StringVar(&dopts.DebuginfoDir, "debuginfo-dir", "", "folder to search for the dump's debug vmlinux before the distro paths")
	cmd.Flags().BoolVar(&dopts.NoDebuginfo, "no-debuginfo", false, "do not look for a debug vmlinux: use the dump's own kallsyms and BTF")
	return cmd
}

func validFormat(f string) bool {
	for _, ok := range report.Formats {
		if f == ok {
			return true
		}
	}
	return f == "md"
}

// loadRulebook returns the built-in rules plus, when dir is set, a team's.
func loadRulebook(dir string) (*analyzers.Rulebook, error) {
	rb, err := analyzers.Builtin()
	if err != nil {
		return nil, fmt.Errorf("built-in rulebook is broken (a build problem): %w", err)
	}
	if dir == "" {
		return rb, nil
	}
	extra, err := analyzers.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("rules in %s have problems (run `ktriage rules check %s`):\n%w", dir, dir, err)
	}
	return rb.With(extra), nil
}

// loadIncident reads PATH (or a split dump's files) into an incident.
func loadIncident(paths []string, dopts dumpOptions) (*incident.Incident, error) {
	path := paths[0]
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return loadKdumpDir(path, dopts)
	}
	// A dump by its signature; anything else — including gzip/xz/zstd-
	// compressed logs — goes to the text-log reader.
	sniffed, err := vmcore.SniffFile(path)
	if err != nil {
		return nil, err
	}
	if sniffed.Kind.IsDump() {
		if loadDump == nil {
			return nil, fmt.Errorf("%s is a crash dump (%s), and this build of ktriage cannot analyze dumps yet; "+
				"run it on the dump's vmcore-dmesg.txt (or `ktriage dmesg %s > dmesg.txt` and analyze that)", path, sniffed.Kind, path)
		}
		return loadDump(paths, dopts)
	}
	if len(paths) > 1 {
		return nil, fmt.Errorf("%s is a text log: give one log at a time (several files are for split dumps)", path)
	}
	if loadLog == nil {
		return nil, fmt.Errorf("%s: this build of ktriage has no text-log reader", path)
	}
	return loadLog(path)
}

// loadKdumpDir analyzes a kdump directory (RHEL's 127.0.0.1-<date>/,
// Debian's <stamp>/): its vmcore when dumps can be read, else its text log.
func loadKdumpDir(dir string, dopts dumpOptions) (*incident.Incident, error) {
	var dumps []string
	for _, pattern := range []string{"vmcore", "vmcore.[0-9]*", "dump.[0-9]*"} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		dumps = append(dumps, m...)
	}
	sort.Strings(dumps)
	if len(dumps) > 0 && loadDump != nil {
		return loadDump(dumps, dopts)
	}
	for _, name := range []string{"vmcore-dmesg.txt", "dmesg.txt", "dmesg.makedumpfile.txt", "console.log"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil && loadLog != nil {
			in, err := loadLog(p)
			if err != nil {
				return nil, err
			}
			if len(dumps) > 0 {
				in.Warn(fmt.Sprintf("read %s: this build cannot analyze the dump %s itself, so tasks and stacks come from the log only", name, dumps[0]))
			}
			return in, nil
		}
	}
	if len(dumps) > 0 {
		return nil, fmt.Errorf("%s holds a dump (%s) but this build of ktriage cannot analyze dumps yet, and there is no vmcore-dmesg.txt beside it", dir, filepath.Base(dumps[0]))
	}
	return nil, fmt.Errorf("%s: no vmcore, dump.* or vmcore-dmesg.txt in this directory", dir)
}
