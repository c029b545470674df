// Package kernel reads the dead kernel as Go values: virtual memory
// (x86_64 page tables, KASLR), the printk log, system facts, tasks and
// stacks. It decides nothing about what went wrong.
package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/ktriage/ktriage/vmcore"
)

// x86_64 constants from arch/x86/include/asm/page_64_types.h and pgtable.
const (
	startKernelMap = 0xffffffff80000000 // __START_KERNEL_map
	kernelMapEnd   = 0xffffffffc0000000 // KERNEL_IMAGE_SIZE max (1 GiB) above it
	// oldModulesVaddr is MODULES_VADDR while KERNEL_IMAGE_SIZE was 512 MiB
	// (3.10, RHEL 7): modules below kernelMapEnd.
	oldModulesVaddr = 0xffffffffa0000000
	pteAddrMask     = 0x000ffffffffff000
	ptePresent      = 1 << 0
	ptePSE          = 1 << 7
	pageShift       = 12
)

// PhysReader is what address translation needs from a dump.
type PhysReader interface {
	ReadPhys(p []byte, paddr uint64) (int, error)
}

// AddressSpace translates the crashed kernel's virtual addresses through its
// own page tables, found from VMCOREINFO alone (no debuginfo needed).
type AddressSpace struct {
	phys         PhysReader
	pgdPhys      uint64
	levels       int
	physBase     uint64
	kernelOffset uint64
	smeMask      uint64
	// PageOffset is the base of the direct map of physical memory
	// (page_offset_base); 0 until found.
	PageOffset uint64

	mu    sync.Mutex
	cache map[uint64]uint64 // virtual page → physical page (or translateFail)
}

const translateFail = ^uint64(0)

// ErrNoTranslation: the page tables do not map the address.
var ErrNoTranslation = errors.New("virtual address not mapped")

// NewAddressSpace sets up translation from VMCOREINFO: the page-table root
// (init_top_pgt, formerly init_level4_pgt), phys_base, KERNELOFFSET and the
// paging depth (pgtable_l5_enabled).
func NewAddressSpace(d *vmcore.Dump) (*AddressSpace, error) {
	vi := d.VMCoreInfo
	if vi == nil {
		return nil, fmt.Errorf("no usable VMCOREINFO, so no way to find the page tables: %v", d.VMCoreInfoErr)
	}
	root, ok := vi.Symbol("init_top_pgt")
	if !ok {
		if root, ok = vi.Symbol("init_level4_pgt"); !ok {
			if root, ok = vi.Symbol("swapper_pg_dir"); !ok {
				return nil, errors.New("VMCOREINFO names no page-table root (init_top_pgt, init_level4_pgt, swapper_pg_dir)")
			}
		}
	}
	as := &AddressSpace{phys: d, levels: 4, physBase: d.PhysBase, cache: map[uint64]uint64{}}
	if n, ok := vi.Number("pgtable_l5_enabled"); ok && n != 0 {
		as.levels = 5
	}
	if n, ok := vi.Number("sme_mask"); ok {
		as.smeMask = uint64(n)
	}
	as.kernelOffset, _ = vi.KernelOffset()
	if root < startKernelMap {
		return nil, fmt.Errorf("page-table root %#x is not a kernel-image address", root)
	}
	as.pgdPhys = root - startKernelMap + as.physBase
	as.PageOffset = as.findDirectMap()
	return as, nil
}

// Reserve takes n bytes of the dump's memory budget for what, before an
// allocation sized by a value read from the dump (see vmcore.Budget). A
// reader without a budget refuses nothing.
func (as *AddressSpace) Reserve(what string, n int64) error {
	if r, ok := as.phys.(interface{ Reserve(string, int64) error }); ok {
		return r.Reserve(what, n)
	}
	return nil
}

// KernelOffset is the KASLR slide of the kernel image.
func (as *AddressSpace) KernelOffset() uint64 { return as.kernelOffset }

// Translate returns the physical address of vaddr.
func (as *AddressSpace) Translate(vaddr uint64) (uint64, error) {
	vpage := vaddr &^ (1<<pageShift - 1)
	as.mu.Lock()
	p, ok := as.cache[vpage]
	as.mu.Unlock()
	if ok {
		if p == translateFail {
			return 0, fmt.Errorf("%#x: %w", vaddr, ErrNoTranslation)
		}
		return p | vaddr&(1<<pageShift-1), nil
	}
	pa, err := as.walk(vaddr)
	as.mu.Lock()
	if len(as.cache) > 1<<20 {
		clear(as.cache) // bound the cache; translations are cheap to redo
	}
	if err != nil {
		if errors.Is(err, ErrNoTranslation) {
			as.cache[vpage] = translateFail
		}
	} else {
		as.cache[vpage] = pa &^ (1<<pageShift - 1)
	}
	as.mu.Unlock()
	return pa, err
}

func (as *AddressSpace) walk(vaddr uint64) (uint64, error) {
	pa, present, table, err := as.lookup(vaddr)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%#x: page table at %#x unreadable: %w", vaddr, table, err)
	case !present:
		return 0, fmt.Errorf("%#x: %w", vaddr, ErrNoTranslation)
	}
	return pa, nil
}

// lookup walks the page tables for vaddr. An address that is not mapped is
// not an error here (present is false), so probing many addresses, as
// findDirectMap does, formats no error for each; err names a table that
// could not be read, whose address is table.
func (as *AddressSpace) lookup(vaddr uint64) (pa uint64, present bool, table uint64, err error) {
	table = as.pgdPhys
	var buf [8]byte
	for level := as.levels; level >= 1; level-- {
		shift := uint(pageShift + 9*(level-1))
		idx := (vaddr >> shift) & 0x1ff
		if _, err := as.phys.ReadPhys(buf[:], table+idx*8); err != nil {
			return 0, false, table, err
		}
		e := binary.LittleEndian.Uint64(buf[:]) &^ as.smeMask
		if e&ptePresent == 0 {
			return 0, false, table, nil
		}
		if e&ptePSE != 0 && (level == 2 || level == 3) { // 2 MiB or 1 GiB page
			mask := uint64(1)<<shift - 1
			return (e & pteAddrMask &^ mask) | vaddr&mask, true, table, nil
		}
		table = e & pteAddrMask
	}
	return table | vaddr&(1<<pageShift-1), true, table, nil
}

// ReadVirt reads len(p) bytes of kernel virtual memory at vaddr.
func (as *AddressSpace) ReadVirt(p []byte, vaddr uint64) error {
	for n := 0; n < len(p); {
		va := vaddr + uint64(n)
		pa, err := as.Translate(va)
		if err != nil {
			return err
		}
		chunk := int(1<<pageShift - va&(1<<pageShift-1))
		if chunk > len(p)-n {
			chunk = len(p) - n
		}
		if _, err := as.phys.ReadPhys(p[n:n+chunk], pa); err != nil {
			return fmt.Errorf("virtual address %#x: %w", va, err)
		}
		n += chunk
	}
	return nil
}

// ReadU64 reads one little-endian 64-bit value.
func (as *AddressSpace) ReadU64(vaddr uint64) (uint64, error) {
	var b [8]byte
	if err := as.ReadVirt(b[:], vaddr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// ReadU32 reads one little-endian 32-bit value.
func (as *AddressSpace) ReadU32(vaddr uint64) (uint32, error) {
	var b [4]byte
	if err := as.ReadVirt(b[:], vaddr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// findDirectMap finds page_offset_base the symbol-less way: the lowest
// virtual address in the direct-map window that maps physical address 0.
// KASLR places the direct map at a PUD (1 GiB) boundary, so reading the
// top-level table and one PUD table per populated slot is enough.
func (as *AddressSpace) findDirectMap() uint64 {
	lo, hi := uint64(0xffff800000000000), uint64(0xffffc88000000000)
	if as.levels == 5 {
		lo, hi = 0xff11000000000000, 0xff91000000000000
	}
	topShift := uint(pageShift + 9*(as.levels-1))
	for base := lo; base < hi && base >= lo; base += 1 << topShift {
		// Walk every 1 GiB step of this slot only if its top entry exists.
		// A slot whose tables are not in the dump is passed over whole.
		if _, _, _, err := as.lookup(base); err != nil || !as.topPresent(base) {
			continue
		}
		span := uint64(1) << topShift
		if as.levels == 5 {
			span = 1 << 39 // look in the first P4D slot only
		}
		for off := uint64(0); off < span; off += 1 << 30 {
			if pa, present, _, err := as.lookup(base + off); err == nil && present && pa == 0 {
				return base + off
			}
		}
	}
	return 0
}

func (as *AddressSpace) topPresent(vaddr uint64) bool {
	shift := uint(pageShift + 9*(as.levels-1))
	var buf [8]byte
	if _, err := as.phys.ReadPhys(buf[:], as.pgdPhys+((vaddr>>shift)&0x1ff)*8); err != nil {
		return false
	}
	return binary.LittleEndian.Uint64(buf[:])&ptePresent != 0
}

// ReadString reads a NUL-terminated string of at most max bytes.
func (as *AddressSpace) ReadString(addr uint64, max int) (string, error) {
	b := make([]byte, max)
	if err := as.ReadVirt(b, addr); err != nil {
		return "", err
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}
