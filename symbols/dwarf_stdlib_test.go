package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"os"
	"testing"
)

// stdlibIndex builds the same index with debug/dwarf's Reader, slowly: the
// reference the fast walk must match exactly.
func stdlibIndex(t *testing.T, path string) *dwarfIndex {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	types, globals := map[string]uint64{}, map[string]globalVar{}
	kw := map[dwarf.Tag]string{dwarf.TagStructType: "struct ", dwarf.TagUnionType: "union ", dwarf.TagEnumerationType: "enum ", dwarf.TagTypedef: "", dwarf.TagBaseType: ""}
	r := d.Reader()
	type decl struct {
		name    string
		typeDie uint64
	}
	decls := map[uint64]decl{}
	add := func(name string, g globalVar) {
		if old, ok := globals[name]; !ok || g.better(old) {
			globals[name] = g
		}
	}
	for {
		cu, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit && cu.Tag != dwarf.TagPartialUnit {
			r.SkipChildren()
			continue
		}
		if !cu.Children {
			continue
		}
		for {
			e, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e == nil || e.Tag == 0 {
				break
			}
			if e.Children {
				r.SkipChildren()
			}
			name, _ := e.Val(dwarf.AttrName).(string)
			isDecl, _ := e.Val(dwarf.AttrDeclaration).(bool)
			typeDie, _ := e.Val(dwarf.AttrType).(dwarf.Offset)
			if k, ok := kw[e.Tag]; ok {
				if name != "" && !isDecl {
					if _, seen := types[k+name]; !seen {
						types[k+name] = uint64(e.Offset)
					}
				}
				continue
			}
			if e.Tag != dwarf.TagVariable {
				continue
			}
			if isDecl {
				decls[uint64(e.Offset)] = decl{name, uint64(typeDie)}
				continue
			}
			loc, _ := e.Val(dwarf.AttrLocation).([]byte)
			if len(loc) != 9 || loc[0] != opAddr {
				continue
			}
			ext, _ := e.Val(dwarf.AttrExternal).(bool)
			g := globalVar{die: uint64(e.Offset), typeDie: uint64(typeDie), addr: f.ByteOrder.Uint64(loc[1:]), external: ext}
			if name == "" {
				spec, _ := e.Val(dwarf.AttrSpecification).(dwarf.Offset)
				if dc, ok := decls[uint64(spec)]; ok && dc.name != "" {
					if g.typeDie == 0 {
						g.typeDie = dc.typeDie
					}
					g.external = true
					add(dc.name, g)
				}
				continue
			}
			add(name, g)
		}
	}
	return testIndex(types, globals, nil)
}

// testIndex makes a complete index from cache-file style type keys.
func testIndex(types map[string]uint64, globals map[string]globalVar, units []unitSpan) *dwarfIndex {
	idx := &dwarfIndex{unitIndex: newUnitIndex(), units: units, walked: len(units)}
	for k, off := range types {
		idx.addTypeName(k, off)
	}
	for k, g := range globals {
		idx.globals[k] = g
	}
	return idx
}

// The fast walk must produce exactly what debug/dwarf's Reader produces.
// About 10 s of CPU: set KTRIAGE_SLOW_TESTS=1.
func TestDWARFIndexMatchesStdlib(t *testing.T) {
	if os.Getenv("KTRIAGE_SLOW_TESTS") == "" {
		t.Skip("set KTRIAGE_SLOW_TESTS=1 to compare the DIE walk with debug/dwarf's Reader (~10 s)")
	}
	path := vmlinuxPath(t)
	d := openTestDWARF(t, DWARFOptions{NoCache: true})
	if err := d.IndexAll(); err != nil {
		t.Fatal(err)
	}
	fast := d.idx
	ref := stdlibIndex(t, path)
	compareIndexes(t, fast, ref)
}

func compareIndexes(t *testing.T, got, want *dwarfIndex) {
	t.Helper()
	bad := 0
	gotTypes, wantTypes := got.typeNames(), want.typeNames()
	for k, v := range wantTypes {
		if gotTypes[k] != v {
			if bad++; bad < 10 {
				t.Errorf("type %q: fast %#x, reference %#x", k, gotTypes[k], v)
			}
		}
	}
	for k, v := range want.globals {
		if got.globals[k] != v {
			if bad++; bad < 10 {
				t.Errorf("global %q: fast %+v, reference %+v", k, got.globals[k], v)
			}
		}
	}
	if len(gotTypes) != len(wantTypes) || len(got.globals) != len(want.globals) {
		t.Errorf("fast index has %d types, %d globals; reference %d, %d", len(gotTypes), len(got.globals), len(wantTypes), len(want.globals))
	}
	t.Logf("compared %d types and %d globals, %d differences", len(wantTypes), len(want.globals), bad)
}
