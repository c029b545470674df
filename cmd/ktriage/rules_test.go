package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runKtriage(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// `make test` runs this: the shipped rulebook must lint clean.
func TestRulesCheckBuiltin(t *testing.T) {
	out, err := runKtriage(t, "rules", "check")
	if err != nil {
		t.Fatalf("rules check: %v\n%s", err, out)
	}
	if !strings.Contains(out, "rules OK") {
		t.Fatalf("output %q", out)
	}
}

func TestRulesCheckReportsProblems(t *testing.T) {
	dir := t.TempDir()
	bad := `rules:
  - id: Bad_ID
    title: ""
    severity: urgent
    confidence: high
    cause: x
    fix: y
    match:
      log: ['(unclosed']
    versions:
      - stream: el7
        fixed: [kernel-3.10.0-1.el7]
  - id: dup
    title: t
    severity: low
    confidence: low
    cause: c
    fix: f
    references: [r]
    match: {log: [x]}
  - id: dup
    title: t
    severity: low
    confidence: low
    cause: c
    fix: f
    references: [r]
    match: {log: [x]}
`
	if err := os.WriteFile(filepath.Join(dir, "team.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runKtriage(t, "rules", "check", dir)
	if err == nil {
		t.Fatalf("bad rules passed:\n%s", out)
	}
	for _, want := range []string{"id must be", "title is required", "severity \"urgent\"", "references are required", "log pattern", "kernel-3.10.0-1.el7", "id already used"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestRulesListAndShow(t *testing.T) {
	out, err := runKtriage(t, "rules", "list")
	if err != nil || !strings.Contains(out, "rhel7-cfs-throttle-null-deref") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runKtriage(t, "rules", "show", "kvm-ept-misconfiguration")
	if err != nil || !strings.Contains(out, "3.10.0-514.el7") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if _, err := runKtriage(t, "rules", "show", "no-such-rule"); err == nil {
		t.Error("show of an unknown id succeeded")
	}
}

func TestAnalyzeRefusesDumpWithoutLoader(t *testing.T) {
	if loadDump != nil {
		t.Skip("a dump loader is registered")
	}
	p := filepath.Join(t.TempDir(), "vmcore")
	if err := os.WriteFile(p, []byte("KDUMP   \x06\x00\x00\x00rest"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runKtriage(t, "analyze", p)
	if err == nil || !strings.Contains(err.Error(), "crash dump (kdump-compressed)") {
		t.Fatalf("err = %v", err)
	}
}

// A team's folder adds rules to analyze, and may replace a built-in one.
func TestAnalyzeWithTeamRules(t *testing.T) {
	dir := t.TempDir()
	team := `rules:
  - id: acme-raid-firmware
    title: ACME RAID controller firmware fault
    severity: critical
    confidence: high
    cause: The controller's firmware 2.1 locks up under heavy writes.
    fix: Flash firmware 2.3 (team wiki page RAID-42).
    references: [team wiki RAID-42]
    examples: ['acme_raid 0000:05:00.0: firmware fault 0x1f']
    match:
      log: ['acme_raid \S+: firmware fault']
  - id: sysrq-triggered-crash
    title: Our crash drill
    severity: info
    confidence: high
    cause: The weekly kdump drill.
    fix: Nothing.
    references: [team runbook]
    examples: ['sysrq: Trigger a crash']
    match:
      log: ['sysrq: Trigger a crash']
`
	if err := os.WriteFile(filepath.Join(dir, "team.yaml"), []byte(team), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "messages")
	text := "[  10.000000] acme_raid 0000:05:00.0: firmware fault 0x1f\n[  20.000000] sysrq: Trigger a crash\n[  20.000100] Kernel panic - not syncing: sysrq triggered crash\n"
	if err := os.WriteFile(log, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runKtriage(t, "analyze", "--format", "json", "--rules", dir, log)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{`"acme-raid-firmware"`, `"Our crash drill"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
	if strings.Contains(out, "Crash triggered on purpose with SysRq-c") {
		t.Error("the built-in rule was not replaced by the team's")
	}
	if out, err := runKtriage(t, "rules", "check", dir); err != nil || !strings.Contains(out, "replaces the built-in rule") {
		t.Errorf("check: %v\n%s", err, out)
	}
}
