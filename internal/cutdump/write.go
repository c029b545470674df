package cutdump

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/ktriage/ktriage/vmcore"
)

// Offsets in the kdump-compressed header and sub-header (LP64, as
// makedumpfile's diskdump_mod.h and QEMU's dump.h lay them out). vmcore
// parses the same fields; the cutter needs to rewrite a few of them.
const (
	hdrVersion      = 8
	hdrStatus       = 424
	hdrSubHdrSize   = 432
	hdrBitmapBlocks = 436
	diskDumpHdrSize = 464

	subSplit     = 12
	subStartPFN  = 16 // unsigned long start_pfn (v2+)
	subEndPFN    = 24
	subVMCI      = 32 // offset_vmcoreinfo, size_vmcoreinfo (v3+)
	subNote      = 48 // offset_note, size_note (v4+)
	subErase     = 64 // offset_eraseinfo, size_eraseinfo (v5+)
	subStartPFN6 = 80 // start_pfn_64, end_pfn_64, max_mapnr_64 (v6)
	subEndPFN6   = 88
	subHdrLen    = 104

	statusIncomplete = 0x8
	pageDescLen      = 24

	flatMagic      = "makedumpfile"
	flatHeaderLen  = 4096
	descBatchPages = 64 // descriptors and data are written in interleaved batches, as QEMU does
)

// Options shape the written dump.
type Options struct {
	// Parts splits the dump into this many files, as makedumpfile --split
	// does: each holds the header, the whole bitmaps and the descriptors
	// and pages of one pfn range. 0 or 1: one file.
	Parts int
	// Flattened writes each file in makedumpfile -F's flattened format.
	Flattened bool
	// Lost marks the dump INCOMPLETE and adds this many pages whose
	// descriptors are left zeroed and whose data is never written, as when
	// the capture disk fills up. They are the dumped pages with the highest
	// pfns above every kept page, so the workload's reads are unaffected.
	Lost int
}

// Result describes what was written.
type Result struct {
	Paths     []string
	Sizes     []int64
	Kept      int      // pages copied with their data
	LostPFNs  []uint64 // pfns with a zeroed descriptor (Options.Lost)
	DataBytes int64    // compressed page bytes copied (shared pages counted once per file)
}

// PartPaths names the files of an n-part dump written to out: out itself,
// or out.1 ... out.n.
func PartPaths(out string, n int) []string {
	if n <= 1 {
		return []string{out}
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("%s.%d", out, i+1)
	}
	return paths
}

// keptPage is one page to copy: where its bytes lie in the source.
type keptPage struct {
	pfn     uint64
	srcPart int
	off     int64
	size    uint32
	flags   uint32
	lost    bool
}

// sourceLayout is the part of the source's first file that is copied
// verbatim: header block, sub-header blocks (with notes and VMCOREINFO)
// and bitmap 1.
type sourceLayout struct {
	blockSize  int64
	header     []byte // block 0
	meta       []byte // blocks 1..sub_hdr_size: sub-header, notes, VMCOREINFO
	bitmapLen  int64
	bitmap1    []byte
	dataOff    int64
	maxMapnr   uint64
	version    int32
	eraseinfo  []byte
	headerTail bool // block 0 holds bytes past the 464-byte header
}

func readLayout(d *vmcore.Dump) (*sourceLayout, error) {
	parts := d.KdumpParts()
	if len(parts) == 0 {
		return nil, errors.New("not a kdump-compressed dump (ELF cores are not cut by this tool)")
	}
	p := parts[0]
	le := binary.LittleEndian
	l := &sourceLayout{blockSize: p.BlockSize, maxMapnr: p.MaxMapnr, dataOff: p.DataOffset}
	read := func(off, n int64, what string) ([]byte, error) {
		b := make([]byte, n)
		if _, err := p.Reader.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("%s: reading %s: %v", p.Path, what, err)
		}
		return b, nil
	}
	var err error
	if l.header, err = read(0, l.blockSize, "header"); err != nil {
		return nil, err
	}
	l.version = int32(le.Uint32(l.header[hdrVersion:]))
	subBlocks := int64(int32(le.Uint32(l.header[hdrSubHdrSize:])))
	bitmapBlocks := int64(le.Uint32(l.header[hdrBitmapBlocks:]))
	l.bitmapLen = bitmapBlocks * l.blockSize / 2
	bitmapOff := (1 + subBlocks) * l.blockSize
	if bitmapOff+2*l.bitmapLen != l.dataOff {
		return nil, fmt.Errorf("%s: descriptors at %#x, expected right after the bitmaps at %#x", p.Path, l.dataOff, bitmapOff+2*l.bitmapLen)
	}
	if l.meta, err = read(l.blockSize, bitmapOff-l.blockSize, "sub-header"); err != nil {
		return nil, err
	}
	if len(l.meta) < subHdrLen {
		return nil, fmt.Errorf("%s: sub-header of %d bytes is too short", p.Path, len(l.meta))
	}
	if l.bitmap1, err = read(bitmapOff, l.bitmapLen, "bitmap 1"); err != nil {
		return nil, err
	}
	for _, c := range l.header[diskDumpHdrSize:] {
		if c != 0 {
			l.headerTail = true
			break
		}
	}
	// Notes and VMCOREINFO stay where they are only if they lie inside the
	// copied sub-header blocks.
	for _, f := range []struct {
		at   int
		what string
		min  int32
	}{{subVMCI, "VMCOREINFO", 3}, {subNote, "ELF notes", 4}} {
		if l.version < f.min {
			continue
		}
		off, size := int64(le.Uint64(l.meta[f.at:])), int64(le.Uint64(l.meta[f.at+8:]))
		if size != 0 && (off < l.blockSize || off+size > bitmapOff) {
			return nil, fmt.Errorf("%s: %s at %#x+%d lies outside the sub-header blocks; not supported", p.Path, f.what, off, size)
		}
	}
	if l.version >= 5 {
		off, size := int64(le.Uint64(l.meta[subErase:])), int64(le.Uint64(l.meta[subErase+8:]))
		if size > 0 {
			if size > 64<<20 {
				return nil, fmt.Errorf("%s: eraseinfo of %d bytes is implausible", p.Path, size)
			}
			if l.eraseinfo, err = read(off, size, "eraseinfo"); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// selectPages looks up the descriptors of the pfns to keep (pages the
// source does not hold are dropped: a reader saw them excluded or absent
// and will again) and adds the pages to be lost.
func selectPages(d *vmcore.Dump, pfns []uint64, l *sourceLayout, lost int) ([]keptPage, error) {
	var out []keptPage
	for _, pfn := range sortedUnique(pfns) {
		part, off, size, flags, err := d.PageDescriptor(pfn)
		switch {
		case errors.Is(err, vmcore.ErrExcluded), errors.Is(err, vmcore.ErrNotPresent), errors.Is(err, vmcore.ErrLost):
			continue
		case err != nil:
			return nil, err
		}
		out = append(out, keptPage{pfn: pfn, srcPart: part, off: off, size: size, flags: flags})
	}
	if lost <= 0 {
		return out, nil
	}
	var above uint64
	if len(out) > 0 {
		above = out[len(out)-1].pfn + 1
	}
	var extra []keptPage
	for pfn := l.maxMapnr; pfn > above && len(extra) < lost; pfn-- {
		if _, _, _, _, err := d.PageDescriptor(pfn - 1); err == nil {
			extra = append(extra, keptPage{pfn: pfn - 1, lost: true})
		}
	}
	if len(extra) < lost {
		return nil, fmt.Errorf("only %d dumped pages lie above the workload's pages; cannot lose %d", len(extra), lost)
	}
	for i := len(extra) - 1; i >= 0; i-- {
		out = append(out, extra[i])
	}
	return out, nil
}

// Write writes the pages of pfns that the dump holds into a new
// kdump-compressed dump at out (out.1 ... out.N when split).
func Write(d *vmcore.Dump, pfns []uint64, out string, opts Options) (*Result, error) {
	l, err := readLayout(d)
	if err != nil {
		return nil, err
	}
	pages, err := selectPages(d, pfns, l, opts.Lost)
	if err != nil {
		return nil, err
	}
	nparts := max(opts.Parts, 1)
	if nparts > len(pages) {
		return nil, fmt.Errorf("too few pages (%d) to split into %d parts", len(pages), nparts)
	}
	if nparts > 1 && l.version < 2 {
		return nil, fmt.Errorf("a version %d kdump header has no split fields", l.version)
	}
	bitmap2 := make([]byte, l.bitmapLen)
	for _, p := range pages {
		if p.pfn/8 >= uint64(len(bitmap2)) {
			return nil, fmt.Errorf("pfn %#x lies beyond the bitmap", p.pfn)
		}
		bitmap2[p.pfn/8] |= 1 << (p.pfn % 8)
	}
	res := &Result{Paths: PartPaths(out, nparts)}
	srcParts := d.KdumpParts()
	for i := 0; i < nparts; i++ {
		lo, hi := i*len(pages)/nparts, (i+1)*len(pages)/nparts
		start, end := uint64(0), l.maxMapnr
		if i > 0 {
			start = pages[lo].pfn
		}
		if i < nparts-1 {
			end = pages[hi].pfn
		}
		if nparts > 1 && start >= end {
			return nil, fmt.Errorf("too few pages (%d) to split into %d parts", len(pages), nparts)
		}
		size, err := writePart(res.Paths[i], l, bitmap2, pages[lo:hi], srcParts, partRange{nparts > 1, start, end}, opts, res)
		if err != nil {
			os.Remove(res.Paths[i])
			return nil, err
		}
		res.Sizes = append(res.Sizes, size)
	}
	for _, p := range pages {
		if p.lost {
			res.LostPFNs = append(res.LostPFNs, p.pfn)
		} else {
			res.Kept++
		}
	}
	return res, nil
}

type partRange struct {
	split      bool
	start, end uint64
}

func writePart(path string, l *sourceLayout, bitmap2 []byte, pages []keptPage, src []vmcore.KdumpPart, r partRange, opts Options, res *Result) (int64, error) {
	le := binary.LittleEndian
	header := append([]byte(nil), l.header...)
	meta := append([]byte(nil), l.meta...)
	if opts.Lost > 0 {
		le.PutUint32(header[hdrStatus:], le.Uint32(header[hdrStatus:])|statusIncomplete)
	}
	if l.version >= 2 {
		split, start, end := uint32(0), uint64(0), uint64(0)
		if r.split {
			split, start, end = 1, r.start, r.end
		}
		le.PutUint32(meta[subSplit:], split)
		le.PutUint64(meta[subStartPFN:], start)
		le.PutUint64(meta[subEndPFN:], end)
		if l.version >= 6 {
			le.PutUint64(meta[subStartPFN6:], start)
			le.PutUint64(meta[subEndPFN6:], end)
		}
	}

	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	s := &sink{f: f, flat: opts.Flattened}
	if s.flat {
		s.w = bufio.NewWriterSize(f, 1<<20)
		var h [flatHeaderLen]byte
		copy(h[:], flatMagic)
		binary.BigEndian.PutUint64(h[16:], 1) // type: flattened
		binary.BigEndian.PutUint64(h[24:], 1) // version
		s.w.Write(h[:])
	}
	hdrOut := header
	if !l.headerTail && s.flat {
		hdrOut = header[:diskDumpHdrSize] // makedumpfile writes only the struct; the rest of the block reads as zeros
	}
	s.put(0, hdrOut)
	s.put(l.blockSize, meta)
	bitmapOff := l.blockSize + int64(len(meta))
	for _, bm := range []struct {
		off int64
		b   []byte
	}{{bitmapOff, l.bitmap1}, {bitmapOff + l.bitmapLen, bitmap2}} {
		for o := int64(0); o < int64(len(bm.b)); o += l.blockSize {
			s.put(bm.off+o, bm.b[o:min(o+l.blockSize, int64(len(bm.b)))])
		}
	}

	// Pages sharing compressed bytes in the source (makedumpfile's single
	// zero page, QEMU's too) share them here.
	type srcKey struct {
		part int
		off  int64
	}
	written := map[srcKey]int64{}
	dataPos := l.dataOff + int64(len(pages))*pageDescLen
	for b := 0; b < len(pages); b += descBatchPages {
		batch := pages[b:min(b+descBatchPages, len(pages))]
		descs := make([]byte, len(batch)*pageDescLen)
		dataStart := dataPos
		var data []byte
		for j, p := range batch {
			if p.lost {
				continue // descriptor stays zero: never written
			}
			key := srcKey{p.srcPart, p.off}
			at, ok := written[key]
			if !ok {
				raw := make([]byte, p.size)
				if _, err := src[p.srcPart].Reader.ReadAt(raw, p.off); err != nil {
					s.close()
					return 0, fmt.Errorf("%s: page data of pfn %#x: %v", src[p.srcPart].Path, p.pfn, err)
				}
				at = dataPos
				written[key] = at
				data = append(data, raw...)
				dataPos += int64(p.size)
				res.DataBytes += int64(p.size)
			}
			d := descs[j*pageDescLen:]
			le.PutUint64(d[0:], uint64(at))
			le.PutUint32(d[8:], p.size)
			le.PutUint32(d[12:], p.flags)
			// page_flags (d[16:24]) stay 0: makedumpfile and QEMU write 0.
		}
		s.put(l.dataOff+int64(b)*pageDescLen, descs)
		if len(data) > 0 {
			s.put(dataStart, data)
		}
	}
	if len(l.eraseinfo) > 0 {
		// Eraseinfo follows the page data; point the sub-header at its new place.
		le.PutUint64(meta[subErase:], uint64(dataPos))
		s.put(dataPos, l.eraseinfo)
		s.put(l.blockSize, meta)
	}
	if err := s.close(); err != nil {
		return 0, fmt.Errorf("%s: %v", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// sink writes a dump either in place (WriteAt) or as a flattened stream of
// (offset, size, data) records in the order the pieces are produced.
type sink struct {
	f    *os.File
	flat bool
	w    *bufio.Writer
	err  error
}

func (s *sink) put(off int64, b []byte) {
	if s.err != nil {
		return
	}
	if !s.flat {
		_, s.err = s.f.WriteAt(b, off)
		return
	}
	var h [16]byte
	binary.BigEndian.PutUint64(h[0:], uint64(off))
	binary.BigEndian.PutUint64(h[8:], uint64(len(b)))
	s.w.Write(h[:])
	_, s.err = s.w.Write(b)
}

func (s *sink) close() error {
	if s.flat && s.err == nil {
		var end [16]byte
		for i := range end {
			end[i] = 0xff // end marker: offset -1, size -1
		}
		s.w.Write(end[:])
		s.err = s.w.Flush()
	}
	if err := s.f.Close(); s.err == nil {
		s.err = err
	}
	return s.err
}

// sortedUnique returns pfns sorted, without repeats.
func sortedUnique(pfns []uint64) []uint64 {
	out := append([]uint64(nil), pfns...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	n := 0
	for i, p := range out {
		if i == 0 || p != out[n-1] {
			out[n] = p
			n++
		}
	}
	return out[:n]
}
