package analyzers_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/textlog"
)

// Every rule's examples, read by the real log reader, must make the engine
// fire that rule: the rulebook's patterns are tested against the reports
// textlog actually produces, not against hand-built incidents.
func TestRuleExamplesFire(t *testing.T) {
	rb, err := analyzers.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tested := 0
	for _, r := range rb.Rules {
		if len(r.Examples) == 0 {
			continue
		}
		tested++
		incs, err := textlog.ParseHostsWith(strings.NewReader(strings.Join(r.Examples, "\n")+"\n"), r.ID+".log", textlog.Options{})
		in := &incident.Incident{}
		if len(incs) > 0 {
			in = incs[0] // the most severe host's, as ParseFile picks
		}
		if err != nil {
			t.Errorf("%s: %v", r.ID, err)
			continue
		}
		fs := analyzers.Run(in, rb)
		i := slices.IndexFunc(fs, func(f incident.Finding) bool { return f.ID == r.ID })
		if i < 0 {
			var kinds []string
			for _, rep := range in.Reports {
				kinds = append(kinds, rep.Kind)
			}
			t.Errorf("%s: did not fire on its examples (reports: %v; findings: %v)", r.ID, kinds, findingIDs(fs))
			continue
		}
		if len(fs[i].Evidence) == 0 {
			t.Errorf("%s: fired without evidence", r.ID)
		}
		// On its own examples a cause rule is the verdict; context rules
		// (settings that escalated a crash) rank after the crash they explain.
		if r.Role != "context" && i != 0 {
			t.Errorf("%s: ranked %d on its own examples, after %v", r.ID, i+1, findingIDs(fs[:i]))
		}
		if r.Role == "context" && i == 0 && len(fs) > 1 {
			t.Errorf("%s: a context rule leads the findings %v", r.ID, findingIDs(fs))
		}
	}
	if tested < 40 {
		t.Errorf("only %d rules carry examples", tested)
	}
}

func findingIDs(fs []incident.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}
