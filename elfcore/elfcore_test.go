package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// prstatusX86_64 lays out a struct elf_prstatus as the x86_64 kernel does
// (include/linux/elfcore.h): 112 bytes of common part, 27 registers, fpvalid.
func prstatusX86_64(order binary.ByteOrder, pid int32, regs [27]uint64) []byte {
	d := make([]byte, 336)
	order.PutUint32(d[0:], 11)  // si_signo
	order.PutUint32(d[4:], 2)   // si_code
	order.PutUint32(d[8:], 3)   // si_errno
	order.PutUint16(d[12:], 11) // pr_cursig
	order.PutUint64(d[16:], 0x100)
	order.PutUint64(d[24:], 0x200)
	order.PutUint32(d[32:], uint32(pid))
	order.PutUint32(d[36:], uint32(pid-1))
	order.PutUint32(d[40:], 7)
	order.PutUint32(d[44:], 8)
	order.PutUint64(d[48:], 5)  // pr_utime.tv_sec
	order.PutUint64(d[56:], 6)  // pr_utime.tv_usec
	order.PutUint64(d[104:], 9) // pr_cstime.tv_usec
	for i, r := range regs {
		order.PutUint64(d[112+8*i:], r)
	}
	order.PutUint32(d[328:], 1)
	return d
}

// prstatusI386 lays out the i386 kernel's struct elf_prstatus: 72 bytes of
// common part (4-byte longs), 17 registers, fpvalid.
func prstatusI386(order binary.ByteOrder, pid int32, regs [17]uint32) []byte {
	d := make([]byte, 144)
	order.PutUint32(d[0:], 6)
	order.PutUint16(d[12:], 6)
	order.PutUint32(d[16:], 0x100) // pr_sigpend
	order.PutUint32(d[24:], uint32(pid))
	order.PutUint32(d[40:], 4) // pr_utime.tv_sec
	order.PutUint32(d[68:], 9) // pr_cstime.tv_usec
	for i, r := range regs {
		order.PutUint32(d[72+4*i:], r)
	}
	order.PutUint32(d[140:], 1)
	return d
}

// qemuState lays out QEMU's QEMUCPUState (target/i386/arch_dump.c):
// version, size, 18 registers, 10 segments of 24 bytes, cr[5], and
// kernel_gs_base when size is 440.
func qemuState(order binary.ByteOrder, size uint32, rip, cr3 uint64) []byte {
	d := make([]byte, size)
	order.PutUint32(d[0:], 1)
	order.PutUint32(d[4:], size)
	for i := 0; i < 16; i++ {
		order.PutUint64(d[8+8*i:], uint64(i+1)) // rax=1 ... r15=16
	}
	order.PutUint64(d[136:], rip)
	order.PutUint64(d[144:], 0x246)
	for s := 0; s < 10; s++ { // cs ds es fs gs ss ldt tr gdt idt
		o := 152 + 24*s
		order.PutUint32(d[o:], uint32(0x10+s))
		order.PutUint32(d[o+4:], 0xffff)
		order.PutUint32(d[o+8:], 0xa09b00)
		order.PutUint64(d[o+16:], uint64(0x1000*(s+1)))
	}
	order.PutUint64(d[392:], 0x80050033)
	order.PutUint64(d[392+3*8:], cr3)
	order.PutUint64(d[392+4*8:], 0x3506f0)
	if size >= 440 {
		order.PutUint64(d[432:], 0xffff888007a00000)
	}
	return d
}

func seqRegs64() (r [27]uint64) {
	for i := range r {
		r[i] = 0x1111111100000000 + uint64(i)
	}
	return r
}

func TestELF64X86_64Notes(t *testing.T) {
	order := binary.LittleEndian
	c := testCore{class: elf.ELFCLASS64, order: order, machine: elf.EM_X86_64, notes: []Note{
		{Name: "CORE", Type: uint32(elf.NT_PRSTATUS), Desc: prstatusX86_64(order, 0, seqRegs64())},
		{Name: "QEMU", Type: 0, Desc: qemuState(order, 432, 0xffffffff81000000, 0x2a0c000)},
		{Name: "CORE", Type: uint32(elf.NT_PRSTATUS), Desc: prstatusX86_64(order, 42, [27]uint64{16: 0xffffffff8100dead})},
		{Name: "QEMU", Type: 0, Desc: qemuState(order, 440, 0xffffffff8100dead, 0x2a0c000)},
		{Name: "VMCOREINFO", Type: 0, Desc: []byte("OSRELEASE=6.1.0\nPAGESIZE=4096\n\x00\x00")},
	}}
	f, err := openBytes(c.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.VMCOREINFO()); got != "OSRELEASE=6.1.0\nPAGESIZE=4096\n" {
		t.Errorf("VMCOREINFO = %q", got)
	}
	ps := f.PRStatus()
	if len(ps) != 2 {
		t.Fatalf("got %d PRStatus, want 2", len(ps))
	}
	p := ps[0]
	if p.Err != nil || p.I386 != nil {
		t.Fatalf("CPU 0: Err %v, I386 %v", p.Err, p.I386)
	}
	if p.SigNo != 11 || p.SigCode != 2 || p.SigErrno != 3 || p.CurSig != 11 || p.SigPend != 0x100 || p.SigHold != 0x200 ||
		p.PID != 0 || p.PPID != -1 || p.PGrp != 7 || p.SID != 8 || p.UTime != (Timeval{5, 6}) || p.CSTime.Usec != 9 || p.FPValid != 1 {
		t.Errorf("CPU 0 common part = %+v", p)
	}
	r := p.Regs
	base := uint64(0x1111111100000000)
	if r.R15 != base || r.RBP != base+4 || r.RAX != base+10 || r.OrigRAX != base+15 || r.RIP != base+16 ||
		r.CS != base+17 || r.EFLAGS != base+18 || r.RSP != base+19 || r.SS != base+20 || r.FSBase != base+21 || r.GS != base+26 {
		t.Errorf("CPU 0 registers out of user_regs_struct order: %+v", r)
	}
	if ps[1].PID != 42 || ps[1].Regs.RIP != 0xffffffff8100dead {
		t.Errorf("CPU 1: pid %d rip %#x", ps[1].PID, ps[1].Regs.RIP)
	}

	qs := f.QEMUCPUStates()
	if len(qs) != 2 {
		t.Fatalf("got %d QEMU states, want 2", len(qs))
	}
	q := qs[0]
	if q.Err != nil || q.Version != 1 || q.Size != 432 || q.HasKernelGSBase {
		t.Fatalf("QEMU 0: %+v", q)
	}
	if q.RAX != 1 || q.RBX != 2 || q.RSP != 7 || q.RBP != 8 || q.R8 != 9 || q.R15 != 16 || q.RIP != 0xffffffff81000000 || q.RFLAGS != 0x246 {
		t.Errorf("QEMU 0 registers: %+v", q.QEMURegisters)
	}
	if q.CS != (QEMUSegment{Selector: 0x10, Limit: 0xffff, Flags: 0xa09b00, Base: 0x1000}) ||
		q.SS.Selector != 0x15 || q.LDT.Selector != 0x16 || q.TR.Selector != 0x17 || q.GDT.Base != 0x9000 || q.IDT.Base != 0xa000 {
		t.Errorf("QEMU 0 segments: cs %+v ss %+v ldt %+v tr %+v gdt %+v idt %+v", q.CS, q.SS, q.LDT, q.TR, q.GDT, q.IDT)
	}
	if q.CR != [5]uint64{0x80050033, 0, 0, 0x2a0c000, 0x3506f0} {
		t.Errorf("QEMU 0 cr = %#x", q.CR)
	}
	if alone := DecodeQEMUCPUState(order, f.Notes[3]); alone != qs[1] {
		t.Errorf("DecodeQEMUCPUState = %+v, File.QEMUCPUStates()[1] = %+v", alone, qs[1])
	}
	if q1 := qs[1]; q1.Err != nil || !q1.HasKernelGSBase || q1.KernelGSBase != 0xffff888007a00000 || q1.RIP != 0xffffffff8100dead {
		t.Errorf("QEMU 1: %+v", q1)
	}
}

func TestELF32I386(t *testing.T) {
	order := binary.LittleEndian
	regs := [17]uint32{1, 2, 3, 4, 5, 6, 7, 0x7b, 0x7b, 0xd8, 0x33, 0xffffffff, 0xc1000000, 0x60, 0x246, 0xc0001000, 0x68}
	c := testCore{class: elf.ELFCLASS32, order: order, machine: elf.EM_386, flags: FlagIncomplete,
		notes: []Note{{Name: "CORE", Type: uint32(elf.NT_PRSTATUS), Desc: prstatusI386(order, 3, regs)}},
		loads: []testLoad{{paddr: 0x1000, vaddr: 0xc0001000, data: pattern(0x2000, 1)}},
	}
	f, err := openBytes(c.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Class != elf.ELFCLASS32 || f.Machine != elf.EM_386 || !f.Incomplete() {
		t.Errorf("class %v machine %v incomplete %v", f.Class, f.Machine, f.Incomplete())
	}
	ps := f.PRStatus()
	if len(ps) != 1 || ps[0].I386 == nil || ps[0].Err != nil {
		t.Fatalf("PRStatus = %+v", ps)
	}
	p := ps[0]
	want := I386Regs{EBX: 1, ECX: 2, EDX: 3, ESI: 4, EDI: 5, EBP: 6, EAX: 7, DS: 0x7b, ES: 0x7b, FS: 0xd8, GS: 0x33,
		OrigEAX: 0xffffffff, EIP: 0xc1000000, CS: 0x60, EFLAGS: 0x246, ESP: 0xc0001000, SS: 0x68}
	if *p.I386 != want {
		t.Errorf("i386 regs = %+v, want %+v", *p.I386, want)
	}
	if p.Regs.RIP != 0xc1000000 || p.Regs.RSP != 0xc0001000 || p.Regs.RAX != 7 || p.Regs.GS != 0x33 {
		t.Errorf("widened regs = %+v", p.Regs)
	}
	if p.PID != 3 || p.SigNo != 6 || p.CurSig != 6 || p.SigPend != 0x100 || p.UTime.Sec != 4 || p.CSTime.Usec != 9 || p.FPValid != 1 {
		t.Errorf("common part = %+v", p)
	}
	buf := make([]byte, 0x2000)
	if n, err := f.ReadPhys(buf, 0x1000); err != nil || n != len(buf) || !bytes.Equal(buf, pattern(0x2000, 1)) {
		t.Errorf("ReadPhys = %d, %v", n, err)
	}
}

func TestBigEndianOtherMachine(t *testing.T) {
	order := binary.BigEndian
	// ppc64's elf_prstatus: 112-byte common part, 48 registers, fpvalid + pad.
	desc := make([]byte, 112+48*8+8)
	order.PutUint32(desc[32:], 77)
	order.PutUint64(desc[112:], 0xc000000000001234) // gpr0
	c := testCore{class: elf.ELFCLASS64, order: order, machine: elf.EM_PPC64,
		notes: []Note{
			{Name: "CORE", Type: uint32(elf.NT_PRSTATUS), Desc: desc},
			{Name: "VMCOREINFO", Desc: []byte("OSRELEASE=5.14.0\n")},
		},
		loads: []testLoad{{paddr: 0, data: pattern(4096, 3), memsz: 8192}},
	}
	f, err := openBytes(c.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Data != elf.ELFDATA2MSB || f.ByteOrder != binary.BigEndian {
		t.Errorf("data %v", f.Data)
	}
	ps := f.PRStatus()
	if len(ps) != 1 || ps[0].Err != nil || ps[0].PID != 77 || len(ps[0].RawRegs) != 48*8 ||
		order.Uint64(ps[0].RawRegs) != 0xc000000000001234 || ps[0].Regs != (X86_64Regs{}) {
		t.Errorf("PRStatus = %+v", ps)
	}
	if string(f.VMCOREINFO()) != "OSRELEASE=5.14.0\n" {
		t.Errorf("VMCOREINFO = %q", f.VMCOREINFO())
	}
	buf := make([]byte, 8)
	if n, err := f.ReadPhys(buf, 4092); err != nil || n != 8 || !bytes.Equal(buf[:4], pattern(4096, 3)[4092:]) || !allZero(buf[4:]) {
		t.Errorf("ReadPhys across p_filesz = %d, %v, %x", n, err, buf)
	}
}

func TestShortNotesDecodeWithErr(t *testing.T) {
	order := binary.LittleEndian
	c := testCore{class: elf.ELFCLASS64, order: order, machine: elf.EM_X86_64, notes: []Note{
		{Name: "CORE", Type: uint32(elf.NT_PRSTATUS), Desc: prstatusX86_64(order, 5, seqRegs64())[:200]},
		{Name: "QEMU", Desc: qemuState(order, 432, 1, 2)[:100]},
		{Name: "QEMU", Desc: []byte{2, 0, 0, 0, 0xb0, 1, 0, 0}},
	}}
	f, err := openBytes(c.bytes())
	if err != nil {
		t.Fatal(err)
	}
	ps := f.PRStatus()
	var fe *FormatError
	if len(ps) != 1 || !errors.As(ps[0].Err, &fe) || ps[0].PID != 5 || ps[0].RawRegs != nil {
		t.Errorf("short PRSTATUS = %+v", ps)
	}
	qs := f.QEMUCPUStates()
	if len(qs) != 2 || qs[0].Err == nil || qs[1].Err == nil || !strings.Contains(qs[1].Err.Error(), "version") {
		t.Errorf("bad QEMU notes = %+v", qs)
	}
}

func TestNoteSegmentPadding(t *testing.T) {
	c := testCore{class: elf.ELFCLASS64, order: binary.LittleEndian, machine: elf.EM_X86_64,
		notes: []Note{{Name: "VMCOREINFO", Desc: []byte("A=1\n")}}, noteTail: make([]byte, 64)}
	f, err := openBytes(c.bytes())
	if err != nil || len(f.Notes) != 1 {
		t.Fatalf("zero-padded note segment: %v, %d notes", err, len(f.Notes))
	}
	c.noteTail = []byte{1, 2, 3}
	if _, err := openBytes(c.bytes()); err == nil {
		t.Error("garbage after the last note: no error")
	}
}

func TestReadPhysSegments(t *testing.T) {
	a, b, k := pattern(0x3000, 1), pattern(0x1000, 2), pattern(0x1000, 3)
	c := testCore{class: elf.ELFCLASS64, order: binary.LittleEndian, machine: elf.EM_X86_64, loads: []testLoad{
		{paddr: 0x10000, data: b},                            // abuts the end of the next one
		{paddr: 0x8000, data: a[:0x2000], memsz: 0x8000},     // 0x8000..0x10000, file bytes for the first 0x2000
		{paddr: 0x20000, memsz: 0x4000},                      // all zero-filled (filtered)
		{paddr: 0x21000, vaddr: 0xffffffff81000000, data: k}, // overlaps the filtered one, with data
	}}
	f, err := openBytes(c.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Loads[0].PAddr != 0x8000 || f.Loads[3].PAddr != 0x21000 {
		t.Errorf("Loads not sorted: %+v", f.Loads)
	}
	// A read from the middle of one segment through its zero tail into the next.
	buf := make([]byte, 0x9000)
	n, err := f.ReadPhys(buf, 0x8000)
	if err != nil || n != len(buf) {
		t.Fatalf("ReadPhys(0x8000, 0x9000) = %d, %v", n, err)
	}
	if !bytes.Equal(buf[:0x2000], a[:0x2000]) || !allZero(buf[0x2000:0x8000]) || !bytes.Equal(buf[0x8000:], b) {
		t.Error("ReadPhys across segments returned wrong bytes")
	}
	// The filtered segment reads as zeros except where the overlapping
	// segment holds data.
	buf = make([]byte, 0x4000)
	for i := range buf {
		buf[i] = 0xff
	}
	if n, err := f.ReadPhys(buf, 0x20000); err != nil || n != 0x4000 {
		t.Fatalf("ReadPhys(0x20000) = %d, %v", n, err)
	}
	if !allZero(buf[:0x1000]) || !bytes.Equal(buf[0x1000:0x2000], k) || !allZero(buf[0x2000:]) {
		t.Error("overlapping segments: data hidden by the zero-filled segment")
	}
	// Holes.
	for _, addr := range []uint64{0, 0x7fff, 0x11000, 0x24000, 1<<64 - 1} {
		if n, err := f.ReadPhys(make([]byte, 1), addr); n != 0 || !errors.Is(err, ErrNotPresent) {
			t.Errorf("ReadPhys(%#x) = %d, %v; want ErrNotPresent", addr, n, err)
		}
	}
	n, err = f.ReadPhys(make([]byte, 0x10), 0x10ff8)
	if n != 8 || !errors.Is(err, ErrNotPresent) {
		t.Errorf("read running off the end = %d, %v", n, err)
	}
	if n, err := f.ReadPhys(nil, 0); n != 0 || err != nil {
		t.Errorf("empty read = %d, %v", n, err)
	}
}

func TestReadPhysTruncated(t *testing.T) {
	c := testCore{class: elf.ELFCLASS64, order: binary.LittleEndian, machine: elf.EM_X86_64, loads: []testLoad{
		{paddr: 0x1000, data: pattern(0x1000, 1)},
		{paddr: 0x2000, data: pattern(0x1000, 2), memsz: 0x2000},
	}}
	data := c.bytes()
	data = data[:len(data)-0x800] // cut in the middle of the second segment
	f, err := openBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Truncated() {
		t.Error("Truncated() = false")
	}
	buf := make([]byte, 0x2000)
	n, err := f.ReadPhys(buf, 0x1000)
	if n != 0x1800 || !errors.Is(err, ErrTruncated) {
		t.Errorf("ReadPhys across the cut = %#x, %v; want 0x1800, ErrTruncated", n, err)
	}
	if !bytes.Equal(buf[0x1000:0x1800], pattern(0x1000, 2)[:0x800]) {
		t.Error("bytes before the cut are wrong")
	}
	if n, err := f.ReadPhys(buf[:16], 0x2800); n != 0 || !errors.Is(err, ErrTruncated) {
		t.Errorf("ReadPhys past the cut = %d, %v", n, err)
	}
	// The zero-filled tail does not depend on the file.
	if n, err := f.ReadPhys(buf[:16], 0x3000); n != 16 || err != nil {
		t.Errorf("ReadPhys in the zero tail = %d, %v", n, err)
	}
}

// TestPNXNUM: with more than 65534 program headers, e_phnum holds PN_XNUM
// and section header 0's sh_info the real count.
func TestPNXNUM(t *testing.T) {
	c := testCore{class: elf.ELFCLASS64, order: binary.LittleEndian, machine: elf.EM_X86_64,
		notes: []Note{{Name: "VMCOREINFO", Desc: []byte("X=1\n")}},
		loads: []testLoad{{paddr: 0x1000, data: pattern(16, 1)}}}
	data := c.bytes()
	shoff := len(data)
	sh := make([]byte, 64)
	binary.LittleEndian.PutUint32(sh[44:], 2) // sh_info: PT_NOTE + PT_LOAD
	data = append(data, sh...)
	binary.LittleEndian.PutUint64(data[40:], uint64(shoff))
	binary.LittleEndian.PutUint16(data[58:], 64)
	binary.LittleEndian.PutUint16(data[60:], 1)
	binary.LittleEndian.PutUint16(data[56:], 0xffff)
	f, err := openBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Loads) != 1 || len(f.Notes) != 1 {
		t.Errorf("PN_XNUM: %d loads, %d notes", len(f.Loads), len(f.Notes))
	}
	binary.LittleEndian.PutUint32(data[shoff+44:], 0xffffffff)
	if _, err := openBytes(data); err == nil || !strings.Contains(err.Error(), "too many program headers") {
		t.Errorf("PN_XNUM with 2^32-1 headers: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	le := binary.LittleEndian
	good := func() []byte {
		c := testCore{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64,
			notes: []Note{{Name: "VMCOREINFO", Desc: []byte("A=1\n")}},
			loads: []testLoad{{paddr: 0x1000, data: pattern(32, 1)}}}
		return c.bytes()
	}
	const ph0, ph1 = 64, 64 + 56 // PT_NOTE and PT_LOAD program headers
	noteOff := int(le.Uint64(good()[ph0+8:]))
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   string
	}{
		{"empty", func(b []byte) []byte { return nil }, "ELF identification"},
		{"bad magic", func(b []byte) []byte { b[1] = 'X'; return b }, "bad ELF magic"},
		{"bad class", func(b []byte) []byte { b[elf.EI_CLASS] = 9; return b }, "unknown ELF class"},
		{"bad data", func(b []byte) []byte { b[elf.EI_DATA] = 0; return b }, "data encoding"},
		{"short header", func(b []byte) []byte { return b[:40] }, "ELF64 header"},
		{"not a core", func(b []byte) []byte { le.PutUint16(b[16:], uint16(elf.ET_EXEC)); return b }, "not a core file"},
		{"phentsize too small", func(b []byte) []byte { le.PutUint16(b[54:], 20); return b }, "e_phentsize"},
		{"phdrs past EOF", func(b []byte) []byte { le.PutUint64(b[32:], uint64(len(b))-50); return b }, "program header table"},
		{"phoff huge", func(b []byte) []byte { le.PutUint64(b[32:], 1<<63); return b }, "program header table"},
		{"PN_XNUM without section header", func(b []byte) []byte { le.PutUint16(b[56:], 0xffff); return b }, "PN_XNUM"},
		{"note too large", func(b []byte) []byte { le.PutUint64(b[ph0+32:], 1<<40); return b }, "notes larger than"},
		{"note past EOF", func(b []byte) []byte { le.PutUint64(b[ph0+32:], uint64(len(b))); return b }, "extend past end of file"},
		{"note name overflow", func(b []byte) []byte { le.PutUint32(b[noteOff:], 0xfffffff0); return b }, "note name"},
		{"note desc overflow", func(b []byte) []byte { le.PutUint32(b[noteOff+4:], 0xfffffff0); return b }, "note descriptor"},
		{"filesz > memsz", func(b []byte) []byte { le.PutUint64(b[ph1+40:], 8); return b }, "larger than p_memsz"},
		{"offset overflow", func(b []byte) []byte { le.PutUint64(b[ph1+8:], 1<<64-8); return b }, "overflows"},
		{"paddr overflow", func(b []byte) []byte { le.PutUint64(b[ph1+24:], 1<<64-8); return b }, "overflows"},
	}
	if _, err := openBytes(good()); err != nil {
		t.Fatalf("unmutated core: %v", err)
	}
	for _, tt := range tests {
		f, err := openBytes(tt.mutate(good()))
		var fe *FormatError
		if f != nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Open = %v, %v; want *FormatError containing %q", tt.name, f, err, tt.want)
		}
	}
}

// sparseReader is a huge file of zeros with a real header at its start: a
// corrupt header in a 1 TiB dump must not make Open allocate what it claims.
type sparseReader struct{ head []byte }

func (s sparseReader) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(s.head)) {
		copy(p, s.head[off:])
	}
	return len(p), nil
}

func TestOpenBoundsAllocation(t *testing.T) {
	le := binary.LittleEndian
	c := testCore{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64,
		notes: []Note{{Name: "VMCOREINFO", Desc: []byte("A=1\n")}}}
	const fileSize = 1 << 40
	for _, tt := range []struct {
		name   string
		mutate func([]byte)
	}{
		{"1 GiB note segment", func(b []byte) { le.PutUint64(b[64+32:], 1<<30) }},
		{"2^32-1 program headers", func(b []byte) {
			le.PutUint16(b[56:], 0xffff)
			le.PutUint64(b[40:], 4096) // section header 0 reads as zeros...
			le.PutUint16(b[58:], 64)
		}},
		{"64 KiB entries x 65534", func(b []byte) { le.PutUint16(b[54:], 0xffff); le.PutUint16(b[56:], 0xfffe) }},
	} {
		head := c.bytes()
		tt.mutate(head)
		if tt.name == "2^32-1 program headers" {
			head = append(head, make([]byte, 4096+64-len(head))...)
			le.PutUint32(head[4096+44:], 0xffffffff)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Open(sparseReader{head}, fileSize)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: Open accepted it", tt.name)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%s: Open allocated %d bytes before refusing", tt.name, grew)
		}
	}
}
