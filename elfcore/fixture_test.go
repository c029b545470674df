package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// fixturePath is the real sysrq vmcore cut down by testdata/elf/make.sh.
const fixturePath = "../testdata/elf/sysrq-notes.elf"

func openFixture(t testing.TB) (*File, []byte) {
	t.Helper()
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Open(%s): %v", fixturePath, err)
	}
	return f, data
}

// Expected values come from eu-readelf -n on the uncut vmcore and from
// crash 8.0.6's `bt -a` (../shared/corpus/dumps/sysrq-elf/crash-8.0.6).
func TestFixtureHeader(t *testing.T) {
	f, _ := openFixture(t)
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Data != elf.ELFDATA2LSB {
		t.Errorf("class/machine/data = %v/%v/%v, want ELFCLASS64/EM_X86_64/ELFDATA2LSB", f.Class, f.Machine, f.Data)
	}
	if f.Incomplete() || f.Truncated() {
		t.Errorf("Incomplete()=%v Truncated()=%v, want false", f.Incomplete(), f.Truncated())
	}
	if len(f.Loads) != 13 {
		t.Fatalf("got %d PT_LOAD segments, want 13", len(f.Loads))
	}
	for i := 1; i < len(f.Loads); i++ {
		if f.Loads[i-1].PAddr > f.Loads[i].PAddr {
			t.Fatalf("Loads not sorted by PAddr at %d: %#x > %#x", i, f.Loads[i-1].PAddr, f.Loads[i].PAddr)
		}
	}
	if got := f.Loads[0]; got.PAddr != 0x1000 || got.MemSize != 0x9ec00 || got.VAddr != 0xffff8e5dc0001000 {
		t.Errorf("lowest segment = %+v, want paddr 0x1000 memsz 0x9ec00 vaddr 0xffff8e5dc0001000", got)
	}
	if len(f.Notes) != 3 {
		t.Fatalf("got %d notes, want 3 (2 x CORE/NT_PRSTATUS, VMCOREINFO)", len(f.Notes))
	}
	if n := f.Notes[2]; n.Name != "VMCOREINFO" || n.Type != 0 || len(n.Desc) != 3282 {
		t.Errorf("note 2 = %q type %d, %d bytes; want VMCOREINFO type 0, 3282 bytes", n.Name, n.Type, len(n.Desc))
	}
}

func TestFixtureVMCOREINFO(t *testing.T) {
	f, _ := openFixture(t)
	info := f.VMCOREINFO()
	if !bytes.HasPrefix(info, []byte("OSRELEASE=6.1.0-56-cloud-amd64\n")) {
		t.Errorf("VMCOREINFO starts %q, want OSRELEASE=6.1.0-56-cloud-amd64", info[:min(len(info), 40)])
	}
	for _, line := range []string{
		"BUILD-ID=3b43fad5034874490492495d552c0af6a5fab235\n",
		"SYMBOL(prb)=ffffffffa70622c0\n",
		"KERNELOFFSET=24600000\n",
		"CRASHTIME=1795747778\n",
	} {
		if !bytes.Contains(info, []byte(line)) {
			t.Errorf("VMCOREINFO lacks %q", line)
		}
	}
	if bytes.IndexByte(info, 0) >= 0 {
		t.Error("VMCOREINFO text contains a NUL")
	}
}

func TestFixturePRStatus(t *testing.T) {
	f, _ := openFixture(t)
	ps := f.PRStatus()
	if len(ps) != 2 {
		t.Fatalf("got %d NT_PRSTATUS, want 2 CPUs", len(ps))
	}
	for i, p := range ps {
		if p.Err != nil {
			t.Errorf("CPU %d: %v", i, p.Err)
		}
		if len(p.RawRegs) != 27*8 {
			t.Errorf("CPU %d: RawRegs has %d bytes, want 216", i, len(p.RawRegs))
		}
	}
	// CPU 0 was stopped by the crash NMI in native_safe_halt; crash's bt -a
	// prints exactly these registers for it.
	want0 := X86_64Regs{
		R15: 0x14790, R14: 0xffffffffa701a120, RBP: 0xffffffffa701aa40, R10: 0xfffffffb,
		R9: 0x3457c110, R8: 0xffffffffffca9f8b, RAX: 0x1ad40, RDX: 0x4000000000000000,
		RDI: 0x7ca4, OrigRAX: 0xffffffffffffffff, RIP: 0xffffffffa6017a0b, CS: 0x10,
		EFLAGS: 0x246, RSP: 0xffffffffa7003e98, SS: 0x18,
	}
	if ps[0].PID != 0 || ps[0].Regs != want0 {
		t.Errorf("CPU 0: pid %d regs %+v\nwant pid 0 regs %+v", ps[0].PID, ps[0].Regs, want0)
	}
	// CPU 1 panicked (sysrq-trigger written by init, pid 1): its registers
	// were saved by crash_setup_regs inside __crash_kexec.
	p1 := ps[1]
	if p1.PID != 1 || p1.Regs.RIP != 0xffffffffa576475a || p1.Regs.RSP != 0xffffd20900013b20 ||
		p1.Regs.RBP != 0xffffd20900013c50 || p1.Regs.FSBase != 0xd13a3c0 || p1.Regs.EFLAGS != 0x46 {
		t.Errorf("CPU 1: pid %d regs %+v", p1.PID, p1.Regs)
	}
	if q := f.QEMUCPUStates(); len(q) != 0 {
		t.Errorf("kdump vmcore has %d QEMU notes, want 0", len(q))
	}
}

func TestFixtureReadPhys(t *testing.T) {
	f, data := openFixture(t)
	// Physical 0x1000 is the first page kept of the segment stored at file
	// offset 0x3304 (see readelf -l); the rest of that segment reads as zero.
	page := make([]byte, 0x2000)
	n, err := f.ReadPhys(page, 0x1000)
	if err != nil || n != len(page) {
		t.Fatalf("ReadPhys(0x1000) = %d, %v", n, err)
	}
	if !bytes.Equal(page[:0x1000], data[0x3304:0x4304]) {
		t.Error("ReadPhys(0x1000) differs from the file bytes at 0x3304")
	}
	if !allZero(page[0x1000:]) {
		t.Error("bytes past p_filesz are not zero")
	}
	// 0xa0000..0x100000 (legacy VGA and ROM) is in no segment.
	n, err = f.ReadPhys(page[:16], 0x9fbf8)
	if !errors.Is(err, ErrNotPresent) || n != 8 {
		t.Errorf("ReadPhys across the end of low RAM at 0x9fc00 = %d, %v; want 8, ErrNotPresent", n, err)
	}
	// The kernel image appears twice (text mapping and direct map): both
	// segments keep the same first page.
	n, err = f.ReadPhys(page[:0x1000], 0x36200000)
	if err != nil || !bytes.Equal(page[:0x1000], data[0x1304:0x2304]) {
		t.Errorf("ReadPhys(0x36200000) = %d, %v, or wrong bytes", n, err)
	}
}

// TestParseNotesStandalone decodes the fixture's note segment as a bare
// note area, the way the vmcore package reads a kdump-compressed dump's.
func TestParseNotesStandalone(t *testing.T) {
	f, data := openFixture(t)
	area := data[0x350 : 0x350+0xfb4] // the PT_NOTE segment (readelf -l)
	notes, err := ParseNotes(area, binary.LittleEndian)
	if err != nil || len(notes) != len(f.Notes) {
		t.Fatalf("ParseNotes = %d notes, %v", len(notes), err)
	}
	for i, n := range notes {
		if n.Name != f.Notes[i].Name || n.Type != f.Notes[i].Type || !bytes.Equal(n.Desc, f.Notes[i].Desc) ||
			n.Offset != f.Notes[i].Offset-0x350 {
			t.Errorf("note %d: %q/%d at %#x differs from Open's", i, n.Name, n.Type, n.Offset)
		}
	}
	ps := DecodePRStatus(elf.EM_X86_64, notes[1])
	if ps.Err != nil || ps.PID != 1 || ps.Regs != f.PRStatus()[1].Regs {
		t.Errorf("DecodePRStatus = %+v", ps)
	}
	if _, err := ParseNotes(area[:100], binary.LittleEndian); err == nil {
		t.Error("ParseNotes of a cut note area: no error")
	}
}
