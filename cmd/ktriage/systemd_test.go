package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/unpack/packtest"
)

// buildBinary compiles ktriage for tests that run it as a process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ktriage")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The systemd units as shipped: systemd-analyze verify accepts them (where
// systemd is installed), and the service's own command line, run on a
// /var/crash stand-in, leaves the three reports beside each crash, says
// one line per crash for the journal, reports the failed capture once,
// and analyzes nothing again on the next start.
func TestSystemdUnitsAnalyzeNewCrashes(t *testing.T) {
	isolate(t)
	bin := buildBinary(t)
	units := t.TempDir()
	var execStart string
	for _, name := range []string{"ktriage-crash.service", "ktriage-crash.path"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "dist", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "/usr/local/bin/ktriage", bin)
		if err := os.WriteFile(filepath.Join(units, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
				execStart = v
			}
		}
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		cmd := exec.Command(sa, "verify", "--man=no", filepath.Join(units, "ktriage-crash.service"), filepath.Join(units, "ktriage-crash.path"))
		if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), "ktriage-crash") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	} else {
		t.Log("no systemd-analyze here: the units are checked by running their command only")
	}

	crash := t.TempDir()
	folder := kdumpFolder(t, crash)
	zdir := filepath.Join(crash, "127.0.0.1-2026-11-21-10:00:00")
	os.MkdirAll(zdir, 0o755)
	os.Rename(packtest.File(t, fixtureDump, zdir, "zstd"), filepath.Join(zdir, "vmcore.zst"))
	empty := filepath.Join(crash, "127.0.0.1-2026-11-22-10:00:00")
	os.MkdirAll(empty, 0o755)

	args := strings.Fields(strings.ReplaceAll(execStart, "/var/crash", crash))
	args = append(args[:1], append([]string{"--deadline", "10m"}, args[1:]...)...)
	for i, a := range args {
		if a == "--settle" {
			args[i+1] = "1s" // the fixtures were written just now
		}
	}
	run := func() (string, int) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "KTRIAGE_CACHE="+filepath.Join(t.TempDir(), "cache"))
		out, err := cmd.Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := run()
	if code != 2 {
		t.Errorf("exit status %d, want 2 (the empty capture failed)\n%s", code, out)
	}
	for _, dir := range []string{folder, zdir} {
		for _, ext := range []string{"txt", "json", "html"} {
			if _, err := os.Stat(filepath.Join(dir, "ktriage-report."+ext)); err != nil {
				t.Errorf("no report beside the crash: %v", err)
			}
		}
		if !strings.Contains(out, dir) || !strings.Contains(out, "INFO: task hung in vfs_write — Hung tasks behind a frozen filesystem") {
			t.Errorf("no journal line for %s with title and verdict:\n%s", dir, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(empty, "ktriage-report.txt")); err != nil || !strings.Contains(string(b), "empty crash folder") {
		t.Errorf("the failed capture is not reported: %v %q", err, b)
	}
	if again, code := run(); code != 0 || strings.TrimSpace(again) != "" {
		t.Errorf("second start analyzed again (exit %d):\n%s", code, again)
	}
	// The reports are not taken for crashes or logs.
	if out, _, err := runSplit(t, "fleet", "--no-store", "--format", "jsonl", crash); err == nil || strings.Contains(out, "ktriage-report") {
		t.Errorf("fleet after report-new: %v\n%.500s", err, out)
	}
}
