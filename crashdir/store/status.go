package store

import (
	"encoding/json"
	"strings"
)

// StatusKind is what became of one crash in a batch.
type StatusKind string

const (
	KindOK          StatusKind = "ok"
	KindIncomplete  StatusKind = "incomplete"  // analyzed, from a dump the capture did not finish
	KindLogOnly     StatusKind = "log-only"    // the dump could not be read; its companion log was
	KindFailed      StatusKind = "failed"      // nothing could be read
	KindInterrupted StatusKind = "interrupted" // a cancelled batch never reached it
)

// Status is a crash's outcome and, for log-only and failed, why.
type Status struct {
	Kind   StatusKind
	Reason string
}

// The outcomes without a reason.
var (
	StatusOK          = Status{Kind: KindOK}
	StatusIncomplete  = Status{Kind: KindIncomplete}
	StatusInterrupted = Status{Kind: KindInterrupted}
)

// Failed is the status of a crash nothing could be read from.
func Failed(why string) Status { return Status{Kind: KindFailed, Reason: why} }

// LogOnly is the status of a crash read from its log because of why.
func LogOnly(why string) Status { return Status{Kind: KindLogOnly, Reason: why} }

// String is the status as reports print it and the store keeps it.
func (s Status) String() string {
	switch s.Kind {
	case KindOK:
		return "ok"
	case KindIncomplete:
		return "ok: incomplete dump"
	case KindInterrupted:
		return "not analyzed: interrupted"
	case KindLogOnly, KindFailed:
		return string(s.Kind) + ": " + s.Reason
	}
	return string(s.Kind)
}

// ParseStatus reads String's form back (rows stored as JSON).
func ParseStatus(text string) Status {
	switch text {
	case "ok":
		return StatusOK
	case "ok: incomplete dump":
		return StatusIncomplete
	case "not analyzed: interrupted":
		return StatusInterrupted
	}
	for _, k := range []StatusKind{KindLogOnly, KindFailed} {
		if why, ok := strings.CutPrefix(text, string(k)+": "); ok {
			return Status{Kind: k, Reason: why}
		}
	}
	return Status{Kind: KindFailed, Reason: "unknown status " + text}
}

// MarshalJSON keeps the status one string, as scripts reading fleet's
// JSON Lines and the stored rows expect.
func (s Status) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s *Status) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err != nil {
		return err
	}
	*s = ParseStatus(text)
	return nil
}
