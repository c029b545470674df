package main

import (
	"strings"
	"testing"
	"time"
)

// Every single command is bounded: past --deadline the watchdog names the
// command and its input and ends the process.
func TestDeadlineNamesTheInput(t *testing.T) {
	got := make(chan string, 1)
	saved := deadlineExpired
	deadlineExpired = func(msg string) {
		select {
		case got <- msg:
		default:
		}
	}
	defer func() { deadlineExpired = saved }()
	const dump = "../../testdata/dumps/sysrq-kdump-lzo.vmcore"
	runKtriage(t, "--deadline", "1ns", "dmesg", dump)
	select {
	case msg := <-got:
		if !strings.Contains(msg, "dmesg "+dump) || !strings.Contains(msg, "--deadline") {
			t.Errorf("message %q does not name the command, its input and the flag", msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watchdog did not fire")
	}
	// fleet has its own per-crash timeout; 0 turns the watchdog off.
	for _, args := range [][]string{{"--deadline", "0", "dmesg", dump}} {
		runKtriage(t, args...)
	}
	select {
	case msg := <-got:
		t.Errorf("watchdog fired with --deadline 0: %q", msg)
	case <-time.After(100 * time.Millisecond):
	}
}
