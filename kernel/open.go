package kernel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/internal/phase"
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
	// Names, when set, shares the kernel's names and types decoded from
	// the dump with later dumps of the same build (a fleet run).
	Names *symbols.NamesCache
	// Fetch brings the debug vmlinux by the dump's build-id when none is
	// given or found on the machine: from its cache (used like a local file),
	// from the debug packages in DebuginfoDir, and from debuginfod servers
	// — the servers only when the dump cannot name things itself (no
	// kallsyms and BTF) or WantDWARF asks, so a BTF kernel never waits
	// for a download it does not need.
	Fetch     *debuginfo.Client
	WantDWARF bool
}

// Opened is a dump read as far as it allows: the address space always, the
// log when its VMCOREINFO layout reads, the Kernel (names, types, tasks,
// stacks) when names and types were found. Each missing capability says why.
// It is the one way down from a dump: triage and the crash-style commands
// all start here, so the dump has one address space and one log reader.
type Opened struct {
	Dump *vmcore.Dump
	AS   *AddressSpace
	Log  []LogRecord
	// LogErr is nil, a *LogDamage (Log holds what could be read), or why
	// there is no log at all.
	LogErr error
	// Kernel is nil when neither a vmlinux nor the dump's own kallsyms and
	// BTF could name things; KernelErr says why.
	Kernel    *Kernel
	KernelErr error
}

// OpenOptions say how far Open goes and where names and types may come from.
type OpenOptions struct {
	AttachOptions
	// LogOnly stops after the log: `dmesg` needs no names or types.
	LogOnly bool
	// Trace, when set, times the log and naming phases (`--trace`).
	Trace *phase.Recorder
	// OnLog, when set, gets the log as soon as it is read, before names
	// and types are looked for, so a caller can work on it meanwhile.
	OnLog func([]LogRecord, error)
}

// Open reads d as far as it allows. It fails only when the dump has no
// usable address translation (no VMCOREINFO page-table facts).
func Open(d *vmcore.Dump, opts OpenOptions) (*Opened, error) {
	end := opts.Trace.Start("address space")
	as, err := NewAddressSpace(d)
	end()
	if err != nil {
		return nil, err
	}
	o := &Opened{Dump: d, AS: as}
	end = opts.Trace.Start("log")
	o.Log, o.LogErr = ReadLog(as, d.VMCoreInfo)
	end()
	if opts.OnLog != nil {
		opts.OnLog(o.Log, o.LogErr)
	}
	if !opts.LogOnly {
		end = opts.Trace.Start("names and types")
		o.Kernel, o.KernelErr = attach(d, as, opts.AttachOptions, opts.Trace)
		end()
	}
	return o, nil
}

// Close closes the Kernel (saving what its DWARF index learned); the dump
// is the caller's.
func (o *Opened) Close() error {
	if o.Kernel != nil {
		return o.Kernel.Close()
	}
	return nil
}

// attach finds names and types for the dump. With a vmlinux, names come
// from its symbol table and types from its DWARF (indexed, cached by
// build-id); a vmlinux of another build is refused with both identities
// named. Without one — or when the one given cannot be used, which is said
// in a warning — it decodes the kernel's kallsyms (6.0+ export them through
// VMCOREINFO) and reads the BTF out of the dump's memory.
func attach(d *vmcore.Dump, as *AddressSpace, opts AttachOptions, tr *phase.Recorder) (*Kernel, error) {
	k, err := attachNames(d, as, opts, tr)
	if k != nil {
		k.modDebug = newModuleDebug(opts, d.VMCoreInfo.OSRelease())
	}
	return k, err
}

// attachNames is attach without the modules' debuginfo lookup.
func attachNames(d *vmcore.Dump, as *AddressSpace, opts AttachOptions, tr *phase.Recorder) (*Kernel, error) {
	opts.DWARF.Trace = tr // times the vmlinux's symbols and index
	var notes []string
	if opts.Vmlinux != "" {
		k, err := attachVmlinux(d, as, opts)
		if err == nil {
			return k, nil
		}
		notes = append(notes, fmt.Sprintf("--vmlinux %s not used: %v; names and types come from the dump itself", opts.Vmlinux, err))
		vmlinuxErr := err
		k, err = attachFromDump(d, as, opts.Names, tr)
		if err != nil {
			return nil, fmt.Errorf("the vmlinux given cannot be used (%v), and the dump cannot describe itself: %w", vmlinuxErr, err)
		}
		k.Warnings = append(notes, k.Warnings...)
		return k, nil
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
	if k, note := attachFetched(d, as, opts, false); k != nil {
		k.Warnings = append(notes, k.Warnings...)
		return k, nil
	} else if note != "" {
		notes = append(notes, note)
	}
	k, err := attachFromDump(d, as, opts.Names, tr)
	if err != nil || opts.WantDWARF {
		fk, note := attachFetched(d, as, opts, true)
		if fk != nil {
			if k != nil {
				k.Close()
			}
			fk.Warnings = append(notes, fk.Warnings...)
			return fk, nil
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("no vmlinux given and %w", err)
	}
	k.Warnings = append(notes, k.Warnings...)
	return k, nil
}

// attachFetched attaches the debug vmlinux that opts.Fetch has or brings
// for the dump's build-id: without servers, only what is cached or in the
// debug packages of DebuginfoDir. It returns the kernel, or a note saying
// why there is none ("" when there was nothing to try).
func attachFetched(d *vmcore.Dump, as *AddressSpace, opts AttachOptions, servers bool) (*Kernel, string) {
	c := opts.Fetch
	id := d.VMCoreInfo.BuildID()
	if c == nil {
		return nil, ""
	}
	var pkgs []string
	if opts.DebuginfoDir != "" {
		pkgs = []string{opts.DebuginfoDir}
	}
	var r debuginfo.Result
	var err error
	switch {
	case id == "" && servers:
		return nil, "debuginfod: the dump names no build-id (VMCOREINFO BUILD-ID, Linux 5.9+), so its vmlinux cannot be fetched"
	case id == "":
		// Packages are searched by the release's vmlinux path instead;
		// attachVmlinux then compares linux_banner with the dump's.
		r, err = c.FetchLocalByRelease(context.Background(), d.VMCoreInfo.OSRelease(), pkgs)
	case servers:
		r, err = c.Fetch(context.Background(), id, debuginfo.Debuginfo)
	default:
		r, err = c.FetchLocal(context.Background(), id, debuginfo.Debuginfo, pkgs)
	}
	if err != nil {
		if !servers && errors.Is(err, debuginfo.ErrNotFound) {
			return nil, "" // the servers may still have it
		}
		return nil, "debug vmlinux not fetched: " + err.Error()
	}
	o := opts
	o.Vmlinux = r.Path
	k, err := attachVmlinux(d, as, o)
	if err != nil {
		return nil, fmt.Sprintf("debug vmlinux from %s not used: %v", r.Describe(), err)
	}
	k.Fetched = r.Describe()
	return k, ""
}

// attachFromDump names things with the dump's own kallsyms and BTF.
func attachFromDump(d *vmcore.Dump, as *AddressSpace, names *symbols.NamesCache, tr *phase.Recorder) (*Kernel, error) {
	syms, btf, err := symbols.FromDump(d.VMCoreInfo.Symbols(), as, symbols.FromDumpOptions{Trace: tr,
		Cache: names, BuildID: d.VMCoreInfo.BuildID(), KernelOffset: as.KernelOffset()})
	if syms == nil || btf == nil {
		return nil, fmt.Errorf("the dump cannot describe itself (kallsyms and BTF need Linux 6.0+ with CONFIG_DEBUG_INFO_BTF): %w", err)
	}
	k := New(d, as, syms, btf, "kallsyms+BTF from dump")
	for _, dmg := range []string{syms.Kernel.Damage, btf.Damage} {
		if dmg != "" {
			k.Warnings = append(k.Warnings, dmg)
		}
	}
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
	if symbols.IsPack(opts.Vmlinux) {
		return attachPack(d, as, opts.Vmlinux, id)
	}
	// Reading the dump is mostly single-threaded: index the DWARF ahead of
	// the lookups on the other core. Close (Kernel.Close) stops it.
	dopts := opts.DWARF
	dopts.WalkAhead = true
	v, err := symbols.OpenVmlinux(opts.Vmlinux, as.KernelOffset(), id, dopts)
	if errors.Is(err, symbols.ErrCannotVerify) {
		v, err = symbols.OpenVmlinux(opts.Vmlinux, as.KernelOffset(), symbols.DumpIdentity{}, dopts)
		if err == nil {
			if banner, berr := symbols.ELFBanner(v.DWARF.ELF()); berr == nil {
				if err = checkBannerInDump(as, v.Syms, banner, opts.Vmlinux); err != nil {
					v.Close()
				}
			}
		}
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

// attachPack attaches a debuginfo pack (symbols.WritePack): its symbol
// table and BTF stand in for the vmlinux's symtab and DWARF, its
// .debug_frame and line table for the vmlinux's.
func attachPack(d *vmcore.Dump, as *AddressSpace, path string, id symbols.DumpIdentity) (*Kernel, error) {
	p, err := symbols.OpenPack(path, as.KernelOffset(), id)
	if err != nil {
		return nil, err
	}
	if id == (symbols.DumpIdentity{}) {
		if err := checkBannerInDump(as, p.Syms, p.Banner, path); err != nil {
			return nil, err
		}
	}
	var mods []symbols.Module
	var modErr error
	if head, ok := p.Syms.Lookup("modules"); ok {
		mods, modErr = symbols.ReadModules(head, as, p.BTF)
	}
	k := New(d, as, p.Symbols(mods), p.BTF, path)
	k.debugFrame, k.packLines = p.DebugFrame, p.Lines
	if modErr != nil {
		k.Warnings = append(k.Warnings, "module symbols: "+modErr.Error())
	}
	return k, nil
}

// checkBannerInDump is the identity check for a kernel that exports
// neither its build-id nor linux_banner's address in VMCOREINFO: the
// debuginfo's linux_banner must be in the dump at the debuginfo's address
// for it.
func checkBannerInDump(as *AddressSpace, syms symbols.SymbolTable, banner, path string) error {
	a, ok := syms.Lookup("linux_banner")
	if !ok || banner == "" {
		return nil
	}
	got, err := as.ReadString(a, len(banner)+1)
	if err != nil {
		return nil // not in the dump: nothing to compare
	}
	if strings.TrimSpace(got) != strings.TrimSpace(banner) {
		return &symbols.MismatchError{Vmlinux: path, VmlinuxID: strings.TrimSpace(banner),
			DumpID: strings.TrimSpace(got), ByBanner: true}
	}
	return nil
}
