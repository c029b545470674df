package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// Past the deadline the watchdog names the command, its input and the flag
// (and, outside tests, ends the process).
func TestDeadlineNamesTheInput(t *testing.T) {
	got := make(chan string, 1)
	saved := deadlineExpired
	deadlineExpired = func(msg string) { got <- msg }
	defer func() { deadlineExpired = saved }()

	const dump = "../../testdata/dumps/sysrq-kdump-lzo.vmcore"
	startDeadline(&cobra.Command{Use: "dmesg"}, []string{dump}, time.Millisecond) // never stopped: it must fire
	select {
	case msg := <-got:
		if !strings.Contains(msg, "dmesg "+dump) || !strings.Contains(msg, "--deadline") {
			t.Errorf("message %q does not name the command, its input and the flag", msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watchdog did not fire")
	}
	// 0 turns it off; fleet bounds each crash itself.
	startDeadline(&cobra.Command{Use: "dmesg"}, []string{dump}, 0)
	startDeadline(&cobra.Command{Use: "fleet"}, []string{"/var/crash"}, time.Nanosecond)
	select {
	case msg := <-got:
		t.Errorf("watchdog armed where it must not be: %q", msg)
	case <-time.After(100 * time.Millisecond):
	}
}

// Every command takes --deadline (a persistent flag of the root).
func TestDeadlineFlagOnEveryCommand(t *testing.T) {
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.InheritedFlags().Lookup("deadline") == nil && c.Flags().Lookup("deadline") == nil {
			t.Errorf("%s does not take --deadline", c.Name())
		}
	}
}
