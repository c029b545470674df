package damage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Fixture is one real dump: its files, and the format it stands for.
type Fixture struct {
	Name   string
	Format string // "kdump-lzo", "flat-zlib", "elf", ...
	Files  []string
}

// Fixtures lists the dumps under the repository's testdata: every
// testdata/dumps*/NAME.vmcore (or NAME.vmcore.N of a split set) and
// testdata/elf/*.elf.
func Fixtures(repo string) ([]Fixture, error) {
	var out []Fixture
	dirs, _ := filepath.Glob(filepath.Join(repo, "testdata", "dumps*"))
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.vmcore*"))
		sets := map[string][]string{}
		for _, f := range files {
			base := filepath.Base(f)
			name := base[:strings.Index(base, ".vmcore")]
			sets[name] = append(sets[name], f)
		}
		for name, fs := range sets {
			sort.Strings(fs)
			format, err := formatOf(fs)
			if err != nil {
				return nil, err
			}
			if d := filepath.Base(dir); d != "dumps" {
				// Fixtures of other folders may share a name with one
				// of testdata/dumps (dumps-el7/sysrq-kdump-lzo): the
				// name keys each fixture's undamaged log.
				name = d + "/" + name
			}
			out = append(out, Fixture{Name: name, Format: format, Files: fs})
		}
	}
	elfs, _ := filepath.Glob(filepath.Join(repo, "testdata", "elf", "*.elf"))
	for _, f := range elfs {
		out = append(out, Fixture{Name: strings.TrimSuffix(filepath.Base(f), ".elf"), Format: "elf", Files: []string{f}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		return nil, fmt.Errorf("no fixture dumps under %s/testdata", repo)
	}
	return out, nil
}

// formatOf names a fixture's format from its first file's header.
func formatOf(files []string) (string, error) {
	b, err := os.ReadFile(files[0])
	if err != nil {
		return "", err
	}
	prefix := ""
	if len(files) > 1 {
		prefix = "split-"
	}
	if bytes.HasPrefix(b, []byte("makedumpfile")) {
		prefix = "flat-"
		b = unflatten(b)
	}
	if !bytes.HasPrefix(b, []byte("KDUMP   ")) || len(b) < 432 {
		return "", fmt.Errorf("%s: not a kdump-compressed file", files[0])
	}
	// Kernels before 5.10 keep the log in printk_log records (3.10's
	// "struct log"): counted apart, as their log is read another way.
	suffix := ""
	if bytes.Contains(b, []byte("SYMBOL(log_first_idx)=")) {
		suffix = "+printk_log"
	}
	status := binary.LittleEndian.Uint32(b[424:])
	if status&0x8 != 0 {
		prefix = "incomplete-"
	}
	for _, c := range []struct {
		flag uint32
		name string
	}{{1, "zlib"}, {2, "lzo"}, {4, "snappy"}, {0x20, "zstd"}} {
		if status&c.flag != 0 {
			return prefix + "kdump-" + c.name + suffix, nil
		}
	}
	return prefix + "kdump-none" + suffix, nil
}

// flatRec is one record of a flattened stream: data at file offset phys
// belongs at logical offset off.
type flatRec struct{ off, size, phys int64 }

func flatRecords(b []byte) []flatRec {
	var out []flatRec
	for pos := int64(4096); pos+16 <= int64(len(b)); {
		off := int64(binary.BigEndian.Uint64(b[pos:]))
		size := int64(binary.BigEndian.Uint64(b[pos+8:]))
		if off < 0 || size < 0 || pos+16+size > int64(len(b)) {
			break
		}
		out = append(out, flatRec{off, size, pos + 16})
		pos += 16 + size
	}
	return out
}

// unflatten reassembles a flattened stream (makedumpfile -R).
func unflatten(b []byte) []byte {
	var out []byte
	for _, r := range flatRecords(b) {
		if need := r.off + r.size; int64(len(out)) < need {
			out = append(out, make([]byte, need-int64(len(out)))...)
		}
		copy(out[r.off:], b[r.phys:r.phys+r.size])
	}
	return out
}

// physOf maps a logical offset of a flattened stream to its file offset
// (the last record holding it), or -1.
func physOf(b []byte, logical int64) int64 {
	at := int64(-1)
	for _, r := range flatRecords(b) {
		if logical >= r.off && logical < r.off+r.size {
			at = r.phys + logical - r.off
		}
	}
	return at
}

// Region is a span of a file that one kind of damage targets.
type Region struct {
	Kind       string // "header", "data", "vmcoreinfo"
	Start, End int64
}

// Layout is what the harness knows of one file: the offsets where its
// structures begin and end (truncation points), its regions, and the
// header fields hostile sizes are written to.
type Layout struct {
	Boundaries []int64
	Regions    []Region
	Fields     []Field
}

// Field is a header field: where it lies in the file and its width.
type Field struct {
	Name  string
	Off   int64
	Width int // 2, 4 or 8
}

// LayoutOf parses the file enough to damage it with purpose.
func LayoutOf(b []byte) Layout {
	var l Layout
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		l = elfLayout(b)
	case bytes.HasPrefix(b, []byte("makedumpfile")):
		l = flatLayout(b)
	default:
		l = kdumpLayout(b, func(x int64) int64 { return x })
	}
	for i := 0; ; {
		at := bytes.Index(b[i:], []byte("OSRELEASE="))
		if at < 0 {
			break
		}
		start := int64(i + at)
		end := start + int64(bytes.IndexByte(b[start:], 0))
		if end < start {
			end = int64(len(b))
		}
		l.Regions = append(l.Regions, Region{"vmcoreinfo", start, end})
		l.Boundaries = append(l.Boundaries, start, (start+end)/2)
		i = int(end)
	}
	l.Boundaries = append(l.Boundaries, 0, 1, int64(len(b))-1)
	sort.Slice(l.Boundaries, func(i, j int) bool { return l.Boundaries[i] < l.Boundaries[j] })
	var uniq []int64
	for _, x := range l.Boundaries {
		if x >= 0 && x < int64(len(b)) && (len(uniq) == 0 || uniq[len(uniq)-1] != x) {
			uniq = append(uniq, x)
		}
	}
	l.Boundaries = uniq
	return l
}

// kdumpLayout: the diskdump header, sub-header, bitmaps, descriptors and
// page data. at maps a logical offset to the file (identity, or through
// a flattened stream's records).
func kdumpLayout(b []byte, at func(int64) int64) Layout {
	var l Layout
	lb := b
	if len(b) > 0 && b[0] == 'm' {
		lb = unflatten(b)
	}
	if len(lb) < 464 {
		return l
	}
	le := binary.LittleEndian
	bs := int64(le.Uint32(lb[428:]))
	sub := int64(le.Uint32(lb[432:]))
	bmBlocks := int64(le.Uint32(lb[436:]))
	bitmapOff := (1 + sub) * bs
	bitmapLen := bmBlocks * bs / 2
	dataOff := bitmapOff + 2*bitmapLen
	descEnd := dataOff
	if dataOff+24 <= int64(len(lb)) {
		// The first descriptor points at the first page: descriptors end there.
		if first := int64(le.Uint64(lb[dataOff:])); first > dataOff && first < int64(len(lb)) {
			descEnd = first
		}
	}
	for _, x := range []int64{8, 12, 408, 424, 428, 464, bs, bs + 104, bitmapOff, bitmapOff + bitmapLen/2,
		bitmapOff + bitmapLen, dataOff, dataOff + 24, (dataOff + descEnd) / 2, descEnd, descEnd + 1} {
		l.Boundaries = append(l.Boundaries, at(x))
	}
	if bs+104 <= int64(len(lb)) {
		vi, viLen := int64(le.Uint64(lb[bs+32:])), int64(le.Uint64(lb[bs+40:]))
		note, noteLen := int64(le.Uint64(lb[bs+48:])), int64(le.Uint64(lb[bs+56:]))
		l.Boundaries = append(l.Boundaries, at(vi), at(vi+viLen), at(note), at(note+noteLen/2), at(note+noteLen))
	}
	for _, f := range []Field{
		{"block_size", 428, 4}, {"sub_hdr_size", 432, 4}, {"bitmap_blocks", 436, 4}, {"max_mapnr", 440, 4},
		{"nr_cpus", 460, 4}, {"status", 424, 4},
		{"offset_vmcoreinfo", bs + 32, 8}, {"size_vmcoreinfo", bs + 40, 8},
		{"offset_note", bs + 48, 8}, {"size_note", bs + 56, 8},
		{"start_pfn_64", bs + 80, 8}, {"end_pfn_64", bs + 88, 8}, {"max_mapnr_64", bs + 96, 8},
		{"desc0.offset", dataOff, 8}, {"desc0.size", dataOff + 8, 4}, {"desc0.flags", dataOff + 12, 4},
	} {
		if p := at(f.Off); p >= 0 && p+int64(f.Width) <= int64(len(b)) {
			f.Off = p
			l.Fields = append(l.Fields, f)
		}
	}
	l.Regions = append(l.Regions, Region{"header", at(0), at(0) + 464}, Region{"header", at(bs), at(bs) + 104},
		Region{"header", at(dataOff), at(descEnd)})
	if at(descEnd) >= 0 {
		l.Regions = append(l.Regions, Region{"data", at(descEnd), int64(len(b))})
	}
	return l
}

func flatLayout(b []byte) Layout {
	l := kdumpLayout(b, func(x int64) int64 { return physOf(b, x) })
	recs := flatRecords(b)
	l.Boundaries = append(l.Boundaries, 24, 4096, 4096+8, 4096+16)
	for i, r := range recs {
		if i < 8 || i == len(recs)-1 {
			l.Boundaries = append(l.Boundaries, r.phys-16, r.phys-8, r.phys+r.size/2)
		}
	}
	if len(recs) > 0 {
		l.Fields = append(l.Fields, Field{"record0.offset", recs[0].phys - 16, 8}, Field{"record0.size", recs[0].phys - 8, 8})
		last := recs[len(recs)-1]
		l.Fields = append(l.Fields, Field{"last.size", last.phys - 8, 8})
	}
	l.Fields = append(l.Fields, Field{"flat.type", 16, 8}, Field{"flat.version", 24, 8})
	l.Regions = append(l.Regions, Region{"header", 0, 32})
	return l
}

func elfLayout(b []byte) Layout {
	var l Layout
	if len(b) < 64 || b[4] != 2 {
		return l
	}
	le := binary.LittleEndian
	phoff := int64(le.Uint64(b[32:]))
	phnum := int64(le.Uint16(b[56:]))
	l.Boundaries = append(l.Boundaries, 16, 52, 64, phoff, phoff+phnum*56/2, phoff+phnum*56)
	l.Regions = append(l.Regions, Region{"header", 0, 64}, Region{"header", phoff, phoff + phnum*56})
	l.Fields = append(l.Fields, Field{"e_phoff", 32, 8}, Field{"e_phentsize", 54, 2}, Field{"e_phnum", 56, 2},
		Field{"e_shoff", 40, 8}, Field{"e_shentsize", 58, 2})
	loads := 0
	for i := int64(0); i < phnum && phoff+(i+1)*56 <= int64(len(b)); i++ {
		ph := phoff + i*56
		typ := le.Uint32(b[ph:])
		off, filesz := int64(le.Uint64(b[ph+8:])), int64(le.Uint64(b[ph+32:]))
		l.Boundaries = append(l.Boundaries, off, off+filesz/2, off+filesz)
		switch {
		case typ == 4: // PT_NOTE
			l.Regions = append(l.Regions, Region{"header", off, off + 12})
			l.Fields = append(l.Fields, Field{"note.p_offset", ph + 8, 8}, Field{"note.p_filesz", ph + 32, 8},
				Field{"note0.namesz", off, 4}, Field{"note0.descsz", off + 4, 4})
		case typ == 1 && loads < 2: // PT_LOAD
			loads++
			l.Regions = append(l.Regions, Region{"data", off, off + filesz})
			l.Fields = append(l.Fields, Field{fmt.Sprintf("load%d.p_offset", loads), ph + 8, 8},
				Field{fmt.Sprintf("load%d.p_paddr", loads), ph + 24, 8},
				Field{fmt.Sprintf("load%d.p_filesz", loads), ph + 32, 8}, Field{fmt.Sprintf("load%d.p_memsz", loads), ph + 40, 8})
		}
	}
	return l
}

// Case is one damaged input: the fixture's files with one file changed.
type Case struct {
	Fixture Fixture
	Kind    string // "truncate", "flip-header", "flip-data", "flip-vmcoreinfo", "size", "vmcoreinfo-value"
	Name    string // what was done, e.g. "truncate at 0x1000"
	Part    int    // which file of the fixture
	Apply   func([]byte) []byte
	// Extend, when set, is the size the changed file is extended to,
	// sparse: a header's huge claim backed by a file that holds it.
	Extend int64
	// Checked: the format carries a check that can tell this damage from
	// good data, so a changed log line without a warning is a failure.
	// Flips of page data in formats with no checksum (ELF, LZO, snappy,
	// zstd without a frame checksum) or of VMCOREINFO text cannot be told
	// from a different kernel state: they are counted, not failed.
	Checked bool
}

// hostileValues are written over header fields.
var hostileValues = []uint64{0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 1 << 40, 1<<63 - 1, ^uint64(0)}

// HostileVMCoreInfo are VMCOREINFO values the sweep found fatal, and
// more like them.
var HostileVMCoreInfo = []string{
	"OFFSET(prb_desc.state_var)=99999", "OFFSET(prb_desc.state_var)=-8", "SIZE(prb_desc)=0", "SIZE(printk_info)=0",
	"OFFSET(printk_info.text_len)=9223372036854775807", "OFFSET(printk_info.seq)=4096",
	"OFFSET(prb_data_blk_lpos.next)=1000000", "OFFSET(printk_info.caller_id)=123456789",
	"PAGESIZE=4294967296", "PAGESIZE=0", "PAGESIZE=65537", "OSRELEASE=", "OSRELEASE=\x1b]8;;x\x07garbled",
	"CRASHTIME=99999999999999", "CRASHTIME=-10000000000", "SYMBOL(prb)=ffffffffffffffff",
	"NUMBER(phys_base)=-1", "KERNELOFFSET=ffffffffffffffff", "SYMBOL(init_top_pgt)=0",
	"LENGTH(node_data)=99999999", "OFFSET(prb_desc_ring.count_bits)=-100", "SYMBOL(_stext)=1",
	// The 3.5-5.9 log's (struct log before 3.11).
	"SIZE(log)=0", "OFFSET(log.len)=99999", "OFFSET(log.text_len)=-8", "SYMBOL(log_buf_len)=ffffffffffffffff",
}

// Cases makes the damaged inputs for one fixture. With full false it
// keeps a sample: every kind of damage, a bounded count of each.
// The sample takes every hostile VMCOREINFO value in turn, from offset on.
func Cases(f Fixture, full bool, rng *rand.Rand, offset int) ([]Case, error) {
	var out []Case
	for part, path := range f.Files {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		l := LayoutOf(b)
		add := func(kind, name string, checked bool, apply func([]byte) []byte) {
			out = append(out, Case{Fixture: f, Kind: kind, Name: name, Part: part, Apply: apply, Checked: checked})
		}
		size := int64(len(b))
		// Truncation: every boundary, and evenly spaced points.
		cuts := append([]int64(nil), l.Boundaries...)
		even := 8
		if full {
			even = 70
		}
		for i := 1; i < even; i++ {
			cuts = append(cuts, size*int64(i)/int64(even))
		}
		for _, c := range sample(cuts, full, 5, rng) {
			add("truncate", fmt.Sprintf("truncate at %#x of %#x", c, size), true, func(b []byte) []byte { return b[:c] })
		}
		// Byte flips in each region kind.
		flips := map[string]int{"header": 3, "data": 2, "vmcoreinfo": 2}
		if full {
			flips = map[string]int{"header": 80, "data": 60, "vmcoreinfo": 60}
		}
		for _, kind := range []string{"header", "data", "vmcoreinfo"} {
			var regs []Region
			for _, r := range l.Regions {
				if r.Kind == kind && r.Start >= 0 && r.End > r.Start && r.End <= size {
					regs = append(regs, r)
				}
			}
			if len(regs) == 0 {
				continue
			}
			for i := 0; i < flips[kind]; i++ {
				r := regs[rng.Intn(len(regs))]
				at := r.Start + rng.Int63n(r.End-r.Start)
				bit := byte(1) << rng.Intn(8)
				checked := kind == "header" || (kind == "data" && strings.HasSuffix(f.Format, "zlib"))
				add("flip-"+kind, fmt.Sprintf("flip bit %#x of byte %#x (%s)", bit, at, kind), checked, func(b []byte) []byte {
					b[at] ^= bit
					return b
				})
			}
		}
		// Hostile sizes in header fields.
		for _, fld := range sample(l.Fields, full, 6, rng) {
			vals := hostileValues
			if !full {
				vals = []uint64{hostileValues[rng.Intn(len(hostileValues))]}
			}
			for _, v := range vals {
				add("size", fmt.Sprintf("%s=%#x", fld.Name, v), true, func(b []byte) []byte {
					putField(b, fld, v)
					return b
				})
			}
		}
		// A huge claim the file can back: bitmaps of 1 GiB each in a file
		// extended, sparse, past them (ktriage must refuse it by its memory
		// budget, not read it).
		if len(b) >= 464 && string(b[:8]) == "KDUMP   " {
			claim, size := HugeClaim(b, 1<<30)
			out = append(out, Case{Fixture: f, Kind: "huge-claim", Name: "bitmap_blocks claiming 2 x 1 GiB of bitmaps, in a sparse file",
				Part: part, Apply: func(b []byte) []byte { copy(b, claim); return b }, Extend: size, Checked: true})
		}
		// Hostile VMCOREINFO values, in every copy of the text.
		if part == 0 && len(l.Regions) > 0 {
			values := HostileVMCoreInfo
			if !full {
				values = nil
				for i := 0; i < 3; i++ {
					values = append(values, HostileVMCoreInfo[(offset+i)%len(HostileVMCoreInfo)])
				}
			}
			for _, kv := range values {
				add("vmcoreinfo-value", strings.ToValidUTF8(kv, "?"), false, func(b []byte) []byte {
					if out, ok := SetVMCoreInfo(b, kv); ok {
						return out
					}
					return nil
				})
			}
		}
	}
	return out, nil
}

// HugeClaim returns the first page of a kdump-compressed file b whose
// bitmap_blocks claims two bitmaps of bitmapBytes each, and the size the
// file must then have (sparse: nothing is written past its data) for the
// claim to fit in it.
func HugeClaim(b []byte, bitmapBytes int64) (head []byte, size int64) {
	le := binary.LittleEndian
	bs := int64(le.Uint32(b[428:]))
	sub := int64(le.Uint32(b[432:]))
	head = append([]byte(nil), b[:min(len(b), 4096)]...)
	le.PutUint32(head[436:], uint32(2*bitmapBytes/bs))
	return head, (1+sub)*bs + 2*bitmapBytes + int64(len(b))
}

func putField(b []byte, f Field, v uint64) {
	le := binary.LittleEndian
	if len(b) >= 6 && string(b[:12]) == "makedumpfile" && (f.Name == "record0.offset" || f.Name == "record0.size" ||
		f.Name == "last.size" || f.Name == "flat.type" || f.Name == "flat.version") {
		binary.BigEndian.PutUint64(b[f.Off:], v) // the flattened stream is big-endian
		return
	}
	switch f.Width {
	case 2:
		le.PutUint16(b[f.Off:], uint16(v))
	case 4:
		le.PutUint32(b[f.Off:], uint32(v))
	default:
		le.PutUint64(b[f.Off:], v)
	}
}

// sample returns all of xs when full, else n of them picked at random.
func sample[T any](xs []T, full bool, n int, rng *rand.Rand) []T {
	if full || len(xs) <= n {
		return xs
	}
	out := make([]T, 0, n)
	for _, i := range rng.Perm(len(xs))[:n] {
		out = append(out, xs[i])
	}
	return out
}

// sacrificial are VMCOREINFO keys ktriage does not read (memory-management
// layouts for page-frame tools): SetVMCoreInfo drops them to make room for
// a longer value without moving anything else in the file.
var sacrificial = []string{"OFFSET(page.", "OFFSET(zone.", "OFFSET(free_area.", "OFFSET(vmap_area.",
	"SIZE(free_area)", "LENGTH(zone.free_area)", "SIZE(nodemask_t)", "OFFSET(pglist_data.node_id)"}

// SetVMCoreInfo sets KEY=value in every copy of the VMCOREINFO text in b,
// keeping each copy's length: a longer line takes the room of keys ktriage
// does not read, a shorter one is padded with spaces. A key absent from
// the text is added in the room made. It reports false when no copy was
// found or there was not room enough.
func SetVMCoreInfo(b []byte, kv string) ([]byte, bool) {
	key, _, _ := strings.Cut(kv, "=")
	done := false
	for i := 0; ; {
		at := bytes.Index(b[i:], []byte("OSRELEASE="))
		if at < 0 {
			break
		}
		start := i + at
		end := bytes.IndexByte(b[start:], 0)
		if end < 0 {
			end = len(b) - start
		}
		end += start
		text := string(b[start:end])
		trailingNL := strings.HasSuffix(text, "\n")
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		var kept []string
		found := false
		for _, ln := range lines {
			k, _, _ := strings.Cut(ln, "=")
			switch {
			case k == key:
				kept = append(kept, kv)
				found = true
			case isSacrificial(k):
			default:
				kept = append(kept, ln)
			}
		}
		if !found {
			kept = append(kept, kv)
		}
		nt := strings.Join(kept, "\n")
		if trailingNL {
			nt += "\n"
		}
		if len(nt) > len(text) {
			return nil, false
		}
		// Pad on a line of its own (a line with no '=' is skipped).
		pad := len(text) - len(nt)
		if pad > 0 {
			nt += strings.Repeat(" ", pad-1) + "\n"
		}
		copy(b[start:end], nt[:len(text)])
		done = true
		i = end
	}
	return b, done
}

func isSacrificial(k string) bool {
	for _, s := range sacrificial {
		if strings.HasPrefix(k, s) {
			return true
		}
	}
	return false
}

// Baseline is the fixture with its sacrificial VMCOREINFO lines dropped
// (what a vmcoreinfo-value case changes besides its own key): the
// reference a vmcoreinfo-value case's log is compared with.
func Baseline(b []byte) []byte {
	out, ok := SetVMCoreInfo(b, "KTRIAGE_DAMAGE_BASELINE=1")
	if !ok {
		return b
	}
	return out
}
