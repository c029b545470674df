package vmcore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// Counts of a kdump file's dumped pages per bitmap 2 block, kept between
// runs: ranking a page near the top of memory needs every block below it
// counted, which is the whole bitmap (576 KiB for 16 GiB), while the
// counts are 4 bytes a block. A rerun on the same file takes them from
// here and reads only the blocks it asks about.
//
// File layout (little endian): countsMagic; the number of blocks of
// bitmap 2 and of those counted, uint32 each; a uint32 count per counted
// block; a CRC-32 (IEEE) of all that. A file that fails any check is
// ignored (and replaced).

// 2: the file identity in the name has the inode change time (version 1
// files, named without it, could outlive a rewrite in place).
const countsMagic = "ktriage bitmap counts 2\n"

// countsKeeping says where a file's counts are kept.
type countsKeeping struct {
	dir string // OpenOptions.BitmapCountsDir ("": not kept)
	id  string // the file's identity, fileIdentity ("": unknown, not kept)
}

// countsPath names the counts of the file with identity id and these
// header bytes: a file rewritten in place gets another name.
func (c countsKeeping) countsPath(header ...[]byte) string {
	if c.dir == "" || c.id == "" {
		return ""
	}
	h := sha256.New()
	io.WriteString(h, c.id)
	for _, b := range header {
		h.Write(b)
	}
	return filepath.Join(c.dir, hex.EncodeToString(h.Sum(nil)[:16])+".counts")
}

// loadCounts takes the counts kept in k.countsFile, if it holds good ones
// for a bitmap of this many blocks. Called while opening, before any
// block is counted.
func (k *kdumpFile) loadCounts() {
	f, err := openCounts(k.countsFile)
	if err != nil {
		return
	}
	defer f.Close()
	nb := len(k.dumped.blocks)
	head := len(countsMagic) + 8
	buf := make([]byte, head+4*nb+4+1) // one byte more: a longer file is not ours
	n, _ := io.ReadFull(f, buf)
	buf = buf[:n]
	le := binary.LittleEndian
	if n < head+4 || string(buf[:len(countsMagic)]) != countsMagic ||
		crc32.ChecksumIEEE(buf[:n-4]) != le.Uint32(buf[n-4:]) ||
		le.Uint32(buf[len(countsMagic):]) != uint32(nb) {
		return
	}
	known := int(le.Uint32(buf[len(countsMagic)+4:]))
	if known > nb || n != head+4*known+4 {
		return
	}
	for i := 0; i < known; i++ {
		c := uint64(le.Uint32(buf[head+4*i:]))
		if c > bitmapBlockPFNs {
			clear(k.below)
			return
		}
		k.below[i+1] = k.below[i] + c
	}
	k.counted, k.keptCounted = known, known
}

// dropCounts forgets the kept counts and removes their file: they did
// not match the file (bitmap.go, checkCounts). The caller holds k.mu or
// is opening.
func (k *kdumpFile) dropCounts() {
	clear(k.below)
	k.counted, k.keptCounted = 0, 0
	os.Remove(k.countsFile)
}

// checkCounts checks the total of counts taken from the kept file, once
// at open, against the file: page data starts after the descriptor
// table, so the first descriptor of a complete, unsplit file points at
// or past the table's end. A total too high fails (the check cannot see
// one too low). It reads one descriptor, only when counts were kept.
func (k *kdumpFile) checkCounts() bool {
	if k.keptCounted == 0 || k.split || k.incomplete() || k.descCount == 0 {
		return true
	}
	var d [pageDescSize]byte
	if n, _ := k.r.ReadAt(d[:], k.dataOff); n < pageDescSize {
		return true // no descriptor to check against: cutShort tells
	}
	first := binary.LittleEndian.Uint64(d[:])
	return first >= uint64(k.dataOff)+k.descCount*pageDescSize
}

// saveCounts keeps the counts made while opening, when there are more
// than were kept. It is best effort: a run that cannot write them counts
// again next time.
func (k *kdumpFile) saveCounts() {
	k.mu.Lock()
	known, nb := k.counted, len(k.dumped.blocks)
	if known <= k.keptCounted {
		k.mu.Unlock()
		return
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, len(countsMagic)+8+4*known+4)
	buf = append(buf, countsMagic...)
	buf = le.AppendUint32(buf, uint32(nb))
	buf = le.AppendUint32(buf, uint32(known))
	for i := 0; i < known; i++ {
		buf = le.AppendUint32(buf, uint32(k.below[i+1]-k.below[i]))
	}
	k.mu.Unlock()
	buf = le.AppendUint32(buf, crc32.ChecksumIEEE(buf))

	dir := filepath.Dir(k.countsFile)
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".counts-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(buf)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), k.countsFile) != nil {
		os.Remove(tmp.Name())
	}
}
