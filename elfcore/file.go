package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Caps on what a header may make us allocate. Real dumps stay far below
// them: a vmcore has one PT_LOAD per memory range (hundreds on big machines)
// and a few kilobytes of notes per CPU.
const (
	// MaxProgHeaders is the largest program header count Open accepts.
	MaxProgHeaders = 1 << 20
	// MaxNotesSize is the largest total size of PT_NOTE segments Open reads.
	MaxNotesSize = 64 << 20
	// maxPhdrTable caps the bytes of the program header table, whatever
	// e_phentsize claims.
	maxPhdrTable = 64 << 20
)

// FlagIncomplete is the e_flags bit makedumpfile sets when it could not
// write the whole dump (disk full, interrupted): pages past the end are lost.
const FlagIncomplete = 0x1

var (
	// ErrNotPresent says a physical address lies in no PT_LOAD segment: the
	// dump never held that memory.
	ErrNotPresent = errors.New("physical address not in dump")
	// ErrTruncated says a segment's bytes lie past the end of the file: the
	// dump was cut short.
	ErrTruncated = errors.New("dump truncated: segment data past end of file")
)

// FormatError reports bad input: what was wrong and where in the file.
type FormatError struct {
	Offset int64  // file offset of the structure at fault (vmcore.FormatError names it the same)
	Msg    string // what was expected
	Val    any    // the value found, if any
}

func (e *FormatError) Error() string {
	msg := "elfcore: " + e.Msg
	if e.Val != nil {
		msg += fmt.Sprintf(" '%v'", e.Val)
	}
	return msg + fmt.Sprintf(" at offset %#x", e.Offset)
}

// Segment is one PT_LOAD program header: MemSize bytes of physical memory
// from PAddr, of which the first FileSize are stored at FileOff; the rest
// were not written (holes, pages filtered out) and read as zeros.
type Segment struct {
	PAddr, VAddr, FileOff, FileSize, MemSize uint64
}

// Note is one ELF note. Desc aliases the File's note buffer: do not modify it.
type Note struct {
	Name   string // owner, without the terminating NUL ("CORE", "VMCOREINFO", "QEMU")
	Type   uint32
	Desc   []byte
	Offset int64 // file offset of the note's header
}

// File is an opened ELF core file.
type File struct {
	Class     elf.Class
	Data      elf.Data
	ByteOrder binary.ByteOrder
	Machine   elf.Machine
	// Flags is e_flags; makedumpfile sets FlagIncomplete in it.
	Flags uint32
	// Loads are the PT_LOAD segments sorted by PAddr (program header order
	// among equal addresses). Segments may overlap: /proc/vmcore maps the
	// kernel image both at its text address and in the direct map.
	Loads []Segment
	// Notes are the notes of every PT_NOTE segment, in file order.
	Notes []Note

	r    io.ReaderAt
	size int64
	// maxEnd[i] is the largest PAddr+MemSize among Loads[0..i], so a lookup
	// knows when no earlier segment can still reach an address.
	maxEnd []uint64
}

// Incomplete reports whether makedumpfile marked the dump as incomplete.
func (f *File) Incomplete() bool { return f.Flags&FlagIncomplete != 0 }

// Truncated reports whether any segment's file bytes extend past the end
// of the file.
func (f *File) Truncated() bool {
	for _, s := range f.Loads {
		if s.FileSize > 0 && s.FileOff+s.FileSize > uint64(f.size) {
			return true
		}
	}
	return false
}

// Size is the file size Open was given.
func (f *File) Size() int64 { return f.size }

// elfHeader is the part of Elf32_Ehdr/Elf64_Ehdr we use, widened.
type elfHeader struct {
	typ       elf.Type
	machine   elf.Machine
	flags     uint32
	phoff     uint64
	shoff     uint64
	phentsize uint16
	phnum     uint16
	shentsize uint16
}

// progHeader is Elf32_Phdr/Elf64_Phdr widened.
type progHeader struct {
	typ                                     elf.ProgType
	off, vaddr, paddr, filesz, memsz, align uint64
}

// Open reads the ELF header, the program headers and every note of the core
// file r, which is size bytes long. It reads no memory contents.
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, &FormatError{0, "negative file size", size}
	}
	var ident [elf.EI_NIDENT]byte
	if err := readFull(r, size, ident[:], 0, "ELF identification"); err != nil {
		return nil, err
	}
	if !bytes.Equal(ident[:4], []byte(elf.ELFMAG)) {
		return nil, &FormatError{0, "bad ELF magic", fmt.Sprintf("%x", ident[:4])}
	}
	f := &File{r: r, size: size, Class: elf.Class(ident[elf.EI_CLASS]), Data: elf.Data(ident[elf.EI_DATA])}
	switch f.Data {
	case elf.ELFDATA2LSB:
		f.ByteOrder = binary.LittleEndian
	case elf.ELFDATA2MSB:
		f.ByteOrder = binary.BigEndian
	default:
		return nil, &FormatError{elf.EI_DATA, "unknown ELF data encoding", f.Data}
	}
	hdr, err := f.readHeader()
	if err != nil {
		return nil, err
	}
	if hdr.typ != elf.ET_CORE {
		return nil, &FormatError{16, "not a core file: e_type", hdr.typ}
	}
	f.Machine, f.Flags = hdr.machine, hdr.flags

	phdrs, err := f.readProgHeaders(hdr)
	if err != nil {
		return nil, err
	}
	if err := f.readLoads(hdr, phdrs); err != nil {
		return nil, err
	}
	if err := f.readNotes(hdr, phdrs); err != nil {
		return nil, err
	}
	return f, nil
}

// readFull reads len(p) bytes at off; a short file is a FormatError naming what.
func readFull(r io.ReaderAt, size int64, p []byte, off int64, what string) error {
	if off < 0 || off > size || int64(len(p)) > size-off {
		return &FormatError{off, fmt.Sprintf("%s (%d bytes) extends past end of file (%d bytes)", what, len(p), size), nil}
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return &FormatError{off, fmt.Sprintf("%s: file shorter than its stated size", what), nil}
	}
	return fmt.Errorf("elfcore: reading %s at offset %#x: %w", what, off, err)
}

func (f *File) readHeader() (elfHeader, error) {
	switch f.Class {
	case elf.ELFCLASS64:
		raw, err := readStruct[elf.Header64](f, 0, "ELF64 header")
		return elfHeader{elf.Type(raw.Type), elf.Machine(raw.Machine), raw.Flags, raw.Phoff, raw.Shoff,
			raw.Phentsize, raw.Phnum, raw.Shentsize}, err
	case elf.ELFCLASS32:
		raw, err := readStruct[elf.Header32](f, 0, "ELF32 header")
		return elfHeader{elf.Type(raw.Type), elf.Machine(raw.Machine), raw.Flags, uint64(raw.Phoff), uint64(raw.Shoff),
			raw.Phentsize, raw.Phnum, raw.Shentsize}, err
	}
	return elfHeader{}, &FormatError{elf.EI_CLASS, "unknown ELF class", f.Class}
}

// readStruct reads a fixed-size T at off in the file's byte order.
func readStruct[T any](f *File, off int64, what string) (T, error) {
	var v T
	buf := make([]byte, binary.Size(v))
	if err := readFull(f.r, f.size, buf, off, what); err != nil {
		return v, err
	}
	_, err := binary.Decode(buf, f.ByteOrder, &v)
	return v, err
}

// phdrSize and shdrSize are the on-disk sizes of one program/section header.
func (f *File) phdrSize() int {
	if f.Class == elf.ELFCLASS64 {
		return 56
	}
	return 32
}

func (f *File) shdrSize() int {
	if f.Class == elf.ELFCLASS64 {
		return 64
	}
	return 40
}

// headerFieldOffset is the offset of an ELF header field, for errors.
func (f *File) headerFieldOffset(field string) int64 {
	offs := map[string][2]int64{ // ELF32, ELF64
		"e_phoff": {28, 32}, "e_shoff": {32, 40}, "e_phentsize": {42, 54}, "e_phnum": {44, 56},
	}[field]
	if f.Class == elf.ELFCLASS64 {
		return offs[1]
	}
	return offs[0]
}

// progHeaderCount returns e_phnum, following the PN_XNUM extension
// (makedumpfile uses it past 65534 segments): the real count is then in
// section header 0's sh_info.
func (f *File) progHeaderCount(h elfHeader) (uint64, error) {
	if h.phnum != 0xffff { // PN_XNUM
		return uint64(h.phnum), nil
	}
	if h.shoff == 0 || int(h.shentsize) < f.shdrSize() {
		return 0, &FormatError{f.headerFieldOffset("e_phnum"), "e_phnum is PN_XNUM but there is no section header 0 to hold the count", nil}
	}
	buf := make([]byte, f.shdrSize())
	if h.shoff > uint64(f.size) {
		return 0, &FormatError{f.headerFieldOffset("e_shoff"), "section header 0 past end of file", h.shoff}
	}
	if err := readFull(f.r, f.size, buf, int64(h.shoff), "section header 0"); err != nil {
		return 0, err
	}
	// sh_info follows sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link.
	if f.Class == elf.ELFCLASS64 {
		return uint64(f.ByteOrder.Uint32(buf[44:])), nil
	}
	return uint64(f.ByteOrder.Uint32(buf[28:])), nil
}

func (f *File) readProgHeaders(h elfHeader) ([]progHeader, error) {
	count, err := f.progHeaderCount(h)
	if err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, nil
	}
	if count > MaxProgHeaders {
		return nil, &FormatError{f.headerFieldOffset("e_phnum"), fmt.Sprintf("too many program headers (limit %d)", MaxProgHeaders), count}
	}
	entsize := uint64(h.phentsize)
	if entsize < uint64(f.phdrSize()) {
		return nil, &FormatError{f.headerFieldOffset("e_phentsize"), fmt.Sprintf("e_phentsize smaller than %d", f.phdrSize()), h.phentsize}
	}
	table := count * entsize // both bounded: no overflow
	if table > maxPhdrTable {
		return nil, &FormatError{f.headerFieldOffset("e_phnum"), "program header table too large", table}
	}
	if h.phoff > uint64(f.size) || table > uint64(f.size)-h.phoff {
		return nil, &FormatError{f.headerFieldOffset("e_phoff"), fmt.Sprintf("program header table (%d bytes at e_phoff) extends past end of file (%d bytes)", table, f.size), h.phoff}
	}
	buf := make([]byte, table)
	if err := readFull(f.r, f.size, buf, int64(h.phoff), "program header table"); err != nil {
		return nil, err
	}
	phdrs := make([]progHeader, count)
	for i := range phdrs {
		b := buf[uint64(i)*entsize:]
		if f.Class == elf.ELFCLASS64 {
			var p elf.Prog64
			binary.Decode(b, f.ByteOrder, &p) // length checked above
			phdrs[i] = progHeader{elf.ProgType(p.Type), p.Off, p.Vaddr, p.Paddr, p.Filesz, p.Memsz, p.Align}
		} else {
			var p elf.Prog32
			binary.Decode(b, f.ByteOrder, &p)
			phdrs[i] = progHeader{elf.ProgType(p.Type), uint64(p.Off), uint64(p.Vaddr), uint64(p.Paddr),
				uint64(p.Filesz), uint64(p.Memsz), uint64(p.Align)}
		}
	}
	return phdrs, nil
}

// phdrOffset is the file offset of program header i, for errors.
func phdrOffset(h elfHeader, i int) int64 {
	return int64(h.phoff + uint64(i)*uint64(h.phentsize))
}

func (f *File) readLoads(h elfHeader, phdrs []progHeader) error {
	for i, p := range phdrs {
		if p.typ != elf.PT_LOAD {
			continue
		}
		switch {
		case p.filesz > p.memsz:
			return &FormatError{phdrOffset(h, i), fmt.Sprintf("PT_LOAD %d: p_filesz %#x larger than p_memsz", i, p.filesz), p.memsz}
		case p.filesz > 0 && p.off+p.filesz < p.off:
			return &FormatError{phdrOffset(h, i), fmt.Sprintf("PT_LOAD %d: p_offset + p_filesz overflows", i), p.off}
		case p.paddr+p.memsz < p.paddr:
			return &FormatError{phdrOffset(h, i), fmt.Sprintf("PT_LOAD %d: p_paddr + p_memsz overflows", i), p.paddr}
		}
		f.Loads = append(f.Loads, Segment{PAddr: p.paddr, VAddr: p.vaddr, FileOff: p.off, FileSize: p.filesz, MemSize: p.memsz})
	}
	slices.SortStableFunc(f.Loads, func(a, b Segment) int {
		switch {
		case a.PAddr < b.PAddr:
			return -1
		case a.PAddr > b.PAddr:
			return 1
		}
		return 0
	})
	f.maxEnd = make([]uint64, len(f.Loads))
	var end uint64
	for i, s := range f.Loads {
		end = max(end, s.PAddr+s.MemSize)
		f.maxEnd[i] = end
	}
	return nil
}
