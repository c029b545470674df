package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// testCore builds small ELF core files in memory, laid out as the kernel's
// /proc/vmcore is: ELF header, program headers (PT_NOTE first), notes, then
// the PT_LOAD data. It writes fields by hand, independently of the reader.
type testCore struct {
	class   elf.Class
	order   binary.ByteOrder
	machine elf.Machine
	flags   uint32
	notes   []Note
	loads   []testLoad
	// noteTail is appended to the note segment (padding, garbage).
	noteTail []byte
}

type testLoad struct {
	paddr, vaddr uint64
	data         []byte // the file bytes: p_filesz = len(data)
	memsz        uint64 // 0 means len(data)
}

func (c *testCore) noteBytes() []byte {
	var b bytes.Buffer
	for _, n := range c.notes {
		name := append([]byte(n.Name), 0)
		var hdr [12]byte
		c.order.PutUint32(hdr[0:], uint32(len(name)))
		c.order.PutUint32(hdr[4:], uint32(len(n.Desc)))
		c.order.PutUint32(hdr[8:], n.Type)
		b.Write(hdr[:])
		b.Write(name)
		b.Write(make([]byte, int(align4(uint64(len(name))))-len(name)))
		b.Write(n.Desc)
		b.Write(make([]byte, int(align4(uint64(len(n.Desc))))-len(n.Desc)))
	}
	b.Write(c.noteTail)
	return b.Bytes()
}

func (c *testCore) bytes() []byte {
	is64 := c.class == elf.ELFCLASS64
	ehsize, phentsize := 52, 32
	if is64 {
		ehsize, phentsize = 64, 56
	}
	notes := c.noteBytes()
	phnum := 1 + len(c.loads)
	off := uint64(ehsize + phnum*phentsize)

	var b bytes.Buffer
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(c.class), 1, 1}
	if c.order == binary.BigEndian {
		ident[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	b.Write(ident[:])
	put16 := func(v uint16) { binary.Write(&b, c.order, v) }
	put32 := func(v uint32) { binary.Write(&b, c.order, v) }
	putAddr := func(v uint64) {
		if is64 {
			binary.Write(&b, c.order, v)
		} else {
			binary.Write(&b, c.order, uint32(v))
		}
	}
	put16(uint16(elf.ET_CORE))
	put16(uint16(c.machine))
	put32(1)                // e_version
	putAddr(0)              // e_entry
	putAddr(uint64(ehsize)) // e_phoff
	putAddr(0)              // e_shoff
	put32(c.flags)
	put16(uint16(ehsize))
	put16(uint16(phentsize))
	put16(uint16(phnum))
	put16(0) // e_shentsize
	put16(0) // e_shnum
	put16(0) // e_shstrndx

	phdr := func(typ elf.ProgType, fileOff, vaddr, paddr, filesz, memsz uint64) {
		put32(uint32(typ))
		if is64 {
			put32(7) // p_flags
		}
		putAddr(fileOff)
		putAddr(vaddr)
		putAddr(paddr)
		putAddr(filesz)
		putAddr(memsz)
		if !is64 {
			put32(7)
		}
		putAddr(0) // p_align
	}
	phdr(elf.PT_NOTE, off, 0, 0, uint64(len(notes)), uint64(len(notes)))
	off += uint64(len(notes))
	for _, l := range c.loads {
		memsz := l.memsz
		if memsz == 0 {
			memsz = uint64(len(l.data))
		}
		fileOff := off
		if len(l.data) == 0 {
			fileOff = 0
		}
		phdr(elf.PT_LOAD, fileOff, l.vaddr, l.paddr, uint64(len(l.data)), memsz)
		off += uint64(len(l.data))
	}
	b.Write(notes)
	for _, l := range c.loads {
		b.Write(l.data)
	}
	return b.Bytes()
}

// openBytes opens an in-memory core.
func openBytes(data []byte) (*File, error) {
	return Open(bytes.NewReader(data), int64(len(data)))
}

// pattern returns n bytes that differ from page to page and from zero.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7+i/4096)
		if p[i] == 0 {
			p[i] = 1
		}
	}
	return p
}
