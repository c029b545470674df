package unwind

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/ktriage/ktriage/internal/corpus"
)

func orcBytes(sp, bp int16, flags0, flags1 byte) []byte {
	b := make([]byte, 6)
	binary.LittleEndian.PutUint16(b, uint16(sp))
	binary.LittleEndian.PutUint16(b[2:], uint16(bp))
	b[4], b[5] = flags0, flags1
	return b
}

func TestDecodeORCEntry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		b      []byte
		layout ORCLayout
		want   ORCEntry
	}{
		// 6.1: sp_reg:4 bp_reg:4 | type:2 end:1
		{"6.1 call", orcBytes(16, -16, byte(orcRegSP)|byte(orcRegPrevSP)<<4, 0), ORCLayout61,
			ORCEntry{spOffset: 16, bpOffset: -16, spReg: orcRegSP, bpReg: orcRegPrevSP, typ: orcCall}},
		{"6.1 regs", orcBytes(0, 0, byte(orcRegSP), 1), ORCLayout61,
			ORCEntry{spReg: orcRegSP, typ: orcRegs, signal: true}},
		{"6.1 iret", orcBytes(8, 0, byte(orcRegSP), 2), ORCLayout61,
			ORCEntry{spOffset: 8, spReg: orcRegSP, typ: orcRegsPartial, signal: true}},
		{"6.1 end of stack", orcBytes(0, 0, 0, 1<<2), ORCLayout61,
			ORCEntry{typ: orcEndOfStack}},
		{"6.1 undefined", orcBytes(0, 0, 0, 0), ORCLayout61,
			ORCEntry{typ: orcUndefined}},
		// 6.4: sp_reg:4 bp_reg:4 | type:3 signal:1, types renumbered
		{"6.4 call", orcBytes(8, 0, byte(orcRegSP), 2), ORCLayout64,
			ORCEntry{spOffset: 8, spReg: orcRegSP, typ: orcCall}},
		{"6.4 call signal", orcBytes(8, 0, byte(orcRegSP), 2|1<<3), ORCLayout64,
			ORCEntry{spOffset: 8, spReg: orcRegSP, typ: orcCall, signal: true}},
		{"6.4 regs", orcBytes(0, 0, byte(orcRegSP), 3), ORCLayout64,
			ORCEntry{spReg: orcRegSP, typ: orcRegs, signal: true}},
		{"6.4 iret", orcBytes(0, 0, byte(orcRegSP), 4), ORCLayout64,
			ORCEntry{spReg: orcRegSP, typ: orcRegsPartial, signal: true}},
		{"6.4 end of stack", orcBytes(0, 0, 0, 1), ORCLayout64, ORCEntry{typ: orcEndOfStack}},
		{"6.4 undefined", orcBytes(0, 0, 0, 0), ORCLayout64, ORCEntry{typ: orcUndefined}},
	} {
		if got := decodeORCEntry(tc.b, tc.layout); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// orcTableBytes lays out a table as the kernel does: each IP slot holds
// the target minus the slot's own address.
func orcTableBytes(base uint64, ips []uint64, entries [][]byte) ([]byte, []byte) {
	ipRaw := make([]byte, 4*len(ips))
	var ents []byte
	for i, ip := range ips {
		binary.LittleEndian.PutUint32(ipRaw[4*i:], uint32(int32(int64(ip-(base+uint64(4*i))))))
		ents = append(ents, entries[i]...)
	}
	return ipRaw, ents
}

func TestORCTableFind(t *testing.T) {
	const base = 0xffffffff82000000
	call := orcBytes(8, 0, byte(orcRegSP), 0)
	regs := orcBytes(0, 0, byte(orcRegSP), 1)
	end := orcBytes(0, 0, 0, 1<<2)
	// Out of order on purpose: module tables may be caught unsorted.
	ips := []uint64{0xffffffff81000100, 0xffffffff81000000, 0xffffffff81000200}
	ipRaw, ents := orcTableBytes(base, ips, [][]byte{regs, call, end})
	tab, err := ParseORCTable(ipRaw, base, ents, ORCLayout61)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pc   uint64
		ok   bool
		want orcType
	}{
		{0xffffffff80ffffff, false, 0},
		{0xffffffff81000000, true, orcCall},
		{0xffffffff810000ff, true, orcCall},
		{0xffffffff81000100, true, orcRegs},
		{0xffffffff81000200, true, orcEndOfStack},
		{0xffffffff81000201, false, 0}, // past the last entry: the kernel's loader widens hi
	} {
		e, ok := tab.Find(tc.pc)
		if ok != tc.ok || ok && e.typ != tc.want {
			t.Errorf("find(%#x) = %v %v, want %v %v", tc.pc, e.typ, ok, tc.want, tc.ok)
		}
	}
	if _, err := ParseORCTable(ipRaw, base, ents[:10], ORCLayout61); err == nil {
		t.Error("short entry array accepted")
	}
	if _, err := ParseORCTable(nil, base, nil, ORCLayout61); err == nil {
		t.Error("empty table accepted")
	}
}

// Eight real entries of Debian's 6.1.0-56-cloud-amd64 vmlinux, starting
// at __schedule (0xffffffff81a10af0), whose .orc_unwind_ip slot is at
// 0xffffffff82db8d98.
const (
	realORCIPAddr  = 0xffffffff82db8d98
	realScheduleIP = 0xffffffff81a10af0
	realORCIPs     = "587dc5fe557dc5fe547dc5fec280c5fec380c5fe3787c5fe4087c5fe4287c5fe"
	realORCEntries = "0800000005001000f0ff15001000f0ff14000800000005001000f0ff14000000000000000800000005001000f0ff1500"
)

func TestORCRealSchedule(t *testing.T) {
	ipRaw, _ := hex.DecodeString(realORCIPs)
	ents, _ := hex.DecodeString(realORCEntries)
	tab, err := ParseORCTable(ipRaw, realORCIPAddr, ents, ORCLayout61)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		off  uint64
		want ORCEntry
	}{
		{0, ORCEntry{spOffset: 8, spReg: orcRegSP, typ: orcCall}},                                          // return address on top
		{1, ORCEntry{spOffset: 16, bpOffset: -16, spReg: orcRegSP, bpReg: orcRegPrevSP, typ: orcCall}},     // after push %rbp
		{0x300, ORCEntry{spOffset: 16, bpOffset: -16, spReg: orcRegBP, bpReg: orcRegPrevSP, typ: orcCall}}, // rbp-based body
		{0x9f3, ORCEntry{typ: orcUndefined}},                                                               // past the end
	} {
		e, ok := tab.Find(realScheduleIP + tc.off)
		if !ok || e != tc.want {
			t.Errorf("__schedule+%#x: %+v %v, want %+v", tc.off, e, ok, tc.want)
		}
	}
}

func FuzzORCTable(f *testing.F) {
	const base = 0xffffffff82000000
	realIPs, _ := hex.DecodeString(realORCIPs)
	realEnts, _ := hex.DecodeString(realORCEntries)
	f.Add(realIPs, realEnts, false, uint64(realScheduleIP+0x100))
	ipRaw, ents := orcTableBytes(base, []uint64{0xffffffff81000000, 0xffffffff81000100},
		[][]byte{orcBytes(8, 0, 5, 0), orcBytes(0, 0, 0, 4)})
	f.Add(ipRaw, ents, false, uint64(0xffffffff81000080))
	f.Add(ipRaw[:4], ents, true, uint64(0xffffffff81000000))
	f.Fuzz(func(t *testing.T, ipRaw, ents []byte, v64 bool, pc uint64) {
		layout := ORCLayout61
		if v64 {
			layout = ORCLayout64
		}
		tab, err := ParseORCTable(ipRaw, base, ents, layout)
		if (tab == nil) == (err == nil) {
			t.Fatalf("table %v with error %v", tab, err)
		}
		if err != nil {
			return
		}
		for i := 1; i < len(tab.ips); i++ {
			if tab.ips[i] < tab.ips[i-1] {
				t.Fatalf("IPs not sorted at %d", i)
			}
		}
		if e, ok := tab.Find(pc); ok {
			if pc < tab.ips[0] || e.typ > orcRegsPartial || e.spReg > 15 || e.bpReg > 15 {
				t.Fatalf("find(%#x) = %+v", pc, e)
			}
		}
	})
}

// FuzzDebugFrame: a damaged .debug_frame gives an error or rules, never a
// panic; rules only use rsp or rbp as the CFA base.
func FuzzDebugFrame(f *testing.F) {
	// A CIE (code align 1, data align -8, RA r16, CFA rsp+8, RA at CFA-8)
	// and an FDE for 0x1000..0x1040 that pushes rbp at +1.
	cie := []byte{0x14, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 0x10,
		0x0c, 0x07, 0x08, 0x90, 0x01, 0, 0, 0, 0, 0, 0}
	fde := []byte{0x1c, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0,
		0x41, 0x0e, 0x10, 0x86, 0x02, 0, 0, 0}
	seed := append(append([]byte{}, cie...), fde...)
	d, err := NewDebugFrame(seed, 0)
	if err != nil {
		f.Fatal(err)
	}
	if r, ok := d.Rule(0x1001); !ok || r.cfaReg != dwarfRegRSP || r.cfaOff != 16 || !r.bpSaved || r.bpOff != -16 || r.raOff != -8 {
		f.Fatalf("seed rule at 0x1001: %+v %v", r, ok)
	}
	f.Add(seed, uint64(0x1001))
	f.Fuzz(func(t *testing.T, data []byte, pc uint64) {
		d, err := NewDebugFrame(data, 0)
		if err != nil {
			return
		}
		if r, ok := d.Rule(pc); ok && r.cfaReg != dwarfRegRSP && r.cfaReg != dwarfRegRBP {
			t.Fatalf("rule %+v", r)
		}
	})
}

// The FDE-at-a-time reader gives the rules a whole-section parse gives, on
// the vmlinux's .debug_frame, at the start and middle of sampled FDEs.
func TestDebugFrameOnDemandMatchesWholeParse(t *testing.T) {
	f, err := elf.Open(corpus.Vmlinux(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := f.Section(".debug_frame").Data()
	if err != nil {
		t.Fatal(err)
	}
	whole, err := safeParse(data)
	if err != nil {
		t.Fatal(err)
	}
	whole = frame.FrameDescriptionEntries(nil).Append(whole)
	lazy, err := NewDebugFrame(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lazy.fdes) != len(whole) {
		t.Fatalf("%d FDE headers scanned, delve parsed %d", len(lazy.fdes), len(whole))
	}
	n := 0
	for i := 0; i < len(whole); i += 37 {
		for _, pc := range []uint64{whole[i].Begin(), whole[i].Begin() + whole[i].End()/2 - whole[i].Begin()/2} {
			fde, err := whole.FDEForPC(pc)
			want, wok := CFARule{}, false
			if err == nil {
				if fc, err := safeEstablish(fde, pc); err == nil && fc.CFA.Rule == frame.RuleCFA {
					want, wok = lazy.ruleFrom(fde, fc, pc)
				}
			}
			got, ok := lazy.Rule(pc)
			if got != want || ok != wok {
				t.Fatalf("pc %#x: on demand %+v %v, whole parse %+v %v", pc, got, ok, want, wok)
			}
			n++
		}
	}
	t.Logf("%d FDEs; %d sampled PCs agree", len(whole), n)
}

// TestVmlinuxORCAndCFI reads both unwind sources from the corpus kernel's
// debug vmlinux (link-time addresses, no slide): __crash_kexec is
// STACK_FRAME_NON_STANDARD, so no usable ORC but CFI; and ORC agrees with
// .debug_frame on the caller's SP for nearly every function.
func TestVmlinuxORCAndCFI(t *testing.T) {
	path := corpus.Vmlinux(t)
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ipRaw, ipAddr, ents := corpus.ORCSections(t, f)
	tab, err := ParseORCTable(ipRaw, ipAddr, ents, ORCLayout61)
	if err != nil {
		t.Fatal(err)
	}
	cfi, err := LoadDebugFrame(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var crashKexec uint64
	for _, s := range syms {
		if s.Name == "__crash_kexec" && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			crashKexec = s.Value
		}
	}
	if crashKexec == 0 {
		t.Fatal("no __crash_kexec")
	}
	if e, ok := tab.Find(crashKexec + 150); ok && e.typ != orcUndefined {
		t.Errorf("__crash_kexec+150 has ORC %+v; the notes say none", e)
	}
	r, ok := cfi.Rule(crashKexec + 150)
	if !ok || r.cfaReg != dwarfRegRSP || r.cfaOff != 192 {
		t.Errorf("__crash_kexec+150 CFI = %+v %v, want CFA = rsp+192", r, ok)
	}

	// Sample ORC CALL entries against CFI: the caller's SP must agree
	// (objtool and GCC may differ by a word right at a push).
	agree, n := 0, 0
	for i := 0; i < len(tab.ips); i += 97 {
		e := decodeORCEntry(tab.entries[i*ORCEntrySize:], ORCLayout61)
		if e.typ != orcCall || e.spReg != orcRegSP {
			continue
		}
		r, ok := cfi.Rule(tab.ips[i])
		if !ok || r.cfaReg != dwarfRegRSP {
			continue
		}
		n++
		if r.cfaOff == int64(e.spOffset) {
			agree++
		}
	}
	if n < 500 || agree*100 < n*98 {
		t.Errorf("ORC and CFI agree on %d of %d sampled entries", agree, n)
	}
	t.Logf("%d ORC entries; ORC and CFI agree on %d/%d sampled CALL entries", len(tab.ips), agree, n)
}
