package vmcore

import (
	"cmp"
	"encoding/binary"
	"math/bits"
)

// A kdump file's two bitmaps, read in blocks when first asked for.
//
// Bitmap 1 marks the pfns that are RAM, bitmap 2 those dumped. A dumped
// page's descriptor is found by counting the dumped pages below it, so
// bitmap 2's blocks below a pfn are counted (once) before its page is
// read; bitmap 1 only tells a hole from a filtered page, for pages not
// dumped. A 16 GiB machine's bitmaps are 1.1 MiB; a triage needs a few
// of their blocks, and the counts.

const (
	bitmapBlockBytes = 4096
	bitmapBlockWords = bitmapBlockBytes / 8
	bitmapBlockPFNs  = bitmapBlockBytes * 8
)

type bitmapBlock [bitmapBlockWords]uint64

// lazyBitmap is one bitmap of a kdump file. Its blocks are read under
// the file's lock (kdumpFile.mu).
type lazyBitmap struct {
	name   string // "bitmap 1" or "bitmap 2", for errors
	off, n int64  // where it lies in the (logical) file, its length in bytes
	blocks []*bitmapBlock
}

func newLazyBitmap(name string, off, n int64) lazyBitmap {
	return lazyBitmap{name: name, off: off, n: n, blocks: make([]*bitmapBlock, (n+bitmapBlockBytes-1)/bitmapBlockBytes)}
}

// block returns block i of bm, reading it on first use. The caller holds
// k.mu.
func (k *kdumpFile) block(bm *lazyBitmap, i int) (*bitmapBlock, error) {
	if b := bm.blocks[i]; b != nil {
		return b, nil
	}
	off := int64(i) * bitmapBlockBytes
	var raw [bitmapBlockBytes]byte // past the bitmap's end: zeros, no pfn
	if err := k.readBlocks(bm, i, raw[:min(bitmapBlockBytes, bm.n-off)]); err != nil {
		return nil, err
	}
	b := new(bitmapBlock)
	for w := range b {
		b[w] = binary.LittleEndian.Uint64(raw[w*8:])
	}
	if bm == &k.dumped && i < k.keptCounted {
		// Counts kept from an earlier run rank the pages: a block that
		// does not match its count would misplace them.
		if got, want := blockCount(b), k.below[i+1]-k.below[i]; got != want {
			k.dropCounts()
			return nil, formatErr(k.path, bm.off+off, "kdump bitmap 2 block %d marks %d pages dumped, but the counts kept for this file in %s say %d, so pages read may be wrong: that counts file was removed; run again",
				i, got, k.countsFile, want)
		}
	}
	bm.blocks[i] = b
	return b, nil
}

// readBlocks reads bm's bytes from the start of block i into raw. Open
// checked that the bitmaps lie inside the file: a short read here is a
// file cut short since, or a failing disk.
func (k *kdumpFile) readBlocks(bm *lazyBitmap, i int, raw []byte) error {
	off := int64(i) * bitmapBlockBytes
	if got, err := k.r.ReadAt(raw, bm.off+off); got < len(raw) {
		return formatErrWrap(k.path, bm.off+off+int64(got), err,
			"kdump %s cut short: %d of the %d bytes from its block %d could be read: %v", bm.name, got, len(raw), i, err)
	}
	return nil
}

func blockCount(b *bitmapBlock) uint64 {
	var n int
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return uint64(n)
}

// word returns word w (pfns 64w to 64w+63) of bm; the caller holds k.mu.
// Past the bitmap's end every bit is clear.
func (k *kdumpFile) word(bm *lazyBitmap, w uint64) (uint64, error) {
	i := w / bitmapBlockWords
	if i >= uint64(len(bm.blocks)) {
		return 0, nil
	}
	b, err := k.block(bm, int(i))
	if err != nil {
		return 0, err
	}
	return b[w%bitmapBlockWords], nil
}

// bit tells whether pfn's bit is set in bm.
func (k *kdumpFile) bit(bm *lazyBitmap, pfn uint64) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w, err := k.word(bm, pfn/64)
	return w&(1<<(pfn%64)) != 0, err
}

func (k *kdumpFile) isDumped(pfn uint64) (bool, error) { return k.bit(&k.dumped, pfn) }
func (k *kdumpFile) isRAM(pfn uint64) (bool, error)    { return k.bit(&k.ram, pfn) }

// countTo counts bitmap 2's blocks [0, i), those not yet counted; the
// caller holds k.mu. Blocks read only to be counted are read countRun at
// a time and not kept: on a big machine they are most of the bitmap (a
// triage asks about a few blocks), and one asked about later is read
// again.
func (k *kdumpFile) countTo(i int) error {
	var buf []byte
	for k.counted < i {
		j := k.counted
		if b := k.dumped.blocks[j]; b != nil {
			k.below[j+1] = k.below[j] + blockCount(b)
			k.counted++
			continue
		}
		end := j + 1
		for end < i && end-j < countRun && k.dumped.blocks[end] == nil {
			end++
		}
		if buf == nil {
			buf = make([]byte, countRun*bitmapBlockBytes)
		}
		off := int64(j) * bitmapBlockBytes
		raw := buf[:min(int64(end-j)*bitmapBlockBytes, k.dumped.n-off)]
		if err := k.readBlocks(&k.dumped, j, raw); err != nil {
			return err
		}
		for ; j < end; j++ {
			b := raw[:min(bitmapBlockBytes, len(raw))]
			raw = raw[len(b):]
			k.below[j+1] = k.below[j] + bytesCount(b)
		}
		k.counted = end
	}
	return nil
}

const countRun = 16 // blocks: 64 KiB a read

// bytesCount counts the bits set in b.
func bytesCount(b []byte) uint64 {
	var n int
	for ; len(b) >= 8; b = b[8:] {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b))
	}
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	return uint64(n)
}

// rankOf is the number of dumped pages below pfn: the index of pfn's page
// descriptor when the descriptors of every pfn are in one file.
func (k *kdumpFile) rankOf(pfn uint64) (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	nb := len(k.dumped.blocks)
	i := pfn / bitmapBlockPFNs
	if i >= uint64(nb) {
		if err := k.countTo(nb); err != nil {
			return 0, err
		}
		return k.below[nb], nil
	}
	if err := k.countTo(int(i)); err != nil {
		return 0, err
	}
	r := pfn % bitmapBlockPFNs
	if r == 0 {
		return k.below[i], nil // the block itself is not needed
	}
	b, err := k.block(&k.dumped, int(i))
	if err != nil {
		return 0, err
	}
	n := k.below[i]
	for _, w := range b[:r/64] {
		n += uint64(bits.OnesCount64(w))
	}
	return n + uint64(bits.OnesCount64(b[r/64]&(1<<(r%64)-1))), nil
}

// eachWord calls fn with each word of both bitmaps over [startPFN,
// endPFN), bits out of range cleared, until fn returns false. The caller
// holds k.mu. A block of either bitmap that cannot be read is skipped
// (tried once, not once a word): its pfns in range are added to unread,
// and err is the first such failure.
func (k *kdumpFile) eachWord(fn func(ram, dumped uint64) bool) (unread uint64, err error) {
	for pfn := k.startPFN; pfn < k.endPFN; {
		w := pfn / 64
		next := (w + 1) * 64
		in := ^uint64(0) << (pfn % 64)
		if k.endPFN < next {
			in &= 1<<(k.endPFN%64) - 1
		}
		ram, rerr := k.word(&k.ram, w)
		dumped, derr := k.word(&k.dumped, w)
		if e := cmp.Or(rerr, derr); e != nil {
			end := min((pfn/bitmapBlockPFNs+1)*bitmapBlockPFNs, k.endPFN)
			unread += end - pfn
			if err == nil {
				err = e
			}
			pfn = end
			continue
		}
		if !fn(ram&in, dumped&in) {
			return unread, err
		}
		pfn = next
	}
	return unread, err
}

// pageCounts counts the RAM, dumped and excluded pages of [startPFN,
// endPFN), reading both bitmaps whole; those of blocks that cannot be
// read are in none of them but in unread.
func (k *kdumpFile) pageCounts() (total, present, excluded, unread uint64, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	unread, err = k.eachWord(func(ram, dumped uint64) bool {
		total += uint64(bits.OnesCount64(ram))
		present += uint64(bits.OnesCount64(dumped))
		excluded += uint64(bits.OnesCount64(ram &^ dumped))
		return true
	})
	return total, present, excluded, unread, err
}

// anyExcluded tells whether a RAM page of [startPFN, endPFN) was not
// dumped, reading the bitmaps as far as the first; err: a block that
// could not be read before it (or none found).
func (k *kdumpFile) anyExcluded() (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	found := false
	_, err := k.eachWord(func(ram, dumped uint64) bool {
		found = ram&^dumped != 0
		return !found
	})
	return found, err
}
