// Command cutcore cuts an ELF vmcore down to a small fixture: the ELF header,
// the program headers, every note, and only the first bytes of each PT_LOAD
// segment. Memory sizes stay as they were, so the rest of each segment reads
// as zeros (as if makedumpfile had filtered it). testdata/elf/make.sh runs it.
//
// It parses the input with the standard library's debug/elf rather than with
// elfcore, so the fixture does not inherit elfcore's mistakes.
package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	in := flag.String("in", "", "ELF vmcore to cut")
	out := flag.String("out", "", "fixture to write")
	keep := flag.Uint64("keep", 4096, "file bytes to keep at the start of each PT_LOAD segment")
	flag.Parse()
	if *in == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := cut(*in, *out, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "cutcore:", err)
		os.Exit(1)
	}
}

func cut(inPath, outPath string, keep uint64) error {
	f, err := elf.Open(inPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Type != elf.ET_CORE {
		return fmt.Errorf("%s: not an ELF core file", inPath)
	}
	raw, err := os.Open(inPath)
	if err != nil {
		return err
	}
	defer raw.Close()

	is64 := f.Class == elf.ELFCLASS64
	ehsize, phentsize := uint64(52), uint64(32)
	if is64 {
		ehsize, phentsize = 64, 56
	}
	header := make([]byte, ehsize)
	if _, err := raw.ReadAt(header, 0); err != nil {
		return fmt.Errorf("%s: reading ELF header: %w", inPath, err)
	}
	// The fixture has no section headers, and its program headers follow
	// the ELF header directly.
	order := f.ByteOrder
	if is64 {
		order.PutUint64(header[32:], ehsize) // e_phoff
		order.PutUint64(header[40:], 0)      // e_shoff
		order.PutUint16(header[54:], uint16(phentsize))
		order.PutUint16(header[58:], 0) // e_shentsize
		order.PutUint16(header[60:], 0) // e_shnum
		order.PutUint16(header[62:], 0) // e_shstrndx
	} else {
		order.PutUint32(header[28:], uint32(ehsize))
		order.PutUint32(header[32:], 0)
		order.PutUint16(header[42:], uint16(phentsize))
		order.PutUint16(header[46:], 0)
		order.PutUint16(header[48:], 0)
		order.PutUint16(header[50:], 0)
	}

	var body bytes.Buffer
	dataStart := ehsize + phentsize*uint64(len(f.Progs))
	progs := make([]elf.ProgHeader, len(f.Progs))
	for i, p := range f.Progs {
		h := p.ProgHeader
		n := h.Filesz
		if h.Type == elf.PT_LOAD {
			n = min(n, keep)
		}
		if n == 0 {
			h.Off, h.Filesz = 0, 0
		} else {
			buf := make([]byte, n)
			if _, err := p.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("%s: program header %d: %w", inPath, i, err)
			}
			h.Off, h.Filesz = dataStart+uint64(body.Len()), n
			body.Write(buf)
		}
		progs[i] = h
	}

	var outBuf bytes.Buffer
	outBuf.Write(header)
	for _, h := range progs {
		var err error
		if is64 {
			err = binary.Write(&outBuf, order, elf.Prog64{Type: uint32(h.Type), Flags: uint32(h.Flags), Off: h.Off,
				Vaddr: h.Vaddr, Paddr: h.Paddr, Filesz: h.Filesz, Memsz: h.Memsz, Align: h.Align})
		} else {
			err = binary.Write(&outBuf, order, elf.Prog32{Type: uint32(h.Type), Off: uint32(h.Off), Vaddr: uint32(h.Vaddr),
				Paddr: uint32(h.Paddr), Filesz: uint32(h.Filesz), Memsz: uint32(h.Memsz), Flags: uint32(h.Flags), Align: uint32(h.Align)})
		}
		if err != nil {
			return err
		}
	}
	outBuf.Write(body.Bytes())
	return os.WriteFile(outPath, outBuf.Bytes(), 0o644)
}
