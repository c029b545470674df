package symbols

import (
	"debug/elf"
	"fmt"
	"os"

	"github.com/ktriage/ktriage/internal/phase"
)

// Vmlinux is a debug vmlinux opened for one dump: its symbol table
// relocated by the dump's KASLR slide and its indexed DWARF.
type Vmlinux struct {
	Path  string
	Syms  *Table
	DWARF *DWARF
	// saving is closed when the symbol table cache this run writes (if
	// any) is on disk: Close waits for it.
	saving <-chan struct{}
}

// OpenVmlinux checks that the vmlinux at path was built for the dump
// (refusing it with a *MismatchError otherwise), then reads its symbol
// table with slide (VMCOREINFO KERNELOFFSET) and indexes its DWARF. With an
// empty DumpIdentity the check is skipped: the caller vouches for the file.
func OpenVmlinux(path string, slide uint64, dump DumpIdentity, opts DWARFOptions) (*Vmlinux, error) {
	// The symbol table is read on another core while the DWARF index is
	// loaded (or built): each takes tens of milliseconds and neither needs
	// the other. It is only used once the identity check has passed.
	type table struct {
		t      *Table
		saving <-chan struct{}
		err    error
	}
	symc := make(chan table, 1)
	go func() {
		f, err := elf.Open(path)
		if err != nil {
			symc <- table{err: err}
			return
		}
		defer f.Close()
		defer opts.Trace.Beside("vmlinux symbols")()
		t, saving, err := vmlinuxSymbols(path, f, slide, opts)
		symc <- table{t, saving, err}
	}()
	end := opts.Trace.Start("DWARF index")
	d, err := OpenDWARF(path, opts)
	end()
	syms := <-symc
	if syms.saving != nil && (err != nil || syms.err != nil) {
		<-syms.saving
	}
	if err != nil {
		return nil, err
	}
	v := &Vmlinux{Path: path, Syms: syms.t, DWARF: d, saving: syms.saving}
	if dump != (DumpIdentity{}) {
		if err := checkELF(d.ELF(), path, dump); err != nil {
			v.Close()
			return nil, err
		}
	}
	if syms.err != nil {
		v.Close()
		return nil, fmt.Errorf("%s: %w", path, syms.err)
	}
	return v, nil
}

// vmlinuxSymbols is ELFSymbols through the symbol table cache
// (tablecache.go): read from it when it holds this build's table, else
// built and written there for the next run. The write goes on beside the
// run; saving is closed when it is done (nil when there is none).
func vmlinuxSymbols(path string, f *elf.File, slide uint64, opts DWARFOptions) (t *Table, saving <-chan struct{}, err error) {
	dir := opts.CacheDir
	if dir == "" {
		dir = DefaultIndexCacheDir()
	}
	id, _ := ELFBuildID(f)
	fi, err := os.Stat(path)
	if opts.NoCache || dir == "" || id == "" || err != nil {
		t, err := ELFSymbols(f, slide)
		return t, nil, err
	}
	size := fi.Size()
	cache := tableCachePath(dir, id)
	if t, err := readTableCache(cache, id, size, slide); err == nil {
		return t, nil, nil
	}
	if t, err = ELFSymbols(f, 0); err != nil {
		return nil, nil, err
	}
	frozen := encodeTable(id, size, t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = writeCacheFile(cache, frozen) // a cache: a read-only home only costs the next run time
	}()
	t, err = decodeTable(frozen, id, size, slide)
	return t, done, err
}

// Close waits for the symbol table cache to be written, then saves the
// DWARF index cache and releases the mapping.
func (v *Vmlinux) Close() error {
	if v.saving != nil {
		<-v.saving
		v.saving = nil
	}
	return v.DWARF.Close()
}

// Symbols combines the vmlinux's table with modules read from the dump.
func (v *Vmlinux) Symbols(modules []Module) *KernelSymbols {
	return NewKernelSymbols(v.Syms, modules, v.DWARF)
}

// FromDumpOptions tune FromDump.
type FromDumpOptions struct {
	Trace *phase.Recorder // times the parts (may be nil)
	// Cache, when set, reuses the kernel's names and types decoded from an
	// earlier dump of the same build (BuildID, from VMCOREINFO), moved by
	// the difference of the two KernelOffsets.
	Cache        *NamesCache
	BuildID      string
	KernelOffset uint64
}

// FromDump loads names and types from the dump alone (kernels ≥ 6.0 with
// BTF): kallsyms via VMCOREINFO, BTF between __start_BTF and __stop_BTF,
// and the loaded modules' symbols. A module list that cannot be read is
// reported in the error but the kernel's own symbols are still returned.
func FromDump(vmcoreSymbols map[string]uint64, mem Memory, opts FromDumpOptions) (*KernelSymbols, *BTF, error) {
	tr := opts.Trace
	end := tr.Start("names cache")
	ks, b, ok := opts.Cache.get(opts.BuildID, opts.KernelOffset, vmcoreSymbols, mem)
	end()
	if !ok {
		var err error
		if ks, b, err = kernelFromDump(vmcoreSymbols, mem, tr); err != nil {
			return nil, nil, err
		}
		opts.Cache.put(opts.BuildID, opts.KernelOffset, ks, b, vmcoreSymbols, mem)
	}
	var mods []Module
	var modErr error
	if head, ok := ks.Lookup("modules"); ok {
		end = tr.Start("modules")
		mods, modErr = ReadModules(head, mem, b)
		end()
	}
	return NewKernelSymbols(ks, mods, b), b, modErr
}

// kernelFromDump decodes the kernel's own names and types from the dump.
func kernelFromDump(vmcoreSymbols map[string]uint64, mem Memory, tr *phase.Recorder) (*Table, *BTF, error) {
	end := tr.Start("kallsyms")
	ds, err := decodeKallsymsFromDump(vmcoreSymbols, mem)
	end()
	if err != nil {
		return nil, nil, err
	}
	// The BTF is read and parsed on another core while the symbol table
	// is indexed: neither needs the other.
	type loaded struct {
		b   *BTF
		err error
	}
	btfc := make(chan loaded, 1)
	bounds := ds.addrs("__start_BTF", "__stop_BTF") // before the indexing reorders ds
	go func() {
		defer tr.Beside("BTF")()
		b, err := btfFromDump(func(name string) (uint64, bool) { a, ok := bounds[name]; return a, ok }, mem)
		btfc <- loaded{b, err}
	}()
	end = tr.Start("kallsyms index")
	ks, err := ds.table()
	end()
	bl := <-btfc
	if err != nil {
		return nil, nil, err
	}
	if bl.err != nil {
		return nil, nil, bl.err
	}
	return ks, bl.b, nil
}

// Addr is a global's runtime address: from the symbol table, else from its
// DWARF location (relocated by the slide when in the kernel image). DWARF
// has no definition for linker aliases such as jiffies; the symtab does.
func (v *Vmlinux) Addr(name string) (uint64, bool) {
	if a, ok := v.Syms.Lookup(name); ok {
		return a, true
	}
	a, ok := v.DWARF.GlobalAddr(name)
	if !ok {
		return 0, false
	}
	if inImage(a) {
		a += v.Syms.Slide()
	}
	return a, true
}
