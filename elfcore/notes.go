package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// Note types and owners found in vmcores.
const (
	NoteNameCore       = "CORE"
	NoteNameVMCOREINFO = "VMCOREINFO"
	NoteNameQEMU       = "QEMU"
)

// noteHeaderSize is sizeof(Elf32_Nhdr) and sizeof(Elf64_Nhdr): both are three
// 32-bit words.
const noteHeaderSize = 12

// align4 rounds n up to a multiple of 4. Name and descriptor are padded to 4
// bytes in ELF64 cores too: that is how the kernel, kexec-tools, makedumpfile
// and QEMU all write them.
func align4(n uint64) uint64 { return (n + 3) &^ 3 }

func (f *File) readNotes(h elfHeader, phdrs []progHeader) error {
	var total uint64
	for i, p := range phdrs {
		if p.typ != elf.PT_NOTE || p.filesz == 0 {
			continue
		}
		total += p.filesz
		if p.filesz > MaxNotesSize || total > MaxNotesSize {
			return &FormatError{phdrOffset(h, i), fmt.Sprintf("PT_NOTE %d: notes larger than %d bytes", i, MaxNotesSize), p.filesz}
		}
		if p.off > uint64(f.size) || p.filesz > uint64(f.size)-p.off {
			return &FormatError{phdrOffset(h, i), fmt.Sprintf("PT_NOTE %d: %d bytes at %#x extend past end of file (%d bytes)", i, p.filesz, p.off, f.size), nil}
		}
		buf := make([]byte, p.filesz)
		if err := readFull(f.r, f.size, buf, int64(p.off), "PT_NOTE segment"); err != nil {
			return err
		}
		notes, err := parseNotes(buf, int64(p.off), f.ByteOrder)
		if err != nil {
			return err
		}
		f.Notes = append(f.Notes, notes...)
	}
	return nil
}

// ParseNotes splits a note area that is not in an ELF file of ours (the
// note section of a kdump-compressed dump, say) into notes, as Open does for
// PT_NOTE segments. Note.Offset is then relative to buf; Desc aliases buf.
func ParseNotes(buf []byte, order binary.ByteOrder) ([]Note, error) {
	return parseNotes(buf, 0, order)
}

// parseNotes splits one note area, read from file offset base, into notes.
// A header of all zeros ends the area: older kernels left the rest of a
// per-CPU note buffer zeroed.
func parseNotes(buf []byte, base int64, order binary.ByteOrder) ([]Note, error) {
	var notes []Note
	size := uint64(len(buf))
	for off := uint64(0); off < size; {
		if size-off < noteHeaderSize {
			if allZero(buf[off:]) {
				break
			}
			return nil, &FormatError{base + int64(off), "truncated note header", nil}
		}
		namesz := uint64(order.Uint32(buf[off:]))
		descsz := uint64(order.Uint32(buf[off+4:]))
		typ := order.Uint32(buf[off+8:])
		if namesz == 0 && descsz == 0 && typ == 0 {
			break
		}
		nameOff := off + noteHeaderSize
		if namesz > size-nameOff {
			return nil, &FormatError{base + int64(off), fmt.Sprintf("note name (%d bytes) extends past its segment", namesz), nil}
		}
		descOff := align4(nameOff + namesz)
		if descOff > size || descsz > size-descOff {
			return nil, &FormatError{base + int64(off), fmt.Sprintf("note descriptor (%d bytes) extends past its segment", descsz), nil}
		}
		name := buf[nameOff : nameOff+namesz]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		end := descOff + descsz
		notes = append(notes, Note{
			Name:   string(name),
			Type:   typ,
			Desc:   buf[descOff:end:end],
			Offset: base + int64(off),
		})
		off = min(align4(end), size) // the last note may lack its padding
	}
	return notes, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// VMCOREINFO returns the text of the VMCOREINFO note ("KEY=value" lines),
// without trailing NULs, or nil when the dump has none. It aliases the
// note buffer: do not modify it.
func (f *File) VMCOREINFO() []byte {
	for _, n := range f.Notes {
		if n.Name == NoteNameVMCOREINFO {
			return bytes.TrimRight(n.Desc, "\x00")
		}
	}
	return nil
}
