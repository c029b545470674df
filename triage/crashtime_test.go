package triage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// withCrashTime copies a kdump-compressed fixture with its VMCOREINFO's
// CRASHTIME replaced: the new VMCOREINFO goes at the end of the file and the
// sub-header points at it (the value may be longer than the old one).
func withCrashTime(t *testing.T, fixture, value string) string {
	t.Helper()
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if !bytes.HasPrefix(b, []byte("KDUMP   ")) {
		t.Fatalf("%s: not kdump-compressed", fixture)
	}
	block := int(le.Uint32(b[428:])) // disk_dump_header.block_size
	off, size := le.Uint64(b[block+32:]), le.Uint64(b[block+40:])
	vi := b[off : off+size]
	re := regexp.MustCompile(`CRASHTIME=-?\d+`)
	if !re.Match(vi) {
		t.Fatalf("%s: no CRASHTIME in VMCOREINFO", fixture)
	}
	vi = re.ReplaceAll(vi, []byte("CRASHTIME="+value))
	out := append(b, vi...)
	le.PutUint64(out[block+32:], uint64(len(b)))
	le.PutUint64(out[block+40:], uint64(len(vi)))
	p := filepath.Join(t.TempDir(), "vmcore")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A CRASHTIME past year 9999 broke every JSON output (and fleet's store);
// one before 1970 was shown as fact. Both are set aside with a warning,
// and the kernel's own wall clock gives the time instead.
func TestImplausibleCrashTime(t *testing.T) {
	for _, v := range []string{"999999999999", "-9999999999"} {
		in, err := LoadDump([]string{withCrashTime(t, "../testdata/dumps/hung-kdump-zstd.vmcore", v)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(in); err != nil {
			t.Errorf("CRASHTIME=%s: the incident does not encode as JSON: %v", v, err)
		}
		if ct := in.System.CrashTime; ct != nil && (ct.Year() < 2020 || ct.Year() > 2100) {
			t.Errorf("CRASHTIME=%s: crash time %v shown", v, ct)
		}
		warned := false
		for _, w := range in.Warnings {
			warned = warned || strings.Contains(w, "CRASHTIME")
		}
		if !warned {
			t.Errorf("CRASHTIME=%s: no warning names it: %v", v, in.Warnings)
		}
	}
}
