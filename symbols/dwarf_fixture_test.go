package symbols

import (
	"os"
	"testing"
)

var dwarfFixtures = []string{"testdata/symbols/dwarf/types-dwarf4.elf", "testdata/symbols/dwarf/types-dwarf5.elf"}

// The GCC-built fixtures: DWARF 4 (old-style DW_AT_bit_offset bitfields)
// and DWARF 5 (DW_AT_data_bit_offset, implicit_const, line_strp) must give
// identical layouts, and the fast index must equal debug/dwarf's.
func TestDWARFFixturesLayouts(t *testing.T) {
	var layouts [2]map[string]Member
	for i, rel := range dwarfFixtures {
		path := fixturePath(rel)
		d, err := OpenDWARF(path, DWARFOptions{CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := d.IndexAll(); err != nil {
			t.Fatal(err)
		}
		compareIndexes(t, d.idx, stdlibIndex(t, path))
		layouts[i] = map[string]Member{}
		for _, p := range []string{"__state", "stack", "tasks", "tasks.prev", "pid", "lo", "hi", "reset_on_fork", "other", "wide",
			"level", "flags", "comm", "comm[5]", "se.exec_start", "se.weight", "thread.sp", "st", "matrix", "matrix[1][2]", "name", "fn"} {
			m, err := d.MemberInfo("task", p)
			if err != nil {
				t.Errorf("%s: task.%s: %v", rel, p, err)
				continue
			}
			layouts[i][p] = m
		}
		if g, ok := d.idx.globals["init_task"]; !ok || !g.external || g.typeDie == 0 {
			t.Errorf("%s: init_task (defined through DW_AT_specification) indexed as %+v %v", rel, g, ok)
		}
		for name, want := range map[string]string{"init_task": "struct task", "counter_var": "atomic_long_t", "avenrun": "long unsigned int[3]",
			"current_ptr": "struct task *", "file_local": "int", "percpu_se": "struct sched_entity"} {
			if ti, err := d.GlobalType(name); err != nil || ti.Name != want {
				t.Errorf("%s: GlobalType(%s) = %+v %v, want %s", rel, name, ti, err, want)
			}
		}
	}
	for p, a := range layouts[0] {
		if b := layouts[1][p]; a != b {
			t.Errorf("task.%s:\n DWARF 4 %+v\n DWARF 5 %+v", p, a, b)
		}
	}
	check := func(p string, off, bit, bits uint64, typ string) {
		m := layouts[1][p]
		if m.Offset != off || m.BitOffset != bit || m.BitSize != bits || m.Type.Name != typ {
			t.Errorf("task.%s = %+v; want offset %d bit %d size %d type %s", p, m, off, bit, bits, typ)
		}
	}
	check("reset_on_fork", 36, 288, 1, "unsigned int")
	check("other", 36, 289, 3, "unsigned int")
	check("wide", 36, 292, 12, "unsigned int")
	check("hi", 34, 272, 0, "short int")
	check("matrix[1][2]", layouts[1]["matrix"].Offset+20, 8*(layouts[1]["matrix"].Offset+20), 0, "int")
	check("comm", 39, 312, 0, "char[16]")
	if m := layouts[1]["matrix"]; m.Type.Name != "int[2][3]" || m.Type.ArrayLen != 2 || m.Type.Elem != "int[3]" || m.Type.Size != 24 {
		t.Errorf("task.matrix = %+v", m.Type)
	}
	if m := layouts[1]["fn"]; m.Type.Kind != KindPointer || m.Type.Elem != "func" {
		t.Errorf("task.fn = %+v", m.Type)
	}
	if m := layouts[1]["name"]; m.Type.Name != "const char *" {
		t.Errorf("task.name = %+v", m.Type)
	}
}

// FuzzDWARFWalk feeds corrupted .debug_info/.debug_abbrev/.debug_str to the
// DIE walk: it must return an error or an index whose offsets lie inside
// .debug_info, never panic or loop.
func FuzzDWARFWalk(f *testing.F) {
	for _, rel := range dwarfFixtures {
		d, err := OpenDWARF(fixturePath(rel), DWARFOptions{NoCache: true})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), d.secs.info...), append([]byte(nil), d.secs.abbrev...), append([]byte(nil), d.secs.str...))
		d.Close()
	}
	f.Fuzz(func(t *testing.T, info, abbrev, str []byte) {
		idx, err := buildDWARFIndex(&dwarfSections{info: info, abbrev: abbrev, str: str, lineStr: str}, 2)
		if (err == nil) != (idx != nil) {
			t.Fatalf("index %v with error %v", idx != nil, err)
		}
		if err != nil {
			return
		}
		for k, off := range idx.typeNames() {
			if off >= uint64(len(info)) {
				t.Fatalf("type %q at %#x beyond .debug_info (%d bytes)", k, off, len(info))
			}
		}
		for k, g := range idx.globals {
			if g.die >= uint64(len(info)) {
				t.Fatalf("global %q at %#x beyond .debug_info", k, g.die)
			}
		}
	})
}

// FuzzIndexCache: a damaged cache file decodes to an error, never a panic
// or a huge allocation.
func FuzzIndexCache(f *testing.F) {
	idx := testIndex(map[string]uint64{"struct task": 0x2a, "u64": 7}, map[string]globalVar{"init_task": {die: 1, typeDie: 2, addr: 0xffffffff82a1aa40, external: true}}, nil)
	f.Add(encodeIndex("3b43fad5", 1000, idx))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeIndex(data, "3b43fad5", 1000)
		if (err == nil) != (got != nil) {
			t.Fatalf("index %v with error %v", got != nil, err)
		}
	})
}

func TestFixtureFilesPresent(t *testing.T) {
	for _, rel := range dwarfFixtures {
		if _, err := os.Stat(fixturePath(rel)); err != nil {
			t.Errorf("fixture missing (run testdata/symbols/make-dwarf-fixtures.sh): %v", err)
		}
	}
}
