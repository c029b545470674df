package minimize

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/vmcore"
)

// Page classes --redact leaves out: what makedumpfile -d 31 calls user
// data, page cache and free pages, told apart the same way, from the
// page's struct page (flags, mapping, _mapcount) found through the
// memory section table. Only VMCOREINFO is needed, so it works on any
// dump ktriage can read the log of. A page whose struct page cannot be
// read is left out too ("unclassified"): redaction fails closed.
const (
	ClassUser         = "user memory (anonymous)"
	ClassPageCache    = "page cache (file data)"
	ClassFree         = "free memory (buddy allocator)"
	ClassUnclassified = "unclassified (its struct page is not in the dump)"
)

// redactor decides which kept pages may leave the machine and rewrites
// names in the ones that do.
type redactor struct {
	d    *vmcore.Dump
	as   *kernel.AddressSpace
	opts Options
	done []Redaction

	// struct page layout and flag bits, from VMCOREINFO.
	pageSize, flagsOff, mappingOff, mapcountOff, privateOff, headOff uint64
	lru, slab, swapcache                                             uint64
	buddy                                                            int64
	sectionShift, perRoot, sectionSize, roots                        uint64
	memSection                                                       uint64

	patches map[uint64][]patch // pfn → bytes to overwrite (--rename)
	host    string             // the hostname, replaced
}

type patch struct {
	off  int
	data []byte
}

func newRedactor(d *vmcore.Dump, opts Options) (*redactor, error) {
	vi := d.VMCoreInfo
	as, err := kernel.NewAddressSpace(d)
	if err != nil {
		return nil, err
	}
	r := &redactor{d: d, as: as, opts: opts, patches: map[uint64][]patch{}}
	var missing []string
	num := func(get func(string) (int64, bool), key string) uint64 {
		v, ok := get(key)
		if !ok || v < 0 {
			missing = append(missing, key)
		}
		return uint64(v)
	}
	r.pageSize = num(vi.Size, "page")
	r.flagsOff = num(vi.Offset, "page.flags")
	r.mappingOff = num(vi.Offset, "page.mapping")
	r.mapcountOff = num(vi.Offset, "page._mapcount")
	r.privateOff = num(vi.Offset, "page.private")
	r.headOff = num(vi.Offset, "page.compound_head")
	r.lru = num(vi.Number, "PG_lru")
	r.slab = num(vi.Number, "PG_slab")
	r.swapcache = num(vi.Number, "PG_swapcache")
	buddy, ok := vi.Number("PAGE_BUDDY_MAPCOUNT_VALUE")
	if !ok {
		missing = append(missing, "PAGE_BUDDY_MAPCOUNT_VALUE")
	}
	r.buddy = buddy
	bits := num(vi.Number, "SECTION_SIZE_BITS")
	r.sectionSize = num(vi.Size, "mem_section")
	r.roots = num(vi.Length, "mem_section")
	ms, ok := vi.Symbol("mem_section")
	if !ok {
		missing = append(missing, "SYMBOL(mem_section)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("VMCOREINFO lacks %v: pages cannot be told apart, so nothing could be redacted safely", missing)
	}
	if r.sectionSize == 0 || r.pageSize == 0 || bits <= 12 || bits > 40 {
		return nil, fmt.Errorf("VMCOREINFO's page or section layout is implausible (SIZE(page)=%d SIZE(mem_section)=%d SECTION_SIZE_BITS=%d)", r.pageSize, r.sectionSize, bits)
	}
	r.sectionShift = bits - 12
	r.perRoot = 4096 / r.sectionSize
	r.memSection = ms
	return r, nil
}

// structPage returns the address of pfn's struct page (SPARSEMEM with the
// EXTREME root table every x86_64 distribution kernel has).
func (r *redactor) structPage(pfn uint64) (uint64, error) {
	nr := pfn >> r.sectionShift
	if nr/r.perRoot >= r.roots {
		return 0, fmt.Errorf("pfn %#x beyond the section table", pfn)
	}
	root, err := r.as.ReadU64(r.memSection + nr/r.perRoot*8)
	if err != nil || root == 0 {
		return 0, fmt.Errorf("section root of pfn %#x: %v", pfn, err)
	}
	m, err := r.as.ReadU64(root + nr%r.perRoot*r.sectionSize)
	if err != nil || m == 0 {
		return 0, fmt.Errorf("section of pfn %#x: %v", pfn, err)
	}
	return m&^0x3f + pfn*r.pageSize, nil // low bits of section_mem_map are flags
}

// classify returns the class of a page --redact leaves out, or "".
func (r *redactor) classify(pfn uint64) string {
	page, err := r.structPage(pfn)
	if err != nil {
		return ClassUnclassified
	}
	buf := make([]byte, r.pageSize)
	if r.as.ReadVirt(buf, page) != nil {
		return ClassUnclassified
	}
	le := binary.LittleEndian
	if int32(le.Uint32(buf[r.mapcountOff:])) == int32(r.buddy) {
		return ClassFree
	}
	// A tail page answers for its compound page's head.
	if h := le.Uint64(buf[r.headOff:]); h&1 != 0 {
		if r.as.ReadVirt(buf, h-1) != nil {
			return ClassUnclassified
		}
	}
	flags, mapping := le.Uint64(buf[r.flagsOff:]), le.Uint64(buf[r.mappingOff:])
	switch {
	case flags&(1<<r.slab) != 0:
		return ""
	case mapping&1 != 0: // PAGE_MAPPING_ANON
		return ClassUser
	case mapping != 0 && mapping&3 == 0 && flags&(1<<r.lru|1<<r.swapcache) != 0:
		return ClassPageCache
	}
	// Inside a free block of higher order: the block's first page is
	// marked, with the order in private.
	for order := uint64(1); order <= 10; order++ {
		head := pfn &^ (1<<order - 1)
		if head == pfn {
			continue
		}
		p, err := r.structPage(head)
		if err != nil || r.as.ReadVirt(buf, p) != nil {
			continue
		}
		if int32(le.Uint32(buf[r.mapcountOff:])) == int32(r.buddy) && le.Uint64(buf[r.privateOff:]) >= order {
			return ClassFree
		}
	}
	return ""
}

// filter leaves out the pages of the redacted classes, each recorded. A
// page whose struct page the dump lacks cannot be shown to be kernel
// memory: the whole redaction is refused, naming how many.
func (r *redactor) filter(pfns []uint64, reason map[uint64]string) ([]uint64, error) {
	var out []uint64
	unknown := 0
	var first uint64
	for _, pfn := range pfns {
		class := r.classify(pfn)
		switch class {
		case "":
			out = append(out, pfn)
			continue
		case ClassUnclassified:
			if unknown == 0 {
				first = pfn
			}
			unknown++
			continue
		}
		r.done = append(r.done, Redaction{What: "page", PFN: pfn, Class: class, Field: reason[pfn]})
	}
	if unknown > 0 {
		return nil, fmt.Errorf("%d of the %d pages to keep (the first pfn %#x) have no struct page in the dump "+
			"(it was cut or filtered without the memory map), so they cannot be shown not to be user data or page cache: "+
			"refusing to redact; minimize without --redact, or from the unfiltered dump", unknown, len(pfns), first)
	}
	return out, nil
}

// rename plans the rewrite of every task's comm and of the hostname in
// init_uts_ns, wherever they lie in kept pages.
func (r *redactor) rename(k *kernel.Kernel, tasks []kernel.Task) {
	if k == nil {
		return
	}
	if off, err := k.Off("task_struct", "comm"); err == nil {
		for _, t := range tasks {
			r.rewriteVirt(t.Addr+off, fmt.Sprintf("task-%d", t.PID), 16, fmt.Sprintf("task %d comm", t.PID))
		}
	}
	if base, err := k.Addr("init_uts_ns"); err == nil {
		if off, err := k.Off("uts_namespace", "name.nodename"); err == nil {
			r.host, _ = k.String(base+off, 65)
			r.rewriteVirt(base+off, "redacted", 65, "hostname (init_uts_ns)")
		}
	}
}

// rewriteVirt plans writing s, NUL-padded to n bytes, at vaddr.
func (r *redactor) rewriteVirt(vaddr uint64, s string, n int, what string) {
	data := make([]byte, n)
	copy(data[:n-1], s)
	for i := 0; i < n; {
		phys, err := r.as.Translate(vaddr + uint64(i))
		if err != nil {
			return
		}
		ps := uint64(r.d.PageSize)
		pfn, off := phys/ps, int(phys%ps)
		k := min(n-i, int(ps)-off)
		r.patches[pfn] = append(r.patches[pfn], patch{off, data[i : i+k]})
		if i == 0 {
			r.done = append(r.done, Redaction{What: "field", PFN: pfn, Field: what, Was: n})
		}
		i += k
	}
}

// rewrite applies the planned rewrites to one page about to be written.
func (r *redactor) rewrite(pfn uint64, page []byte) {
	for _, p := range r.patches[pfn] {
		copy(page[p.off:], p.data)
	}
}

// hostname is the header's nodename as the copy shows it.
func (r *redactor) hostname(h string) string {
	if r.opts.Rename {
		return "redacted"
	}
	return h
}

// sortDone orders the redactions by page for the manifest.
func (r *redactor) sortDone() {
	sort.SliceStable(r.done, func(i, j int) bool { return r.done[i].PFN < r.done[j].PFN })
}
