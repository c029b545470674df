// Command ktriage tells an SRE why a Linux kernel crashed.
//
// Each subcommand lives in its own file and registers itself with
// addCommand from an init function, so commands stay independent.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/internal/termsafe"
)

var version = "dev"

// exitError carries a process exit status through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

var commands []func() *cobra.Command

// addCommand registers a subcommand constructor; called from init().
func addCommand(f func() *cobra.Command) { commands = append(commands, f) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ktriage",
		Short: "Tell why a Linux kernel crashed, from a vmcore or a kernel log",
		Long: `ktriage reads what a kernel crash leaves behind — vmcores in every kdump,
makedumpfile and QEMU format, /var/crash trees, and text logs — and reports
what happened, why, and what to do.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	var deadline time.Duration
	var stopDeadline func()
	root.PersistentFlags().DurationVar(&deadline, "deadline", defaultDeadline,
		"give up on a command after this long (0: never); fleet bounds each crash with --timeout instead")
	root.PersistentPreRun = func(cmd *cobra.Command, args []string) { stopDeadline = startDeadline(cmd, args, deadline) }
	root.PersistentPostRun = func(*cobra.Command, []string) {
		if stopDeadline != nil {
			stopDeadline()
		}
	}
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		// Errors name paths and quote dump contents: escape them too.
		fmt.Fprintln(os.Stderr, "ktriage:", termsafe.String(err.Error()))
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}
