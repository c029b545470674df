package textlog

import (
	"path/filepath"
	"strings"
	"testing"
)

// A record firmware kept from an earlier boot (ACPI BERT) is printed with
// the same "[Hardware Error]:" lines as a live GHES error, yet nothing
// failed in this boot: it must be neither a report nor the panic.
func TestBERTIsPreviousBoot(t *testing.T) {
	in, err := ParseFile(filepath.Join("..", "testdata", "logs", "repro", "bert-previous-boot.log"))
	if err != nil {
		t.Fatal(err)
	}
	if in.Panic != nil {
		t.Errorf("panic %q from a previous boot's record", in.Panic.Message)
	}
	for _, r := range in.Reports {
		t.Errorf("report %s %q from a previous boot's record", r.Kind, r.Title)
	}
	if len(in.HardwareErrs) != 1 {
		t.Fatalf("%d hardware errors, want 1", len(in.HardwareErrs))
	}
	h := in.HardwareErrs[0]
	if h.Source != "BERT" || h.Fields["previous_boot"] != "true" || h.Severity != "fatal" ||
		h.Section != "IA32/X64 processor error" {
		t.Errorf("got source %q severity %q section %q fields %v", h.Source, h.Severity, h.Section, h.Fields)
	}
}

// The marker covers the records printed right after it, not a block that
// comes after other messages.
func TestBERTMarkerEndsAtOtherLines(t *testing.T) {
	log := `[    0.912415] BERT: Error records from previous boot:
[    0.915012] ACPI: Interpreter enabled
[ 3000.000000] [Hardware Error]: event severity: fatal
[ 3000.000100] [Hardware Error]:  Error 0, type: fatal
[ 3000.000200] [Hardware Error]:   section_type: memory error
`
	in, err := Parse(strings.NewReader(log), "bert-then-live.log")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.HardwareErrs) != 1 || in.HardwareErrs[0].Source == "BERT" {
		t.Errorf("hardware errors %+v: the later block is this boot's", in.HardwareErrs)
	}
}
