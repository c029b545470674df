package store

import (
	"time"
)

// Row is what the batch keeps of one analyzed crash: one line of the fleet
// table and one row of the store. It is plain data: discovery's own types
// (crashdir.Crash) stay with discovery, which fills a Row from them.
type Row struct {
	Key      string `json:"key"`
	Path     string `json:"path"` // the dump (parts joined by spaces) or the log analyzed
	Size     int64  `json:"size"`
	Checksum string `json:"checksum"`
	// Layout is the crash folder's layout as discovery named it
	// ("rhel-kdump", "debian-kdump", "suse-kdump", "loose").
	Layout string `json:"layout"`
	Host   string `json:"host,omitempty"`
	// Time is when the kernel crashed; TimeSource says who told: "dump"
	// (VMCOREINFO CRASHTIME), "directory name", "README.txt", "log" or
	// "file time" (the dump's modification time, the last resort).
	Time       time.Time    `json:"time,omitzero"`
	TimeSource string       `json:"time_source,omitempty"`
	Release    string       `json:"release,omitempty"`
	Title      string       `json:"title"`
	Findings   []FindingRef `json:"findings,omitempty"`
	// Status is what became of the crash; in JSON "ok", "ok: incomplete
	// dump", "log-only: <why>" (the dump could not be read, its companion
	// log was), "failed: <why>" or "not analyzed: interrupted".
	Status     Status    `json:"status"`
	Log        string    `json:"log,omitempty"`       // the companion log, when there is one
	Debuginfo  string    `json:"debuginfo,omitempty"` // the vmlinux used; empty: kallsyms+BTF
	AnalyzedAt time.Time `json:"analyzed_at,omitzero"`
	Seconds    float64   `json:"seconds"`
	// BuildID and DumpTime are the dump's own identity as its header pages
	// state it (VMCOREINFO's BUILD-ID and CRASHTIME), part of Key.
	BuildID string `json:"build_id,omitempty"`
	// Worker names the worker that analyzed the crash (HOST:PID unless
	// named otherwise) and WorkerHost its host; Version the ktriage that
	// did, and Rulebook the digest of the rules it ran: a stored verdict
	// says what produced it.
	Worker     string `json:"worker,omitempty"`
	WorkerHost string `json:"worker_host,omitempty"`
	Version    string `json:"ktriage_version,omitempty"`
	Rulebook   string `json:"rulebook,omitempty"`
	// Attempt is which claim of the crash produced the row: 2 and more
	// mean a worker died holding it and another took it over.
	Attempt int `json:"attempt,omitempty"`
	// FirstSeen is when the store first recorded this dump (kept when the
	// crash is analyzed again): what "new since the last run" compares.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	// Vanished is set when none of the dump's paths exists any more.
	Vanished bool `json:"vanished,omitempty"`
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

// Failed reports whether nothing could be analyzed.
func (r *Row) Failed() bool { return r.Status.Kind == KindFailed }

// LogOnly reports whether the incident came from a log because the dump
// could not be read (or was never written).
func (r *Row) LogOnly() bool { return r.Status.Kind == KindLogOnly }

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
