// Command ktriage tells an SRE why a Linux kernel crashed.
//
// Each subcommand lives in its own file and registers itself with
// addCommand from an init function, so commands stay independent.
package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/internal/termsafe"
	"github.com/ktriage/ktriage/triage"
)

// exitError carries a process exit status through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// command is a registered subcommand: its name, and how to build it.
type command struct {
	name  string
	build func() *cobra.Command
}

var commands []command

// addCommand registers a subcommand constructor under the name the user
// types; called from init().
func addCommand(name string, build func() *cobra.Command) {
	commands = append(commands, command{name, build})
}

// newRootCmd builds the whole command tree: help, completion and the tests.
func newRootCmd() *cobra.Command { return newRootCmdFor(nil) }

// newRootCmdFor builds the tree a command line needs. When its first word
// names a subcommand, only that one is built: a run of `ktriage dmesg`
// should not pay for constructing every other command and its flags (a
// tenth of its start-up). Anything else (help, completion, a flag first, a
// typo cobra suggests a fix for) gets the whole tree.
func newRootCmdFor(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "ktriage",
		Short: "Tell why a Linux kernel crashed, from a vmcore or a kernel log",
		Long: `ktriage reads what a kernel crash leaves behind — vmcores in every kdump,
makedumpfile and QEMU format, /var/crash trees, and text logs — and reports
what happened, why, and what to do.

Every command that reads a dump takes the same inputs: the dump file (all
parts of a split dump), a kdump directory, the dump compressed (.gz .xz .zst
.bz2 .lz4) or a tar(.gz…) of its folder (unpacked once into a cache, see
` + "`ktriage cache`" + `). analyze also reads text logs. Shell completion:
` + "`ktriage completion bash|zsh|fish --help`" + `.`,
		Example: `  ktriage analyze /var/crash/127.0.0.1-2026-11-20-10:23:45
  ktriage analyze vmcore.zst --format html -o report.html
  ktriage analyze /var/log/kern.log
  ktriage dmesg /var/crash/202611201023/dump.202611201023 | tail
  ktriage bt --state D vmcore
  ktriage fleet /var/crash /srv/crash-archive`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("ktriage {{.Version}}\n")
	var deadline time.Duration
	var stopDeadline func()
	root.PersistentFlags().DurationVar(&deadline, "deadline", defaultDeadline,
		"give up on a command after this long (0: never); fleet bounds each crash with --timeout instead")
	root.PersistentFlags().Var(sizeFlag{&memoryLimit}, "memory-limit",
		"memory reading one dump may take for sizes the dump states (e.g. 512M, 4G); a dump asking more fails by name, in fleet that dump alone")
	var prof profiling
	prof.register(root)
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		stopDeadline = startDeadline(cmd, args, deadline)
		oneShotGC(cmd)
		return prof.start()
	}
	root.PersistentPostRun = func(cmd *cobra.Command, _ []string) {
		if stopDeadline != nil {
			stopDeadline()
		}
		prof.stop(cmd.ErrOrStderr())
	}
	if len(args) > 0 {
		for _, c := range commands {
			if c.name == args[0] {
				root.AddCommand(c.build())
				root.CompletionOptions.DisableDefaultCmd = true
				return root
			}
		}
	}
	for _, c := range commands {
		root.AddCommand(c.build())
	}
	return root
}

// names returns the one names cache of this process (its commands read one
// dump, or fleet's batch keeps its own).
var names = sync.OnceValue(triage.NewNamesCache)

func main() {
	root := newRootCmdFor(os.Args[1:])
	err := root.Execute()
	names().Wait() // the cache's disk copies, written beside the triage
	if err != nil {
		// Errors name paths and quote dump contents: escape them too.
		fmt.Fprintln(os.Stderr, "ktriage:", termsafe.String(err.Error()))
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}
