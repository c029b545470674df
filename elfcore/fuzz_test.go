package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"
)

// FuzzOpen feeds arbitrary files to Open and, when it accepts one, to every
// decoder and to ReadPhys, checking invariants rather than only "no panic":
// a result exactly when there is no error, errors of the documented kinds,
// and ReadPhys agreeing byte for byte with a naive model of the segments.
// Seeds: the real cut-down sysrq vmcore, and synthetic ELF32/ELF64 cores.
func FuzzOpen(f *testing.F) {
	if real, err := os.ReadFile(fixturePath); err == nil {
		f.Add(compactFixture(real))
		f.Add(real[:0x1400]) // headers and notes, segments cut off
	}
	le, be := binary.LittleEndian, binary.BigEndian
	f.Add((&testCore{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64, notes: []Note{
		{Name: "CORE", Type: 1, Desc: prstatusX86_64(le, 1, seqRegs64())},
		{Name: "QEMU", Desc: qemuState(le, 440, 0xffffffff81000000, 0x1000)},
		{Name: "VMCOREINFO", Desc: []byte("OSRELEASE=6.1.0\n")},
	}, loads: []testLoad{
		{paddr: 0x1000, data: pattern(64, 1), memsz: 128},
		{paddr: 0x1040, data: pattern(32, 2)},
		{paddr: 0x2000, memsz: 64},
	}}).bytes())
	f.Add((&testCore{class: elf.ELFCLASS32, order: le, machine: elf.EM_386, flags: FlagIncomplete, notes: []Note{
		{Name: "CORE", Type: 1, Desc: prstatusI386(le, 2, [17]uint32{12: 0xc1000000})},
		{Name: "QEMU", Desc: qemuState(le, 432, 0xc1000000, 0x1000)},
	}, loads: []testLoad{{paddr: 0, data: pattern(48, 3), memsz: 96}}}).bytes())
	f.Add((&testCore{class: elf.ELFCLASS64, order: be, machine: elf.EM_PPC64, notes: []Note{
		{Name: "CORE", Type: 1, Desc: make([]byte, 504)},
	}, loads: []testLoad{{paddr: 0x10, data: pattern(16, 4)}}}).bytes())

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Open(bytes.NewReader(data), int64(len(data)))
		if (file == nil) == (err == nil) {
			t.Fatalf("Open returned %v and %v", file, err)
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Open error is not a *FormatError: %v", err)
			}
			_ = err.Error()
			return
		}
		checkFile(t, file, data)
	})
}

// compactFixture keeps the fixture's headers and notes and 64 bytes of each
// segment: the full 50 KB seed makes every mutation and minimization slow
// while its page contents teach the fuzzer nothing.
func compactFixture(real []byte) []byte {
	const dataStart, keep = 0x1304, 64 // end of the notes; see readelf -l
	le := binary.LittleEndian
	out := bytes.Clone(real[:dataStart])
	phnum := int(le.Uint16(real[56:]))
	for i := 0; i < phnum; i++ {
		ph := out[64+56*i:]
		if elf.ProgType(le.Uint32(ph)) != elf.PT_LOAD || le.Uint64(ph[32:]) == 0 {
			continue
		}
		off := le.Uint64(ph[8:])
		le.PutUint64(ph[8:], uint64(len(out)))
		le.PutUint64(ph[32:], keep)
		out = append(out, real[off:off+keep]...)
	}
	return out
}

func checkFile(t *testing.T, f *File, data []byte) {
	for i, s := range f.Loads {
		if s.FileSize > s.MemSize {
			t.Fatalf("segment %d: FileSize > MemSize: %+v", i, s)
		}
		if i > 0 && f.Loads[i-1].PAddr > s.PAddr {
			t.Fatalf("Loads not sorted at %d", i)
		}
	}
	// Several PT_NOTE headers may name the same bytes, so the notes can
	// add up to more than the file, but never past MaxNotesSize.
	total := 0
	for _, n := range f.Notes {
		total += len(n.Desc) + len(n.Name)
		if n.Offset < 0 || n.Offset >= int64(len(data)) || len(n.Desc) > len(data) {
			t.Fatalf("note %q at %d with %d bytes does not fit the file", n.Name, n.Offset, len(n.Desc))
		}
	}
	if total > MaxNotesSize {
		t.Fatalf("notes hold %d bytes, more than MaxNotesSize", total)
	}
	_ = f.VMCOREINFO()
	_ = f.Truncated()
	for _, p := range f.PRStatus() {
		_ = fmt.Sprintf("%+v", p)
		var fe *FormatError
		if p.Err != nil && !errors.As(p.Err, &fe) {
			t.Fatalf("PRStatus.Err is not a *FormatError: %v", p.Err)
		}
	}
	for _, q := range f.QEMUCPUStates() {
		_ = fmt.Sprintf("%+v", q)
	}

	// ReadPhys around the edges of the first segments, against the model.
	for _, s := range f.Loads[:min(len(f.Loads), 16)] {
		for _, addr := range []uint64{s.PAddr - 8, s.PAddr, s.PAddr + s.FileSize - 8, s.PAddr + s.MemSize - 8} {
			checkReadPhys(t, f, data, addr, 24)
		}
	}
}

// checkReadPhys compares ReadPhys with a byte-by-byte model: among the
// segments holding an address, one with file bytes there wins (the one
// starting last, when several do); else the byte is zero.
func checkReadPhys(t *testing.T, f *File, data []byte, addr uint64, size int) {
	p := make([]byte, size)
	n, err := f.ReadPhys(p, addr)
	if (err == nil) != (n == size) {
		t.Fatalf("ReadPhys(%#x) = %d, %v", addr, n, err)
	}
	wantN, wantErr := size, error(nil)
	for k := 0; k < size; k++ {
		b, berr := modelByte(f, data, addr+uint64(k))
		if addr+uint64(k) < addr {
			berr = ErrNotPresent // ReadPhys does not wrap around
		}
		if berr != nil {
			wantN, wantErr = k, berr
			break
		}
		if k < n && p[k] != b {
			t.Fatalf("ReadPhys(%#x): byte %d = %#x, model says %#x", addr, k, p[k], b)
		}
	}
	if n != wantN || (wantErr != nil && !errors.Is(err, wantErr)) {
		t.Fatalf("ReadPhys(%#x) = %d, %v; model says %d, %v", addr, n, err, wantN, wantErr)
	}
}

func modelByte(f *File, data []byte, addr uint64) (byte, error) {
	found := false
	for i := len(f.Loads) - 1; i >= 0; i-- { // the last-starting holder wins
		s := f.Loads[i]
		if addr < s.PAddr || addr-s.PAddr >= s.MemSize {
			continue
		}
		off := addr - s.PAddr
		if off < s.FileSize {
			if s.FileOff+off >= uint64(len(data)) {
				return 0, ErrTruncated
			}
			return data[s.FileOff+off], nil
		}
		found = true
	}
	if found {
		return 0, nil
	}
	return 0, ErrNotPresent
}

func TestCompactFixtureSeed(t *testing.T) {
	_, real := openFixture(t)
	seed := compactFixture(real)
	f, err := openBytes(seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(seed) > 6000 || len(f.PRStatus()) != 2 || len(f.Loads) != 13 {
		t.Errorf("compact seed: %d bytes, %d CPUs, %d loads", len(seed), len(f.PRStatus()), len(f.Loads))
	}
	checkFile(t, f, seed)
}
