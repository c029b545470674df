package kernel

import (
	"errors"
	"fmt"

	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// AttachOptions says where names and types may come from.
type AttachOptions struct {
	// Vmlinux is a debug vmlinux matching the dump. Empty: use the dump's
	// own kallsyms and BTF.
	Vmlinux string
	// DWARF tunes the vmlinux DWARF index (its on-disk cache).
	DWARF symbols.DWARFOptions
	// Discover looks for the dump's debug vmlinux when none is given: in
	// DebuginfoDir, the distro debuginfo paths for the dump's release and
	// build-id, and ktriage's cache. One that does not match the dump is
	// skipped with a warning, and the dump's own kallsyms+BTF are used.
	Discover     bool
	DebuginfoDir string
}

// Attach sets up a Kernel over a dump. With a vmlinux, names come from its
// symbol table and types from its DWARF (indexed, cached by build-id); a
// vmlinux of another build is refused with both identities named. With no
// vmlinux it decodes the kernel's kallsyms (6.0+ export them through
// VMCOREINFO) and reads the BTF out of the dump's memory.
func Attach(d *vmcore.Dump, opts AttachOptions) (*Kernel, error) {
	as, err := NewAddressSpace(d)
	if err != nil {
		return nil, err
	}
	var notes []string
	if opts.Vmlinux != "" {
		k, err := attachVmlinux(d, as, opts)
		if err == nil {
			return k, nil
		}
		// A vmlinux that cannot be used must not take the dump's own
		// names away: say why, and fall back to them.
		notes = append(notes, fmt.Sprintf("--vmlinux %s not used: %v; using the dump's own kallsyms and BTF", opts.Vmlinux, err))
		opts.Discover = false
	}
	if opts.Discover {
		found, err := symbols.FindVmlinux(symbols.FindOptions{DebuginfoDir: opts.DebuginfoDir,
			Release: d.VMCoreInfo.OSRelease(), BuildID: d.VMCoreInfo.BuildID()})
		if err == nil {
			o := opts
			o.Vmlinux = found
			k, err := attachVmlinux(d, as, o)
			if err == nil {
				return k, nil
			}
			notes = append(notes, fmt.Sprintf("debug vmlinux %s not used: %v", found, err))
		}
	}
	syms, btf, err := symbols.FromDump(d.VMCoreInfo.Symbols(), as)
	if syms == nil || btf == nil {
		err = fmt.Errorf("the dump cannot describe itself (kallsyms and BTF need Linux 6.0+ with CONFIG_DEBUG_INFO_BTF): %w", err)
		if len(notes) > 0 {
			return nil, fmt.Errorf("%s, and %w", notes[0], err)
		}
		return nil, fmt.Errorf("no vmlinux given and %w", err)
	}
	k := New(d, as, syms, btf, "kallsyms+BTF from dump")
	k.Warnings = append(k.Warnings, notes...)
	if err != nil {
		k.Warnings = append(k.Warnings, "module symbols: "+err.Error())
	}
	return k, nil
}

func attachVmlinux(d *vmcore.Dump, as *AddressSpace, opts AttachOptions) (*Kernel, error) {
	id := symbols.DumpIdentity{BuildID: d.VMCoreInfo.BuildID()}
	if id.BuildID == "" {
		// Kernels before 5.9 export no build-id: compare linux_banner.
		if a, ok := d.VMCoreInfo.Symbol("linux_banner"); ok {
			if b, err := as.ReadString(a, 512); err == nil {
				id.Banner = b
			}
		}
	}
	// Reading the dump is mostly single-threaded: index the DWARF ahead of
	// the lookups on the other core. Close (Kernel.Close) stops it.
	dopts := opts.DWARF
	dopts.WalkAhead = true
	v, err := symbols.OpenVmlinux(opts.Vmlinux, as.KernelOffset(), id, dopts)
	if errors.Is(err, symbols.ErrCannotVerify) {
		v, err = symbols.OpenVmlinux(opts.Vmlinux, as.KernelOffset(), symbols.DumpIdentity{}, dopts)
	}
	if err != nil {
		return nil, err
	}
	var mods []symbols.Module
	var modErr error
	if head, ok := v.Addr("modules"); ok {
		mods, modErr = symbols.ReadModules(head, as, v.DWARF)
	}
	k := New(d, as, v.Symbols(mods), v.DWARF, opts.Vmlinux)
	k.vmlinux = v
	if modErr != nil {
		k.Warnings = append(k.Warnings, "module symbols: "+modErr.Error())
	}
	return k, nil
}
