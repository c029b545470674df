package elfcore

import (
	"debug/elf"
	"encoding/binary"
)

// DecodePRStatus decodes one NT_PRSTATUS note that did not come from an ELF
// file of ours, such as the note area of a kdump-compressed dump, for the
// given machine (class and byte order follow from it for x86).
func DecodePRStatus(machine elf.Machine, n Note) PRStatus {
	f := &File{Machine: machine, Class: elf.ELFCLASS64, ByteOrder: binary.LittleEndian}
	if machine == elf.EM_386 {
		f.Class = elf.ELFCLASS32
	}
	return f.decodePRStatus(n)
}
