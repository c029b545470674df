package symbols

import (
	"bytes"
	"testing"
)

// A name in no section a DIE's name can come from is answered without
// walking; a name only written inline in .debug_info (GCC puts names of up
// to three characters there) is still walked to and found.
func TestNameAbsentWithoutWalking(t *testing.T) {
	for _, rel := range dwarfFixtures {
		d, err := OpenDWARF(fixturePath(rel), DWARFOptions{NoCache: true})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, ok := d.TypeOffset("struct no_such_type"); ok {
			t.Errorf("%s: struct no_such_type found", rel)
		}
		if _, ok := d.GlobalAddr("no_such_global"); ok {
			t.Errorf("%s: no_such_global found", rel)
		}
		if w := d.Stats().Walked; w != 0 {
			t.Errorf("%s: %d units walked to find names that are nowhere", rel, w)
		}
		if bytes.Contains(d.secs.str, []byte("u64\x00")) {
			t.Fatalf("%s: u64 is in .debug_str; the test wants a name only inline", rel)
		}
		full := openTestDWARFAt(t, fixturePath(rel))
		for _, n := range []string{"u64", "struct list_head", "int"} {
			got, ok := d.TypeOffset(n)
			want, _ := full.TypeOffset(n)
			if !ok || got != want {
				t.Errorf("%s: TypeOffset(%q) = %#x %v, the complete index says %#x", rel, n, got, ok, want)
			}
		}
	}
}

func openTestDWARFAt(t *testing.T, path string) *DWARF {
	d, err := OpenDWARF(path, DWARFOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.IndexAll(); err != nil {
		t.Fatal(err)
	}
	return d
}
