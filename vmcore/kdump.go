package vmcore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/anchore/go-lzo"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// kdump-compressed ("diskdump") layout, as makedumpfile and QEMU write it.
// Offsets are for LP64 targets; see makedumpfile's diskdump_mod.h.
const (
	kdumpSignature = "KDUMP   "
	utsLen         = 65

	hdrOffVersion      = 8
	hdrOffUtsname      = 12
	hdrOffTimestamp    = 408
	hdrOffStatus       = 424
	hdrOffBlockSize    = 428
	hdrOffSubHdrSize   = 432
	hdrOffBitmapBlocks = 436
	hdrOffMaxMapnr     = 440
	hdrOffCurrentCPU   = 456
	hdrOffNrCPUs       = 460
	diskDumpHeaderSize = 464

	kdumpSubHeaderSize = 104
	pageDescSize       = 24

	flagZlib        = 0x1
	flagLZO         = 0x2
	flagSnappy      = 0x4
	flagIncomplete  = 0x8
	flagExclVmemmap = 0x10
	flagZstd        = 0x20

	// Bounds against damaged headers: page sizes a kernel uses, and a
	// bitmap no larger than what 64 TiB of 4 KiB pages needs.
	minBlockSize    = MinPageSize
	maxBlockSize    = MaxPageSize
	maxBitmapBytes  = 2 << 30
	maxSubHdrBlocks = 1 << 16
)

// kdumpFile is one kdump-compressed file (one part of a split set).
type kdumpFile struct {
	path       string
	r          io.ReaderAt
	size       int64
	version    int32
	uts        [6]string
	timestamp  time.Time
	status     uint32
	blockSize  int64
	subHdrSize int64
	maxMapnr   uint64
	nrCPUs     int32
	currentCPU uint32

	physBase     uint64
	dumpLevel    int32
	split        bool
	startPFN     uint64
	endPFN       uint64
	vmcoreinfo   []byte
	notes        []byte
	eraseinfoOff int64
	eraseinfoLen uint64

	// The bitmaps are read in blocks as pages are asked for (bitmap.go),
	// by several goroutines: mu guards their blocks and the counts.
	mu      sync.Mutex
	ram     lazyBitmap // bitmap 1, bit set: the pfn is RAM
	dumped  lazyBitmap // bitmap 2, bit set: the pfn was dumped
	below   []uint64   // below[i]: set bits of bitmap 2 in blocks [0, i), for i <= counted
	counted int
	// countsFile keeps the counts between runs (bitmapcounts.go; "": not
	// kept); those of blocks [0, keptCounted) were taken from it.
	countsFile  string
	keptCounted int

	dataOff   int64  // page descriptors start here
	descBase  uint64 // rank of startPFN: descriptor 0 of this file
	descCount uint64 // descriptors in this file

	budget *Budget // the dump's (nil: unbounded)

	// truncated: the file ends before the data its descriptors point to
	// (a capture cut short without the incomplete flag, or a flattened
	// stream cut short). Its missing pages are lost, as in an incomplete
	// dump.
	truncated bool
}

func isKdump(head []byte) bool {
	return len(head) >= 8 && (string(head[:8]) == kdumpSignature || string(head[:8]) == "DISKDUMP")
}

func openKdump(r io.ReaderAt, size int64, path string, budget *Budget, keep countsKeeping) (*kdumpFile, error) {
	k := &kdumpFile{path: path, r: r, size: size, budget: budget}
	hdr := make([]byte, diskDumpHeaderSize)
	if n, err := r.ReadAt(hdr, 0); n < len(hdr) {
		return nil, formatErrWrap(path, 0, err, "kdump header truncated (%d of %d bytes): %v", n, len(hdr), err)
	}
	le := binary.LittleEndian
	if string(hdr[:8]) == "DISKDUMP" {
		return nil, formatErr(path, 0, "old RHEL4 diskdump format is not supported")
	}
	k.version = int32(le.Uint32(hdr[hdrOffVersion:]))
	if k.version < 1 || k.version > 6 {
		return nil, formatErr(path, hdrOffVersion, "kdump header version %d is not one of 1-6", k.version)
	}
	for i := range k.uts {
		f := hdr[hdrOffUtsname+i*utsLen : hdrOffUtsname+(i+1)*utsLen]
		if j := bytes.IndexByte(f, 0); j >= 0 {
			f = f[:j]
		}
		k.uts[i] = string(f)
	}
	sec := int64(le.Uint64(hdr[hdrOffTimestamp:]))
	usec := int64(le.Uint64(hdr[hdrOffTimestamp+8:]))
	if sec > 0 && usec >= 0 && usec < 1e6 {
		k.timestamp = time.Unix(sec, usec*1000).UTC()
	}
	k.status = le.Uint32(hdr[hdrOffStatus:])
	k.blockSize = int64(int32(le.Uint32(hdr[hdrOffBlockSize:])))
	if k.blockSize < minBlockSize || k.blockSize > maxBlockSize || k.blockSize&(k.blockSize-1) != 0 {
		return nil, formatErr(path, hdrOffBlockSize, "kdump block size %d is not a page size", k.blockSize)
	}
	k.subHdrSize = int64(int32(le.Uint32(hdr[hdrOffSubHdrSize:])))
	if k.subHdrSize < 0 || k.subHdrSize > maxSubHdrBlocks {
		return nil, formatErr(path, hdrOffSubHdrSize, "kdump sub-header size %d blocks is implausible", k.subHdrSize)
	}
	bitmapBlocks := int64(le.Uint32(hdr[hdrOffBitmapBlocks:]))
	k.maxMapnr = uint64(le.Uint32(hdr[hdrOffMaxMapnr:]))
	k.currentCPU = le.Uint32(hdr[hdrOffCurrentCPU:])
	k.nrCPUs = int32(le.Uint32(hdr[hdrOffNrCPUs:]))

	sh, err := k.readSubHeader()
	if err != nil {
		return nil, err
	}

	bitmapLen := bitmapBlocks * k.blockSize / 2
	if bitmapLen <= 0 || bitmapLen > maxBitmapBytes {
		return nil, formatErr(path, hdrOffBitmapBlocks, "kdump bitmap of %d blocks is implausible", bitmapBlocks)
	}
	bitmapOff := (1 + k.subHdrSize) * k.blockSize
	if bitmapOff+2*bitmapLen > size {
		return nil, formatErr(path, bitmapOff, "kdump bitmaps (%d bytes) run past the end of the file (%d bytes): truncated", 2*bitmapLen, size)
	}
	if k.maxMapnr > uint64(bitmapLen)*8 {
		// Not fatal: pfns beyond the bitmap are simply absent.
		k.maxMapnr = uint64(bitmapLen) * 8
	}
	// What is read of both bitmaps lives as long as the dump: a header
	// claiming a machine of petabytes (a sparse file can back it) is
	// refused here, not after reading gigabytes of zeros. (The amount is
	// what both bitmaps and a count per word took when they were read
	// whole: an upper bound on the blocks and counts now kept.)
	words := (bitmapLen + 7) / 8
	if err := budget.Reserve(fmt.Sprintf("kdump bitmaps of %d blocks", bitmapBlocks), 8*(3*words+1)); err != nil {
		return nil, formatErrWrap(path, hdrOffBitmapBlocks, err, "%v", err)
	}
	k.ram = newLazyBitmap("bitmap 1", bitmapOff, bitmapLen)
	k.dumped = newLazyBitmap("bitmap 2", bitmapOff+bitmapLen, bitmapLen)
	k.below = make([]uint64, len(k.dumped.blocks)+1)
	k.dataOff = bitmapOff + 2*bitmapLen
	if k.countsFile = keep.countsPath(hdr, sh); k.countsFile != "" {
		k.loadCounts()
	}
	if !k.split {
		k.startPFN, k.endPFN = 0, k.maxMapnr
	}
	if k.endPFN > k.maxMapnr || k.startPFN > k.endPFN {
		return nil, formatErr(path, int64(k.blockSize), "split range [%d, %d) lies outside max_mapnr %d", k.startPFN, k.endPFN, k.maxMapnr)
	}
	// The count of dumped pages up to endPFN places the last descriptor,
	// which tells a file cut short: bitmap 2 is counted that far now,
	// unless the counts were kept from an earlier run.
	if k.descBase, err = k.rankOf(k.startPFN); err != nil {
		return nil, err
	}
	end, err := k.rankOf(k.endPFN)
	if err != nil {
		return nil, err
	}
	k.descCount = end - k.descBase
	if !k.checkCounts() {
		// The kept counts are wrong (a file rewritten under its old
		// identity, or a forged one): count afresh.
		k.dropCounts()
		if k.descBase, err = k.rankOf(k.startPFN); err != nil {
			return nil, err
		}
		if end, err = k.rankOf(k.endPFN); err != nil {
			return nil, err
		}
		k.descCount = end - k.descBase
	}
	k.truncated = k.cutShort()
	if k.countsFile != "" {
		k.saveCounts()
	}
	return k, nil
}

// cutShort tells whether the file ends before its last page: the
// descriptor table runs past the end, the last descriptor points past
// it, or (flattened) the stream ended before its end marker. Pages are
// written in pfn order, so the last one is the last to go.
func (k *kdumpFile) cutShort() bool {
	if fr, ok := k.r.(*flatReader); ok && fr.cut {
		return true
	}
	if k.descCount == 0 {
		return false
	}
	last := k.dataOff + int64(k.descCount)*pageDescSize
	if last > k.size {
		return true
	}
	var d [pageDescSize]byte
	if n, _ := k.r.ReadAt(d[:], last-pageDescSize); n < pageDescSize {
		return true
	}
	off := int64(binary.LittleEndian.Uint64(d[0:]))
	size := int64(binary.LittleEndian.Uint32(d[8:]))
	return off >= k.dataOff && off+size > k.size
}

// readSubHeader reads the sub-header, and returns its bytes.
func (k *kdumpFile) readSubHeader() ([]byte, error) {
	sh := make([]byte, kdumpSubHeaderSize)
	n, _ := k.r.ReadAt(sh, k.blockSize)
	if n < 16 {
		return nil, formatErr(k.path, k.blockSize, "kdump sub-header truncated")
	}
	le := binary.LittleEndian
	k.physBase = le.Uint64(sh[0:])
	k.dumpLevel = int32(le.Uint32(sh[8:]))
	v := k.version
	if v >= 2 && n >= 32 {
		k.split = le.Uint32(sh[12:]) != 0
		k.startPFN, k.endPFN = le.Uint64(sh[16:]), le.Uint64(sh[24:])
	}
	readBlob := func(offAt, sizeAt int, what string) ([]byte, error) {
		off := int64(le.Uint64(sh[offAt:]))
		sz := le.Uint64(sh[sizeAt:])
		if off == 0 || sz == 0 {
			return nil, nil
		}
		if off < 0 || sz > 64<<20 || off+int64(sz) > k.size {
			return nil, formatErr(k.path, k.blockSize+int64(offAt), "%s at %#x size %d lies outside the file", what, off, sz)
		}
		if err := k.budget.Reserve(what, int64(sz)); err != nil {
			return nil, formatErrWrap(k.path, k.blockSize+int64(sizeAt), err, "%v", err)
		}
		b := make([]byte, sz)
		if _, err := k.r.ReadAt(b, off); err != nil {
			return nil, formatErrWrap(k.path, off, err, "%s unreadable: %v", what, err)
		}
		return b, nil
	}
	var err error
	if v >= 3 && n >= 48 {
		if k.vmcoreinfo, err = readBlob(32, 40, "VMCOREINFO"); err != nil {
			return nil, err
		}
	}
	if v >= 4 && n >= 64 {
		if k.notes, err = readBlob(48, 56, "ELF note area"); err != nil {
			return nil, err
		}
	}
	if v >= 5 && n >= 80 {
		k.eraseinfoOff = int64(le.Uint64(sh[64:]))
		k.eraseinfoLen = le.Uint64(sh[72:])
	}
	if v >= 6 && n >= kdumpSubHeaderSize {
		if k.split {
			k.startPFN, k.endPFN = le.Uint64(sh[80:]), le.Uint64(sh[88:])
		}
		if m := le.Uint64(sh[96:]); m != 0 {
			k.maxMapnr = m
		}
	}
	return sh[:n], nil
}

func (k *kdumpFile) holds(pfn uint64) bool { return pfn >= k.startPFN && pfn < k.endPFN }

// incomplete: flagged so by makedumpfile, or found cut short.
func (k *kdumpFile) incomplete() bool { return k.status&flagIncomplete != 0 || k.truncated }

// pageDesc reads the descriptor of a dumped pfn.
func (k *kdumpFile) pageDesc(pfn uint64) (off int64, size, flags uint32, err error) {
	rank, err := k.rankOf(pfn)
	if err != nil {
		return 0, 0, 0, err
	}
	idx := rank - k.descBase
	var d [pageDescSize]byte
	pos := k.dataOff + int64(idx)*pageDescSize
	n, _ := k.r.ReadAt(d[:], pos)
	if n < pageDescSize {
		if k.incomplete() {
			return 0, 0, 0, ErrLost
		}
		return 0, 0, 0, formatErr(k.path, pos, "page descriptor of pfn %#x is past the end of the file: truncated dump", pfn)
	}
	le := binary.LittleEndian
	off = int64(le.Uint64(d[0:]))
	size = le.Uint32(d[8:])
	flags = le.Uint32(d[12:])
	if off == 0 && size == 0 && k.incomplete() {
		return 0, 0, 0, ErrLost
	}
	return off, size, flags, nil
}

var (
	// The zstd decoder is made on first use: building it starts goroutines,
	// which dumps of other compressions should not pay for.
	zstdOnce    sync.Once
	zstdDecoder *zstd.Decoder
	zlibPool    sync.Pool
)

func zstdDec() *zstd.Decoder {
	zstdOnce.Do(func() {
		zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(min(runtime.GOMAXPROCS(0), 4)), zstd.WithDecoderMaxMemory(64<<20))
	})
	return zstdDecoder
}

// readPage returns the decompressed page of pfn into dst (len blockSize).
func (k *kdumpFile) readPage(pfn uint64, dst []byte) error {
	if pfn >= k.maxMapnr {
		return ErrNotPresent
	}
	// A dumped pfn is RAM: bitmap 1 is read only for the others.
	if dumped, err := k.isDumped(pfn); err != nil || !dumped {
		if err != nil {
			return err
		}
		if ram, err := k.isRAM(pfn); err != nil || !ram {
			if err != nil {
				return err
			}
			return ErrNotPresent
		}
		return ErrExcluded
	}
	off, size, flags, err := k.pageDesc(pfn)
	if err != nil {
		return err
	}
	if size == 0 || int64(size) > k.blockSize*2 || off < k.dataOff {
		return damagedPage(k.path, off, pfn, fmt.Errorf("its descriptor is damaged (offset %#x, size %d)", off, size))
	}
	if off+int64(size) > k.size || !k.stored(off, int64(size)) {
		if k.incomplete() {
			return ErrLost
		}
		return formatErr(k.path, off, "page data of pfn %#x runs past the end of the file: truncated dump", pfn)
	}
	if flags == 0 {
		// Stored uncompressed: read it in place.
		if int(size) != len(dst) {
			return formatErr(k.path, off, "uncompressed page of pfn %#x has %d bytes, want %d", pfn, size, len(dst))
		}
		if _, err := k.r.ReadAt(dst, off); err != nil {
			return formatErrWrap(k.path, off, err, "page data of pfn %#x unreadable: %v", pfn, err)
		}
		return nil
	}
	bp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(bp)
	if cap(*bp) < int(size) {
		*bp = make([]byte, size)
	}
	src := (*bp)[:size]
	if _, err := k.r.ReadAt(src, off); err != nil {
		return formatErrWrap(k.path, off, err, "page data of pfn %#x unreadable: %v", pfn, err)
	}
	if err := decompressPage(flags, src, dst); err != nil {
		return damagedPage(k.path, off, pfn, err)
	}
	return nil
}

// stored tells whether a flattened stream cut short holds the n bytes at
// logical offset off (its gaps are not zeros but lost data).
func (k *kdumpFile) stored(off, n int64) bool {
	fr, ok := k.r.(*flatReader)
	return !ok || !fr.cut || fr.covers(off, n)
}

// scratchPool holds buffers for compressed page data, which is read,
// decompressed and dropped: reusing them spares a fresh allocation per page.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

func decompressPage(flags uint32, src, dst []byte) error {
	switch {
	case flags&flagZlib != 0:
		var zr io.ReadCloser
		if v := zlibPool.Get(); v != nil {
			zr = v.(io.ReadCloser)
			if err := zr.(zlib.Resetter).Reset(bytes.NewReader(src), nil); err != nil {
				return fmt.Errorf("zlib page: %v", err)
			}
		} else {
			var err error
			if zr, err = zlib.NewReader(bytes.NewReader(src)); err != nil {
				return fmt.Errorf("zlib page: %v", err)
			}
		}
		defer zlibPool.Put(zr)
		if _, err := io.ReadFull(zr, dst); err != nil {
			return fmt.Errorf("zlib page: %v", err)
		}
		// The adler32 of the page is checked only when the stream is read
		// to its end: one more read must find that end, and a good sum.
		var extra [1]byte
		if n, err := zr.Read(extra[:]); n != 0 || err != io.EOF {
			if err == nil || err == io.EOF {
				return fmt.Errorf("zlib page decompresses to more than %d bytes", len(dst))
			}
			return fmt.Errorf("zlib page: %v", err)
		}
	case flags&flagLZO != 0:
		n, err := lzo.Decompress(src, dst)
		if err != nil {
			return fmt.Errorf("lzo page: %v", err)
		}
		if n != len(dst) {
			return fmt.Errorf("lzo page decompressed to %d bytes, want %d", n, len(dst))
		}
	case flags&flagSnappy != 0:
		n, err := snappy.DecodedLen(src)
		if err != nil || n != len(dst) {
			return fmt.Errorf("snappy page: bad length %d (%v)", n, err)
		}
		if _, err := snappy.Decode(dst, src); err != nil {
			return fmt.Errorf("snappy page: %v", err)
		}
	case flags&flagZstd != 0:
		// dst's capacity is capped: the decoder may use spare capacity as
		// scratch, and past dst lies the next page of a caller's buffer,
		// possibly being filled by another goroutine.
		out, err := zstdDec().DecodeAll(src, dst[:0:len(dst)])
		if err != nil {
			return fmt.Errorf("zstd page: %v", err)
		}
		if len(out) != len(dst) {
			return fmt.Errorf("zstd page decompressed to %d bytes, want %d", len(out), len(dst))
		}
		if &out[0] != &dst[0] {
			copy(dst, out)
		}
	case flags == 0:
		if len(src) != len(dst) {
			return fmt.Errorf("raw page of %d bytes, want %d", len(src), len(dst))
		}
		copy(dst, src)
	default:
		return fmt.Errorf("unknown compression flag %#x in page descriptor", flags)
	}
	return nil
}

func compressionName(status uint32) string {
	var names []string
	for _, c := range []struct {
		f uint32
		n string
	}{{flagZlib, "zlib"}, {flagLZO, "lzo"}, {flagSnappy, "snappy"}, {flagZstd, "zstd"}} {
		if status&c.f != 0 {
			names = append(names, c.n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// countLost counts dumped pages whose descriptor was never written.
func (k *kdumpFile) countLost() uint64 {
	var lost uint64
	buf := make([]byte, 4096*pageDescSize)
	for i := uint64(0); i < k.descCount; {
		n := uint64(len(buf) / pageDescSize)
		if k.descCount-i < n {
			n = k.descCount - i
		}
		got, _ := k.r.ReadAt(buf[:n*pageDescSize], k.dataOff+int64(i)*pageDescSize)
		full := uint64(got) / pageDescSize
		lost += n - full
		for j := uint64(0); j < full; j++ {
			d := buf[j*pageDescSize:]
			off := int64(binary.LittleEndian.Uint64(d))
			sz := binary.LittleEndian.Uint32(d[8:])
			if (off == 0 && sz == 0) || off+int64(sz) > k.size || !k.stored(off, int64(sz)) {
				lost++
			}
		}
		i += n
	}
	return lost
}
