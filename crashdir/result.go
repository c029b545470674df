package crashdir

import (
	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/incident"
)

// findingRefs keeps what the fleet tables need of an incident's findings.
func findingRefs(fs []incident.Finding) []store.FindingRef {
	out := make([]store.FindingRef, 0, len(fs))
	for _, f := range fs {
		out = append(out, store.FindingRef{ID: f.ID, Title: f.Title, Severity: f.Severity.String(), Applies: f.Applies})
	}
	return out
}

// Result is one crash of a batch: its row and, when it was analyzed in this
// run (or reloaded from the store), the incident.
type Result struct {
	Row      store.Row
	Crash    Crash
	Incident *incident.Incident
}
