package symbols

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// crashModules parses crash's `mod` output: struct module address, name,
// base and size.
func crashModules(t testing.TB, path string) map[string][3]uint64 {
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("crash mod output: %v", err)
	}
	defer f.Close()
	out := map[string][3]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || fs[0] == "MODULE" {
			continue
		}
		addr, _ := strconv.ParseUint(fs[0], 16, 64)
		base, _ := strconv.ParseUint(fs[2], 16, 64)
		size, _ := strconv.ParseUint(fs[3], 10, 64)
		out[fs[1]] = [3]uint64{addr, base, size}
	}
	return out
}

func TestReadModulesFromDump(t *testing.T) {
	d := sysrqDump(t)
	ks, types := dumpKallsymsBTF(t, d)
	head, ok := ks.Lookup("modules")
	if !ok {
		t.Fatal("no `modules` symbol in kallsyms")
	}
	mods, err := ReadModules(head, d, types)
	if err != nil {
		t.Fatal(err)
	}
	want := crashModules(t, filepath.Join(sharedDir(t), "corpus", "dumps", "sysrq-elf", "crash-8.0.6", "mod.txt"))
	if len(mods) != len(want) {
		t.Errorf("read %d modules, crash lists %d", len(mods), len(want))
	}
	nsyms := 0
	for _, m := range mods {
		w, ok := want[m.Name]
		if !ok {
			t.Errorf("module %q not in crash's list", m.Name)
			continue
		}
		if got := [3]uint64{m.Addr, m.Base(), m.Size()}; got != w {
			t.Errorf("%s: module/base/size %#x/%#x/%d, crash %#x/%#x/%d", m.Name, got[0], got[1], got[2], w[0], w[1], w[2])
		}
		if len(m.Syms) == 0 {
			t.Errorf("%s: no symbols", m.Name)
		}
		nsyms += len(m.Syms)
	}
	t.Logf("%d modules, %d module symbols", len(mods), nsyms)

	all := NewKernelSymbols(ks, mods, types)
	// Every module function resolves to itself with its module named.
	checked := 0
	for _, m := range mods {
		for _, s := range m.Syms {
			if !s.IsText() || s.Size < 2 {
				continue
			}
			got, ok := all.SymbolAt(s.Addr + 1)
			if !ok || got.Module != m.Name || got.Addr != s.Addr {
				t.Errorf("SymbolAt(%s+1 [%s]) = %+v %v", s.Name, m.Name, got, ok)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no module functions to check")
	}
	if a, ok := all.Lookup("pvpanic_panic_notify"); ok {
		if f := all.Format(a + 4); !strings.HasPrefix(f, "pvpanic_panic_notify+0x4/") || !strings.HasSuffix(f, " [pvpanic]") {
			t.Errorf("Format = %q", f)
		}
	} else {
		t.Error("pvpanic_panic_notify not found among module symbols")
	}
	if f := all.Format(mustLookup(t, ks, "panic") + 0x10); !strings.HasPrefix(f, "panic+0x10/") {
		t.Errorf("Format(panic+0x10) = %q", f)
	}
	if ti, err := all.GlobalType("modules"); err != nil || ti.Name != "struct list_head" {
		t.Errorf("GlobalType(modules) = %+v %v", ti, err)
	}
}

// moduleFixture is one real module's kallsyms, cut from the corpus dump.
type moduleFixture struct {
	Name                    string
	Symtab, Typetab, Strtab []byte
	Want                    []Sym
}

const moduleFixturePath = "testdata/symbols/module-pvpanic-6.1.gob"

func decodeModuleFixture(b []byte) (moduleFixture, error) {
	var fx moduleFixture
	err := gob.NewDecoder(bytes.NewReader(b)).Decode(&fx)
	return fx, err
}

// TestWriteModuleFixture cuts pvpanic's symtab/typetab/strtab out of the
// dump (run with -update-fixtures).
func TestWriteModuleFixture(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to rewrite " + moduleFixturePath)
	}
	d := sysrqDump(t)
	ks, types := dumpKallsymsBTF(t, d)
	mods, err := ReadModules(mustLookup(t, ks, "modules"), d, types)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if m.Name != "pvpanic" {
			continue
		}
		kOff, _ := types.MemberOffset("module", "kallsyms")
		kaddr, _ := readU64(d, m.Addr+kOff)
		rd := func(path string) uint64 {
			mi, err := types.MemberInfo("mod_kallsyms", path)
			if err != nil {
				t.Fatal(err)
			}
			if mi.Type.Size == 4 {
				v, _ := readU32(d, kaddr+mi.Offset)
				return uint64(v)
			}
			v, _ := readU64(d, kaddr+mi.Offset)
			return v
		}
		num := rd("num_symtab")
		symtab, _ := readChunked(d, rd("symtab"), int(num*elf64SymSize))
		typetab, _ := readChunked(d, rd("typetab"), int(num))
		strtab, _ := readStrtab(d, rd("strtab"), 4096)
		fx := moduleFixture{Name: m.Name, Symtab: symtab, Typetab: typetab, Strtab: strtab, Want: m.Syms}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(fx); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixturePath(moduleFixturePath), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("pvpanic not loaded in the dump")
}

func TestDecodeModuleSymsFixture(t *testing.T) {
	b, err := os.ReadFile(fixturePath(moduleFixturePath))
	if err != nil {
		t.Fatal(err)
	}
	fx, err := decodeModuleFixture(b)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeModuleSyms(fx.Symtab, fx.Typetab, fx.Strtab, fx.Name)
	if len(got) != len(fx.Want) || len(got) == 0 {
		t.Fatalf("decoded %d symbols, want %d", len(got), len(fx.Want))
	}
	for i := range got {
		if got[i] != fx.Want[i] {
			t.Errorf("symbol %d = %+v, want %+v", i, got[i], fx.Want[i])
		}
	}
	tab := NewTable(got, 0)
	s, ok := tab.Sym("pvpanic_panic_notify")
	if !ok || s.Type != 't' || s.Size == 0 || s.Module != "pvpanic" {
		t.Errorf("pvpanic_panic_notify = %+v %v", s, ok)
	}
	// Without the typetab (kernels before 5.x kept types in st_info), the
	// binding still separates global from local functions.
	for _, s := range decodeModuleSyms(fx.Symtab, nil, fx.Strtab, fx.Name) {
		if s.Type != 't' && s.Type != 'T' {
			t.Errorf("%s: type %c without typetab", s.Name, s.Type)
		}
	}
}
