package textlog

import (
	"path/filepath"
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
