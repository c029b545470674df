package crashdir

import (
	"strings"
	"time"

	"github.com/ktriage/ktriage/incident"
)

// Row is what the batch keeps of one analyzed crash: one line of the fleet
// table and one row of the store.
type Row struct {
	Key      string `json:"key"`
	Path     string `json:"path"` // the dump (parts joined by spaces) or the log analyzed
	Size     int64  `json:"size"`
	Checksum string `json:"checksum"`
	Layout   Layout `json:"layout"`
	Host     string `json:"host,omitempty"`
	// Time is when the kernel crashed; TimeSource says who told: "dump"
	// (VMCOREINFO CRASHTIME), "directory name", "README.txt", "log" or
	// "file time" (the dump's modification time, the last resort).
	Time       time.Time    `json:"time,omitzero"`
	TimeSource string       `json:"time_source,omitempty"`
	Release    string       `json:"release,omitempty"`
	Title      string       `json:"title"`
	Findings   []FindingRef `json:"findings,omitempty"`
	// Status is "ok", "ok: incomplete dump", "log-only: <why>" (the dump
	// could not be read, its companion log was) or "failed: <why>".
	Status     string    `json:"status"`
	Log        string    `json:"log,omitempty"`       // the companion log, when there is one
	Debuginfo  string    `json:"debuginfo,omitempty"` // the vmlinux used; empty: kallsyms+BTF
	AnalyzedAt time.Time `json:"analyzed_at,omitzero"`
	Seconds    float64   `json:"seconds"`
	// Reused is set when the row came from the store instead of a new
	// analysis (not stored itself).
	Reused bool `json:"reused,omitempty"`
}

// FindingRef is the part of a finding the fleet tables group by.
type FindingRef struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity,omitempty"`
	// Applies is "affected", "fixed" or "unknown" for this crash's kernel.
	Applies string `json:"applies,omitempty"`
}

// Status values and prefixes.
const (
	StatusOK         = "ok"
	StatusIncomplete = "ok: incomplete dump"
	// StatusInterrupted marks crashes a cancelled batch never reached.
	StatusInterrupted = "not analyzed: interrupted"
	statusLogOnly     = "log-only: "
	statusFailed      = "failed: "
)

// Failed reports whether nothing could be analyzed.
func (r *Row) Failed() bool { return strings.HasPrefix(r.Status, statusFailed) }

// LogOnly reports whether the incident came from a log because the dump
// could not be read (or was never written).
func (r *Row) LogOnly() bool { return strings.HasPrefix(r.Status, statusLogOnly) }

// Top is the finding that explains the crash best (the rulebook orders
// them), or nil.
func (r *Row) Top() *FindingRef {
	if len(r.Findings) == 0 {
		return nil
	}
	return &r.Findings[0]
}

// TopLabel is the top finding's id for tables, or "".
func (r *Row) TopLabel() string {
	if t := r.Top(); t != nil {
		return t.ID
	}
	return ""
}

// findingRefs keeps what the fleet tables need of an incident's findings.
func findingRefs(fs []incident.Finding) []FindingRef {
	out := make([]FindingRef, 0, len(fs))
	for _, f := range fs {
		out = append(out, FindingRef{ID: f.ID, Title: f.Title, Severity: f.Severity, Applies: f.Applies})
	}
	return out
}

// Result is one crash of a batch: its row and, when it was analyzed in this
// run (or reloaded from the store), the incident.
type Result struct {
	Row      Row
	Crash    Crash
	Incident *incident.Incident
}
