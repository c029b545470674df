package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDmesgDamage: dmesg on a dump cut short says it was cut, even when
// the log itself was read whole.
func TestDmesgDamage(t *testing.T) {
	b, err := os.ReadFile("../../testdata/dumps/sysrq-kdump-zlib.vmcore")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cut.vmcore")
	if err := os.WriteFile(p, b[:len(b)*99/100], 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := runKtriage(t, "dmesg", p)
	if !strings.Contains(out, "ktriage: warning: "+p+": the file ends before its last page") {
		t.Fatalf("no warning that the dump was cut:\n%.500s", out)
	}
}
