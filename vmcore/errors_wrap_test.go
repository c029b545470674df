package vmcore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ktriage/ktriage/elfcore"
)

// A damaged ELF core is reported by vmcore naming the file, and the typed
// error elfcore found stays reachable with errors.As (it was flattened to
// text with %v before).
func TestELFDamageKeepsElfcoresTypedError(t *testing.T) {
	b, err := os.ReadFile("../testdata/elf/sysrq-notes.elf")
	if err != nil {
		t.Fatalf("ELF fixture: %v", err)
	}
	b = append([]byte(nil), b[:200]...) // the ELF header and part of the program headers
	p := filepath.Join(t.TempDir(), "vmcore")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(p)
	var fe *FormatError
	var efe *elfcore.FormatError
	if !errors.As(err, &fe) || fe.Path != p {
		t.Fatalf("Open = %v: want a *vmcore.FormatError naming %s", err, p)
	}
	if !errors.As(err, &efe) {
		t.Errorf("Open = %v: elfcore's *FormatError is not reachable with errors.As", err)
	}
}
