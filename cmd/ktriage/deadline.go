package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/internal/termsafe"
)

// defaultDeadline bounds one command on one input. A triage of a corpus dump
// takes well under a second and a 40 GB vmcore with DWARF a few minutes; a
// command still running after this is stuck on damaged input, and saying so
// beats hanging an on-call shell (or a script) forever.
const defaultDeadline = 30 * time.Minute

// deadlineExpired reports the expiry and ends the process (exit status 3);
// tests replace it.
var deadlineExpired = func(msg string) {
	fmt.Fprintln(os.Stderr, "ktriage:", termsafe.String(msg))
	os.Exit(3)
}

// startDeadline arms the watchdog for cmd unless the command bounds its own
// work (fleet has a per-crash --timeout and stops cleanly).
func startDeadline(cmd *cobra.Command, args []string, d time.Duration) (stop func()) {
	if d <= 0 || cmd.Name() == "fleet" {
		return func() {}
	}
	t := time.AfterFunc(d, func() {
		deadlineExpired(fmt.Sprintf(
			"%s %s: gave up after %v (--deadline; 0 turns it off): the input may be damaged, or much larger than usual",
			cmd.Name(), strings.Join(args, " "), d))
	})
	return func() { t.Stop() }
}
