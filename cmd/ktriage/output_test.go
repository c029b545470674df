package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const seedOops = "../../testdata/logs/seed-cfs-null-deref.log"

// hostileLog is a real oops whose task name and log text carry the escape
// sequences a crafted comm or a corrupted log can hold: OSC 8 link, window
// title, DCS, APC, RIS and a raw C1 CSI.
func hostileLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(seedOops)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "Comm: java", "Comm: \x1b]8;;http://evil/\x1b\\java\x1b]8;;\x1b\\", 1)
	s = strings.Replace(s, "Hardware name:", "\x1b]0;owned\x07\x1bP1$r\x1b\\\x1b_apc\x1b\\\x1bc\u009b2JHardware name:", 1)
	p := filepath.Join(t.TempDir(), "messages")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTextOutputsEscapeTerminalControls(t *testing.T) {
	log := hostileLog(t)
	for _, args := range [][]string{
		{"analyze", log},
		{"analyze", "--format", "markdown", log},
		{"parse-log", log},
	} {
		out, err := runKtriage(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if i := strings.IndexAny(out, "\x1b\x07\u009b"); i >= 0 {
			t.Errorf("%v: a raw control reached the output at byte %d: %q", args, i, out[max(0, i-40):min(len(out), i+40)])
		}
		if args[0] == "analyze" && !strings.Contains(out, `\x1b]8;;http://evil/`) && !strings.Contains(out, `\x1b]0;owned`) {
			t.Errorf("%v: the escaped sequence is not shown visibly:\n%s", args, out)
		}
	}
}

func TestOutputNeverOverwritesAnInput(t *testing.T) {
	orig, err := os.ReadFile(seedOops)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "vmcore-dmesg.txt")
	if err := os.WriteFile(log, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link.txt")
	if err := os.Symlink(log, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"analyze", "-o", log, log},
		{"analyze", "-o", link, log},                        // the input through a symlink
		{"analyze", "-o", log, link},                        // the output named plainly, the input through a link
		{"analyze", "-o", filepath.Join(dir, "r.txt"), dir}, // a kdump directory being analyzed
		{"fleet", "--no-store", "-o", filepath.Join(dir, "report.txt"), dir},
	} {
		out, err := runKtriage(t, args...)
		if err == nil {
			t.Errorf("%v: accepted; want a refusal\n%s", args, out)
		} else if !strings.Contains(err.Error(), "-o ") {
			t.Errorf("%v: refused for another reason: %v", args, err)
		}
		got, rerr := os.ReadFile(log)
		if rerr != nil || !bytes.Equal(got, orig) {
			t.Fatalf("%v: the input changed (err %v)", args, rerr)
		}
		if _, err := os.Stat(filepath.Join(dir, "report.txt")); err == nil {
			t.Fatalf("%v: a report was written inside the tree", args)
		}
	}
	// Outside the inputs -o works.
	outFile := filepath.Join(t.TempDir(), "report.txt")
	if out, err := runKtriage(t, "analyze", "-o", outFile, log); err != nil {
		t.Fatalf("analyze -o elsewhere: %v\n%s", err, out)
	}
	if st, err := os.Stat(outFile); err != nil || st.Size() == 0 {
		t.Fatalf("no report at %s: %v", outFile, err)
	}
}
