package kernel

import (
	"fmt"

	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// AttachOptions says where names and types may come from.
type AttachOptions struct {
	// Vmlinux is a debug vmlinux matching the dump. Empty: use the dump's
	// own kallsyms and BTF.
	Vmlinux string
}

// Attach sets up a Kernel over a dump. With no vmlinux it decodes the
// kernel's kallsyms (6.0+ export them through VMCOREINFO) and reads the
// BTF out of the dump's memory, so no debuginfo is needed.
func Attach(d *vmcore.Dump, opts AttachOptions) (*Kernel, error) {
	as, err := NewAddressSpace(d)
	if err != nil {
		return nil, err
	}
	if opts.Vmlinux != "" {
		return attachVmlinux(d, as, opts.Vmlinux)
	}
	syms, err := symbols.KallsymsFromDump(d.VMCoreInfo.Symbols(), as)
	if err != nil {
		return nil, fmt.Errorf("no vmlinux given and the dump's kallsyms are unusable: %w", err)
	}
	types, err := symbols.BTFFromDump(syms, as)
	if err != nil {
		return nil, fmt.Errorf("no vmlinux given and the dump's BTF is unusable: %w", err)
	}
	return New(d, as, syms, types, "kallsyms+BTF from dump"), nil
}

func attachVmlinux(d *vmcore.Dump, as *AddressSpace, path string) (*Kernel, error) {
	syms, err := symbols.OpenELFSymbols(path, as.KernelOffset())
	if err != nil {
		return nil, err
	}
	// Types: BTF from the vmlinux's .BTF section is fast and has the same
	// layouts as its DWARF.
	types, err := symbols.OpenBTF(path)
	if err != nil {
		return nil, err
	}
	return New(d, as, syms, types, path), nil
}
