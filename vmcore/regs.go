package vmcore

import (
	"debug/elf"

	"github.com/ktriage/ktriage/elfcore"
)

// PRStatus returns the registers each CPU saved when the kernel crashed,
// one per NT_PRSTATUS note in CPU order (kdump: crash_save_cpu; QEMU: the
// vCPU state).
func (d *Dump) PRStatus() []elfcore.PRStatus {
	if f := d.ELF(); f != nil {
		return f.PRStatus()
	}
	machine := elf.EM_X86_64
	if d.Uts.Machine == "i686" || d.Uts.Machine == "i386" {
		machine = elf.EM_386
	}
	var out []elfcore.PRStatus
	for _, n := range d.Notes {
		if n.Name == "CORE" && n.Type == uint32(elf.NT_PRSTATUS) {
			out = append(out, elfcore.DecodePRStatus(machine, n))
		}
	}
	return out
}

// HasQEMUNotes tells whether QEMU wrote the dump (it adds "QEMU" CPU-state notes).
func (d *Dump) HasQEMUNotes() bool {
	for _, n := range d.Notes {
		if n.Name == "QEMU" {
			return true
		}
	}
	return false
}
