package symbols

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"os"
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
	syms, d := sysrqDump(t)
	ks, types := dumpKallsymsBTF(t, syms, d)
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

// sparseMemory is a fake kernel address space made of a few regions.
type sparseMemory map[uint64][]byte

func (m sparseMemory) ReadVirt(p []byte, addr uint64) error {
	for base, b := range m {
		if addr >= base && addr+uint64(len(p)) <= base+uint64(len(b)) {
			copy(p, b[addr-base:])
			return nil
		}
	}
	return fmt.Errorf("address %#x not mapped", addr)
}

// A 6.4+ module (memory in mem[], no core_layout), laid out with the
// types of the DWARF fixture: ReadModules must work from DWARF types and
// from the newer layout.
func TestReadModulesMemLayout(t *testing.T) {
	d, err := OpenDWARF(fixturePath("testdata/symbols/dwarf/types-dwarf5.elf"), DWARFOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	off := func(path string) uint64 {
		o, err := d.MemberOffset("module", path)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	ksOff := func(path string) uint64 {
		o, err := d.MemberOffset("mod_kallsyms", path)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	const (
		head    = 0xffffffff82000000
		modAddr = 0xffffffffc0100000
		text    = 0xffffffffc0200000
		data    = 0xffffffffc0300000
		ksAddr  = 0xffffffffc0400000
		symtab  = 0xffffffffc0500000
		strtab  = 0xffffffffc0600000
		typetab = 0xffffffffc0700000
	)
	le := binary.LittleEndian
	size, _ := d.StructSize("module")
	mod := make([]byte, size)
	le.PutUint64(mod[off("list.next"):], head)
	le.PutUint64(mod[off("list.prev"):], head)
	copy(mod[off("name"):], "demo_mod\x00")
	le.PutUint64(mod[off("mem[0].base"):], text)
	le.PutUint32(mod[off("mem[0].size"):], 0x3000)
	le.PutUint64(mod[off("mem[2].base"):], data)
	le.PutUint32(mod[off("mem[2].size"):], 0x1000)
	le.PutUint64(mod[off("kallsyms"):], ksAddr)
	ks := make([]byte, 64)
	le.PutUint64(ks[ksOff("symtab"):], symtab)
	le.PutUint32(ks[ksOff("num_symtab"):], 3)
	le.PutUint64(ks[ksOff("strtab"):], strtab)
	le.PutUint64(ks[ksOff("typetab"):], typetab)
	strs := []byte("\x00demo_init\x00demo_work\x00demo_data\x00")
	var syms []byte
	for _, s := range []struct {
		name, shndx uint32
		value, size uint64
	}{{1, 1, text + 0x10, 0x40}, {11, 1, text + 0x100, 0x80}, {21, 2, data + 8, 8}} {
		e := make([]byte, elf64SymSize)
		le.PutUint32(e, s.name)
		le.PutUint16(e[6:], uint16(s.shndx))
		le.PutUint64(e[8:], s.value)
		le.PutUint64(e[16:], s.size)
		syms = append(syms, e...)
	}
	headBytes := make([]byte, 16)
	le.PutUint64(headBytes, modAddr+off("list"))
	le.PutUint64(headBytes[8:], modAddr+off("list"))
	mem := sparseMemory{head: headBytes, modAddr: mod, ksAddr: ks, symtab: syms, strtab: strs, typetab: []byte("TtD")}

	mods, err := ReadModules(head, mem, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 {
		t.Fatalf("%d modules, want 1", len(mods))
	}
	m := mods[0]
	if m.Name != "demo_mod" || m.Addr != modAddr || m.Base() != text || m.Size() != 0x4000 || len(m.Ranges) != 2 {
		t.Errorf("module = %+v", m)
	}
	all := NewKernelSymbols(NewTable(nil, 0), mods, d)
	// The kernel's rule: the last function of text extends to its end.
	if f := all.Format(text + 0x110); f != "demo_work+0x10/0x2f00 [demo_mod]" {
		t.Errorf("Format = %q", f)
	}
	if s, ok := all.SymbolAt(data + 8); !ok || s.Name != "demo_data" || s.Type != 'D' {
		t.Errorf("data symbol = %+v %v", s, ok)
	}
	if f := all.Format(text + 0x50); f != "demo_init+0x40/0xf0 [demo_mod]" {
		t.Errorf("Format = %q", f)
	}
	if f := all.Format(text + 0x8); f != fmt.Sprintf("%#x [demo_mod]", uint64(text+0x8)) {
		t.Errorf("address in the module before its first symbol: %q", f)
	}
	// A list that loops without returning to its head is an error.
	le.PutUint64(mod[off("list.next"):], modAddr+off("list"))
	if _, err := ReadModules(head, mem, d); err == nil {
		t.Error("looping module list accepted")
	}
}

// A RHEL 7 (3.10) module: memory in module_core/core_size/core_text_size,
// symbols straight in struct module (symtab, num_symtab, strtab; no
// mod_kallsyms, no typetab), laid out with the types of CentOS 7.9's own
// kernel/module.o (testdata/symbols/el7/make.sh).
func TestReadModulesEL7Layout(t *testing.T) {
	b, err := OpenBTF(fixturePath("testdata/symbols/el7/module.o.btf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"core_layout", "kallsyms", "mem"} {
		if b.HasMember("module", absent) {
			t.Fatalf("3.10's struct module has no %s, the fixture says it has", absent)
		}
	}
	off := func(path string) uint64 {
		o, err := b.MemberOffset("module", path)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	const (
		head    = 0xffffffff81a00000
		modAddr = 0xffffffffa0010000
		core    = 0xffffffffa0000000
		symtab  = 0xffffffffa0020000
		strtab  = 0xffffffffa0030000
	)
	le := binary.LittleEndian
	size, err := b.StructSize("module")
	if err != nil {
		t.Fatal(err)
	}
	mod := make([]byte, size)
	le.PutUint64(mod[off("list.next"):], head)
	le.PutUint64(mod[off("list.prev"):], head)
	copy(mod[off("name"):], "ktriage_crash\x00")
	le.PutUint64(mod[off("module_core"):], core)
	le.PutUint32(mod[off("core_size"):], 0x3000)
	le.PutUint32(mod[off("core_text_size"):], 0x1000)
	le.PutUint64(mod[off("symtab"):], symtab)
	le.PutUint32(mod[off("num_symtab"):], 2)
	le.PutUint64(mod[off("strtab"):], strtab)
	strs := []byte("\x00ktriage_widget_account_hit\x00ktriage_crash_write\x00")
	var syms []byte
	for _, s := range []struct {
		name  uint32
		info  byte
		value uint64
	}{{1, 0x02, core + 0x20}, {28, 0x12, core + 0x80}} { // STB_LOCAL, STB_GLOBAL functions
		e := make([]byte, elf64SymSize)
		le.PutUint32(e, s.name)
		e[4] = s.info
		le.PutUint16(e[6:], 1)
		le.PutUint64(e[8:], s.value)
		le.PutUint64(e[16:], 0x40)
		syms = append(syms, e...)
	}
	headBytes := make([]byte, 16)
	le.PutUint64(headBytes, modAddr+off("list"))
	le.PutUint64(headBytes[8:], modAddr+off("list"))
	mem := sparseMemory{head: headBytes, modAddr: mod, symtab: syms, strtab: strs}

	mods, err := ReadModules(head, mem, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 {
		t.Fatalf("%d modules, want 1", len(mods))
	}
	m := mods[0]
	if m.Name != "ktriage_crash" || m.Base() != core || m.Size() != 0x3000 || len(m.Ranges) != 2 || m.Ranges[0].Size != 0x1000 {
		t.Errorf("module = %+v", m)
	}
	all := NewKernelSymbols(NewTable(nil, 0), mods, b)
	if f := all.Format(core + 0x31); f != "ktriage_widget_account_hit+0x11/0x60 [ktriage_crash]" {
		t.Errorf("Format = %q", f)
	}
	if s, ok := all.SymbolAt(core + 0x90); !ok || s.Name != "ktriage_crash_write" || s.Type != 'T' {
		t.Errorf("global function = %+v %v", s, ok)
	}
}
