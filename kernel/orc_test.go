package kernel

import (
	"debug/elf"
	"encoding/binary"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/kernel/unwind"
	"github.com/ktriage/ktriage/vmcore"
)

// TestCorpusORCFromDumpIsVmlinuxORC: the tables read out of the dump's
// memory are the vmlinux's .orc_unwind_ip/.orc_unwind (the IPs are
// self-relative, so the KASLR slide leaves their bytes alone); the table
// searched in place finds what the table read whole finds; and the
// vmlinux's CFI answers at the slid address of __crash_kexec, which has no
// ORC (kernel/unwind checks the rules themselves against the file).
func TestCorpusORCFromDumpIsVmlinuxORC(t *testing.T) {
	c := corpus.Dumps(t)[0]
	vmlinux := corpus.Vmlinux(t)
	k := attachCorpus(t, c, vmlinux)
	b, err := k.kernelORCBounds()
	if err != nil {
		t.Fatal(err)
	}
	ipRaw := make([]byte, b.N*4)
	if err := k.Read(ipRaw, b.IPAddr); err != nil {
		t.Fatal(err)
	}
	ents := make([]byte, b.N*unwind.ORCEntrySize)
	if err := k.Read(ents, b.EntAddr); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(vmlinux)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fileIPs, fileIPAddr, fileEnts := corpus.ORCSections(t, f)
	if string(fileIPs) != string(ipRaw) {
		t.Errorf(".orc_unwind_ip differs between vmlinux (%d bytes) and dump (%d bytes)", len(fileIPs), len(ipRaw))
	}
	if string(fileEnts) != string(ents) {
		t.Error(".orc_unwind differs between vmlinux and dump")
	}
	if fileIPAddr+k.AS.KernelOffset() != b.IPAddr {
		t.Errorf(".orc_unwind_ip at %#x in vmlinux + slide %#x != %#x in the dump", fileIPAddr, k.AS.KernelOffset(), b.IPAddr)
	}

	// The unwinder searches the table in place; it must find what the
	// table read whole finds, at entry boundaries and between them (short
	// of the last entry, which the kernel's table stretches to the end of
	// the image).
	whole, err := unwind.ParseORCTable(ipRaw, b.IPAddr, ents, k.orcLayoutFor())
	if err != nil {
		t.Fatal(err)
	}
	inPlace, err := k.kernelORC()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < b.N-1; i += 53 {
		at := b.IPAddr + uint64(4*i)
		ip := at + uint64(int64(int32(binary.LittleEndian.Uint32(ipRaw[4*i:]))))
		for _, pc := range []uint64{ip - 1, ip, ip + 1} {
			a, aok := whole.Find(pc)
			b, bok := inPlace.Find(pc)
			if a != b || aok != bok {
				t.Fatalf("pc %#x: whole table %+v %v, in place %+v %v", pc, a, aok, b, bok)
			}
		}
	}

	a, ok := k.Syms.Lookup("__crash_kexec")
	if !ok {
		t.Fatal("no __crash_kexec")
	}
	if _, ok := k.debugFrames().Rule(a + 150); !ok {
		t.Error("__crash_kexec+150: no CFI rule at the slid address")
	}
}

// The module fallback sizes a symbol as the kernel's oops lines do: to the
// next symbol, else to the end of the text holding it; not by st_size.
func TestModuleSymSize(t *testing.T) {
	m := &loadedModule{
		text: []StackRange{{Lo: 0x1000, Hi: 0x1200}},
		syms: []modSym{{addr: 0x1040, size: 0x26, name: "a"}, {addr: 0x1040, size: 0x26, name: "a_alias"}, {addr: 0x1070, size: 0x23, name: "b"}},
	}
	for i, want := range []uint64{0x30, 0x30, 0x190} {
		if got := m.symSize(i); got != want {
			t.Errorf("symSize(%d) = %#x, want %#x", i, got, want)
		}
	}
}

// TestORCLayoutFromTypes: the ORC entry layout comes from struct
// orc_entry's members, not the release: "end" on the corpus's 6.1 (from
// its BTF and its DWARF), "signal" on the 6.12 fixture.
func TestORCLayoutFromTypes(t *testing.T) {
	check := func(name string, k *Kernel, member string, want unwind.ORCLayout) {
		t.Helper()
		if !k.Types.HasMember("orc_entry", member) {
			t.Errorf("%s: struct orc_entry has no %q", name, member)
		}
		if got := k.orcLayoutFor(); got != want {
			t.Errorf("%s: layout %d, want %d", name, got, want)
		}
	}
	d, err := vmcore.Open(fixture612 + ".vmcore")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	k, err := Attach(d, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check("6.12 BTF", k, "signal", unwind.ORCLayout64)
	dumps := corpus.Dumps(t)
	check("6.1 BTF", attachCorpus(t, dumps[0], ""), "end", unwind.ORCLayout61)
	check("6.1 DWARF", attachCorpus(t, dumps[0], corpus.Vmlinux(t)), "end", unwind.ORCLayout61)
}
