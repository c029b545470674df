package symbols

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"

	"github.com/ktriage/ktriage/vmcore"
)

// The DWARF index cache: one file per vmlinux build-id, so a second run on
// the same kernel skips the DIE walk. Layout (all integers uvarint unless
// noted): magic, build-id, vmlinux size, unit bounds (so a cached run never
// touches .debug_info beyond the units it decodes), how many of those units
// the index covers (the walk is lazy, so a cache may hold a prefix that
// later runs extend), types (name, DIE offset), globals (name, DIE, type DIE, address, flags), then a
// little-endian CRC-32 of all preceding bytes. Entries are sorted so the file is reproducible.
const indexMagic = "ktriage dwarf index v3\n"

// DefaultIndexCacheDir is $KTRIAGE_CACHE/index, else
// $XDG_CACHE_HOME/ktriage/index (~/.cache/ktriage/index).
func DefaultIndexCacheDir() string {
	if d := os.Getenv("KTRIAGE_CACHE"); d != "" {
		return filepath.Join(d, "index")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "ktriage", "index")
}

func indexCachePath(dir, buildID string) string {
	return filepath.Join(dir, buildID+".idx")
}

func encodeIndex(buildID string, fileSize int64, idx *dwarfIndex) []byte {
	var b []byte
	b = append(b, indexMagic...)
	putStr := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	putStr(buildID)
	b = binary.AppendUvarint(b, uint64(fileSize))
	b = binary.AppendUvarint(b, uint64(len(idx.units)))
	prev := uint64(0)
	for _, u := range idx.units {
		b = binary.AppendUvarint(b, u.off-prev)
		b = binary.AppendUvarint(b, u.end-u.off)
		prev = u.end
	}
	b = binary.AppendUvarint(b, uint64(idx.walked))
	// The type names keyed as typeNames keys them (no two kinds share a
	// key), without making that map.
	var names []string
	var offs []uint64
	for _, k := range idx.typeKinds() {
		for name, off := range k.m {
			names, offs = append(names, k.kw+name), append(offs, off)
		}
	}
	gnames, gvars := make([]string, 0, len(idx.globals)), make([]globalVar, 0, len(idx.globals))
	for n, g := range idx.globals {
		gnames, gvars = append(gnames, n), append(gvars, g)
	}
	size := len(b) + 16*len(names) + 32*len(gnames) + 8
	for _, n := range names {
		size += len(n)
	}
	for _, n := range gnames {
		size += len(n)
	}
	b = slices.Grow(b, size-len(b))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range sortedStrings(names) {
		putStr(names[k.I])
		b = binary.AppendUvarint(b, offs[k.I])
	}
	b = binary.AppendUvarint(b, uint64(len(gnames)))
	for _, k := range sortedStrings(gnames) {
		g := gvars[k.I]
		putStr(gnames[k.I])
		b = binary.AppendUvarint(b, g.die)
		b = binary.AppendUvarint(b, g.typeDie)
		b = binary.AppendUvarint(b, g.addr)
		var flags byte
		if g.external {
			flags |= 1
		}
		b = append(b, flags)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var errBadIndex = errors.New("index cache: malformed")

func decodeIndex(data []byte, buildID string, fileSize int64) (*dwarfIndex, error) {
	return decodeIndexTo(data, buildID, fileSize, false)
}

// decodeIndexTo decodes an index file; headOnly stops after the unit spans
// and the count walked (no names: what saveIndex compares).
func decodeIndexTo(data []byte, buildID string, fileSize int64, headOnly bool) (*dwarfIndex, error) {
	if len(data) < len(indexMagic)+4 || !bytes.HasPrefix(data, []byte(indexMagic)) {
		return nil, fmt.Errorf("%w: bad magic", errBadIndex)
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadIndex)
	}
	b := buf{data: body, pos: uint64(len(indexMagic))}
	// Every name is a slice of one copy of the file: no allocation per name.
	text := string(body)
	str := func() string {
		n := b.uleb()
		start := b.pos
		if b.bytes(n) == nil || b.err != nil {
			return ""
		}
		return text[start : start+n]
	}
	if got := str(); got != buildID {
		return nil, fmt.Errorf("%w: built for build-id %q, not %q", errBadIndex, got, buildID)
	}
	if got := b.uleb(); got != uint64(fileSize) {
		return nil, fmt.Errorf("%w: built for a %d-byte vmlinux, this one has %d", errBadIndex, got, fileSize)
	}
	// Each entry takes at least two bytes, which bounds the counts.
	count := func() int {
		n := b.uleb()
		if n > uint64(len(body))/2 {
			b.fail()
			return 0
		}
		return int(n)
	}
	idx := &dwarfIndex{unitIndex: newUnitIndex()}
	n := count()
	idx.units = make([]unitSpan, 0, n)
	prev := uint64(0)
	for range n {
		off := prev + b.uleb()
		end := off + b.uleb()
		if off < prev || end <= off {
			b.fail()
			break
		}
		idx.units = append(idx.units, unitSpan{off, end})
		prev = end
	}
	if w := b.uleb(); w <= uint64(len(idx.units)) {
		idx.walked = int(w)
	} else {
		b.fail()
	}
	if headOnly {
		if b.err != nil {
			return nil, fmt.Errorf("%w: truncated", errBadIndex)
		}
		return idx, nil
	}
	n = count()
	// Sized up front: growing the maps name by name cost more than the
	// whole rest of the decoding.
	idx.structs, idx.plain = make(map[string]uint64, n), make(map[string]uint64, n/4)
	for range n {
		name := str()
		idx.addTypeName(name, b.uleb())
	}
	n = count()
	idx.globals = make(map[string]globalVar, n)
	for range n {
		name := str()
		g := globalVar{die: b.uleb(), typeDie: b.uleb(), addr: b.uleb()}
		g.external = b.u8()&1 != 0
		idx.globals[name] = g
	}
	if b.err != nil || b.pos != uint64(len(body)) {
		return nil, fmt.Errorf("%w: truncated or trailing bytes", errBadIndex)
	}
	return idx, nil
}

// maxIndexCacheBytes bounds a cache file read whole: a 6.1 kernel's complete
// index is a few MB; anything far larger is not one of ours.
const maxIndexCacheBytes = 256 << 20

func readIndexCache(path, buildID string, fileSize int64) (*dwarfIndex, error) {
	return readIndexCacheTo(path, buildID, fileSize, false)
}

// readIndexCacheTo is readIndexCache, stopping after the head if headOnly.
func readIndexCacheTo(path, buildID string, fileSize int64, headOnly bool) (*dwarfIndex, error) {
	data, err := readCacheFile(path, maxIndexCacheBytes)
	if err != nil {
		return nil, err
	}
	idx, err := decodeIndexTo(data, buildID, fileSize, headOnly)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return idx, nil
}

// readCacheFile gives a whole cache file of at most limit bytes, read-only. Only a
// regular file, opened without blocking: a cache path that is a link to
// /dev/zero or a FIFO must not exhaust memory or hang the run.
func readCacheFile(path string, limit int64) ([]byte, error) {
	f, err := vmcore.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than a cache file of ours can be", path, st.Size())
	}
	// Mapped, not read: the kernel maps the page cache's pages (64 KiB per
	// fault) instead of copying them into fresh heap, which cost a
	// no-debuginfo triage ~6 ms of its ~60 on the names cache alone.
	data, err := mapWhole(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// checkSpans tells whether the cached unit spans can describe a .debug_info
// of infoLen bytes: units tile it from offset 0 to its end.
func (x *dwarfIndex) checkSpans(infoLen int) error {
	next := uint64(0)
	for _, u := range x.units {
		if u.off != next {
			return fmt.Errorf("%w: unit spans do not tile .debug_info (a unit at %#x, expected %#x)", errBadIndex, u.off, next)
		}
		next = u.end
	}
	if next != uint64(infoLen) {
		return fmt.Errorf("%w: unit spans end at %#x, .debug_info at %#x", errBadIndex, next, infoLen)
	}
	return nil
}

// writeIndexCache writes the index to the cache.
func writeIndexCache(path, buildID string, fileSize int64, idx *dwarfIndex) error {
	return writeCacheFile(path, encodeIndex(buildID, fileSize, idx))
}

// writeCacheFile writes atomically: a temporary file renamed into place,
// so a concurrent reader sees the old file or the whole new one.
func writeCacheFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
