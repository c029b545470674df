package analyzers_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/textlog"
)

// Issue 15's wrong verdicts on logs, rebuilt from its description in
// testdata/logs/repro, each pinned.

func analyzeRepro(t *testing.T, name string, rb *analyzers.Rulebook) *incident.Incident {
	t.Helper()
	in, err := textlog.ParseFile(filepath.Join("..", "testdata", "logs", "repro", name))
	if err != nil {
		t.Fatal(err)
	}
	analyzers.Analyze(in, rb)
	return in
}

func builtinRules(t *testing.T) *analyzers.Rulebook {
	t.Helper()
	rb, err := analyzers.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

// A BERT record is a previous boot's: no panic, no machine check, no
// "fatal hardware error" of this boot; one context finding that says so.
func TestBERTRecordIsNotThisBootsPanic(t *testing.T) {
	in := analyzeRepro(t, "bert-previous-boot.log", builtinRules(t))
	ids := findingIDs(in.Findings)
	for _, bad := range []string{"ghes-fatal-hardware-error", "machine-check-fatal", "machine-check-logged"} {
		if slices.Contains(ids, bad) {
			t.Errorf("%s on a previous boot's record: %v", bad, ids)
		}
	}
	if in.Panic != nil {
		t.Errorf("panic %q", in.Panic.Message)
	}
	if len(in.Findings) != 1 || in.Findings[0].ID != "hardware-error-previous-boot" || in.Findings[0].Severity == "critical" {
		t.Fatalf("findings %v", ids)
	}
	if ev := strings.Join(in.Findings[0].Evidence, "\n"); !strings.Contains(ev, "IA32/X64 processor error") {
		t.Errorf("evidence %q", ev)
	}
}

// "Out of memory and no killable processes" after two kills is not
// vm.panic_on_oom, which the log never shows.
func TestNoKillableIsNotPanicOnOOM(t *testing.T) {
	rb := builtinRules(t)
	for _, name := range []string{"oom-nothing-killable.log", "oom-nothing-killable-3x.log"} {
		in := analyzeRepro(t, name, rb)
		ids := findingIDs(in.Findings)
		if slices.Contains(ids, "panic-on-oom") {
			t.Errorf("%s: panic-on-oom without the kernel saying panic_on_oom: %v", name, ids)
		}
		if len(ids) == 0 || ids[0] != "oom-nothing-killable" {
			t.Errorf("%s: verdict %v", name, ids)
		}
		for _, f := range in.Findings {
			if strings.Contains(f.Title+f.Summary, "panic_on_oom set") {
				t.Errorf("%s: %s names panic_on_oom: %q", name, f.ID, f.Title)
			}
		}
	}
}

// A panic_on_warn panic leads with the crash, not "a non-fatal assertion".
func TestPanicOnWarnHeadline(t *testing.T) {
	in := analyzeRepro(t, "panic-on-warn.log", builtinRules(t))
	f := in.Findings[0]
	if f.ID != "warning-panic" || f.Severity != "high" {
		t.Fatalf("verdict %s [%s]; all %v", f.ID, f.Severity, findingIDs(in.Findings))
	}
	for _, g := range in.Findings {
		if strings.Contains(strings.ToLower(g.Title), "non-fatal") {
			t.Errorf("%s calls a fatal warning non-fatal: %q", g.ID, g.Title)
		}
	}
}

// A team's rule on the same sysrq panic adds its finding; it does not take
// the verdict from the built-in one it does not contradict, unless it says
// it replaces it.
func TestTeamRuleDoesNotHideBuiltin(t *testing.T) {
	team, err := analyzers.LoadDir(filepath.Join("testdata", "team-rules"))
	if err != nil {
		t.Fatal(err)
	}
	rb := builtinRules(t).With(team)
	in := analyzeRepro(t, "sysrq-with-segfault.log", rb)
	ids := findingIDs(in.Findings)
	if len(ids) != 2 || ids[0] != "sysrq-triggered-crash" || ids[1] != "team-fencing-sysrq" {
		t.Fatalf("findings %v, want the built-in verdict then the team's", ids)
	}
	// Saying what it replaces, the team rule leads alone.
	r, _ := rb.Rule("team-fencing-sysrq")
	r.Replaces = []string{"sysrq-triggered-crash"}
	in = analyzeRepro(t, "sysrq-with-segfault.log", rb)
	if ids := findingIDs(in.Findings); len(ids) != 1 || ids[0] != "team-fencing-sysrq" {
		t.Errorf("with replaces: %v", ids)
	}
}
