package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/report"
	"github.com/ktriage/ktriage/textlog"
)

func init() {
	addCommand("analyze", newAnalyzeCmd)
	loadLog = textlog.ParseFile
}

// dumpOptions are what a dump loader needs besides the dump's files.
type dumpOptions struct {
	Vmlinux      string
	DebuginfoDir string
	NoDebuginfo  bool
	Fetch        fetchFlags
	// Stderr gets the fetch progress.
	Stderr io.Writer
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
		Use: "analyze PATH [PATH.2 ...]",
		Example: `  ktriage analyze /var/crash/127.0.0.1-2026-11-20-10:23:45      # a kdump directory
  ktriage analyze vmcore                                         # a dump (vmcore.1 vmcore.2 for a split one)
  ktriage analyze vmcore.zst                                     # compressed, or crash.tar.gz of the folder
  ktriage analyze /var/log/kern.log                              # a text log
  ktriage analyze vmcore --format html -o report.html
  ktriage analyze vmcore --vmlinux /usr/lib/debug/lib/modules/$(uname -r)/vmlinux`,
		Short: "Tell why the kernel crashed: verdict, evidence, fix, from a vmcore, a kdump directory or a text log",
		Long: `Read a crash dump (ELF, kdump-compressed, flattened; give every file of a
split dump), a kdump directory, the dump compressed (.gz .xz .zst .bz2 .lz4)
or a tar(.gz…) of its folder (unpacked once into a cache: ` + "`ktriage cache`" + `), or a
kernel text log (dmesg, vmcore-dmesg.txt, /var/log/messages, kern.log,
journalctl, console capture; compressed or not), run the rulebook over it and
write the incident report. A folder of several crashes is for ` + "`ktriage fleet`" + `.

The rulebook is built in; --rules DIR adds a team's own YAML rules (a rule
with a built-in id replaces it). ` + "`ktriage rules check DIR`" + ` lints them;
docs/rules.md describes the format.`,
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
			// The rulebook is parsed on the other core while the input is
			// read: neither needs the other until the analyzers run.
			type loaded struct {
				rb  *analyzers.Rulebook
				err error
			}
			rulebook := make(chan loaded, 1)
			go func() {
				defer runTrace.Beside("rulebook")()
				rb, err := loadRulebook(rulesDir)
				rulebook <- loaded{rb, err}
			}()
			dopts.Stderr = cmd.ErrOrStderr()
			in, err := loadIncident(cmd, args, dopts)
			rules := <-rulebook
			if rules.err != nil {
				return rules.err
			}
			if err != nil {
				return err
			}
			rb := rules.rb
			end := runTrace.Start("analyzers")
			analyzers.Analyze(in, rb)
			end()

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
			end = runTrace.Start("render")
			err = report.Write(out, in, format, report.Options{Color: color})
			end()
			if err != nil {
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
	cmd.Flags().StringVar(&dopts.DebuginfoDir, "debuginfo-dir", "", "folder to search for the dump's debug vmlinux and modules' debuginfo (files, or .deb/.rpm debug packages read in place) before the distro paths")
	cmd.Flags().BoolVar(&dopts.NoDebuginfo, "no-debuginfo", false, "do not look for a debug vmlinux: use the dump's own kallsyms and BTF")
	dopts.Fetch.register(cmd.Flags())
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

// loadIncident reads what the user named (resolveInputs: a dump, a split
// set, a kdump directory, an archived dump, a text log) into an incident.
func loadIncident(cmd *cobra.Command, paths []string, dopts dumpOptions) (*incident.Incident, error) {
	r, err := resolveInputs(cmd, paths, needDumpOrLog)
	if err != nil {
		return nil, err
	}
	r.printNotes(cmd)
	if len(r.Dumps) > 0 {
		if loadDump == nil {
			return nil, fmt.Errorf("%s is a crash dump, and this build of ktriage cannot analyze dumps; "+
				"`ktriage dmesg %s > dmesg.txt` and analyze that", paths[0], paths[0])
		}
		in, err := loadDump(r.Dumps, dopts)
		if err != nil {
			return nil, err
		}
		if r.Unpacked {
			// The report names what the user has, not the cache's copy.
			in.Source.Path = strings.Join(r.Named, " ")
		}
		return in, nil
	}
	if loadLog == nil {
		return nil, fmt.Errorf("%s: this build of ktriage has no text-log reader", r.Log)
	}
	return loadLog(r.Log)
}
