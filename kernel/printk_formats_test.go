package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/vmcore"
)

// No real dump of a 3.5-5.9 kernel (printk_log records) or of a pre-3.5
// kernel (character ring) is at hand, so these tests build the memory of
// such kernels in test code, from the layouts the kernel documents
// (kernel/printk/printk.c of those releases; printk_ringbuffer.h for 5.10+),
// and decode it through the same AddressSpace and VMCOREINFO path a real
// dump takes: page tables, kernel-image symbols, direct-map buffers.

const (
	imgDirectMap = 0xffff888000000000 // page_offset_base without KASLR
	imgPGD       = 0x1000
)

// physImage is sparse physical memory: 4 KiB pages by pfn.
type physImage map[uint64][]byte

func (m physImage) ReadPhys(p []byte, paddr uint64) (int, error) {
	n := 0
	for n < len(p) {
		a := paddr + uint64(n)
		pg, ok := m[a>>12]
		if !ok {
			return n, &vmcore.PageError{Addr: a, Err: vmcore.ErrNotPresent}
		}
		n += copy(p[n:], pg[a&0xfff:])
	}
	return n, nil
}

func (m physImage) write(paddr uint64, b []byte) {
	for len(b) > 0 {
		pg, ok := m[paddr>>12]
		if !ok {
			pg = make([]byte, 4096)
			m[paddr>>12] = pg
		}
		c := copy(pg[paddr&0xfff:], b)
		b, paddr = b[c:], paddr+uint64(c)
	}
}

func (m physImage) u64(paddr, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	m.write(paddr, b[:])
}

// newImage returns memory with x86_64 4-level page tables mapping the
// direct map and the kernel image (__START_KERNEL_map) each onto the
// first GiB of physical memory with one 1 GiB page, and an AddressSpace
// over it.
func newImage() (physImage, *AddressSpace) {
	m := physImage{}
	const pudDirect, pudKernel, present, huge = 0x2000, 0x3000, 1, 0x80
	m.u64(imgPGD+((imgDirectMap>>39)&0x1ff)*8, pudDirect|present)
	m.u64(pudDirect+((imgDirectMap>>30)&0x1ff)*8, 0|present|huge)
	m.u64(imgPGD+((startKernelMap>>39)&0x1ff)*8, pudKernel|present)
	m.u64(pudKernel+((startKernelMap>>30)&0x1ff)*8, 0|present|huge)
	as := &AddressSpace{phys: m, pgdPhys: imgPGD, levels: 4, PageOffset: imgDirectMap, cache: map[uint64]uint64{}}
	return m, as
}

// kernel-image virtual address of physical address pa, and the reverse.
func kva(pa uint64) uint64 { return startKernelMap + pa }

func parseVI(t testing.TB, lines ...string) *vmcore.VMCoreInfo {
	t.Helper()
	vi, err := vmcore.ParseVMCoreInfo([]byte(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return vi
}

func dmesgOf(t testing.TB, recs []LogRecord) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteDmesg(&b, recs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// --- 3.5-5.9: struct printk_log records -----------------------------------

// printkLogHdr is sizeof(struct printk_log) on x86_64: u64 ts_nsec; u16 len;
// u16 text_len; u8 dict_len; u8 facility; u8 flags:5, level:3; padded to
// 16. Records are aligned to LOG_ALIGN = __alignof__(struct printk_log) = 8.
const printkLogHdr = 16

type structuredMsg struct {
	ts   uint64
	text string
	dict string
}

// structuredLog replays log_store() of 3.5-5.9 kernels into a buffer of
// bufLen bytes: oldest records are dropped while there is no room
// (log_make_free_space), and a record that does not fit before the end
// leaves a zeroed header (len 0) there and goes to the start.
type structuredLog struct {
	buf               []byte
	first, next       uint32
	firstSeq, nextSeq int
	msgs              []structuredMsg
}

func (l *structuredLog) hasSpace(size uint32, empty bool) bool {
	var free uint32
	if l.next > l.first || empty {
		free = max(uint32(len(l.buf))-l.next, l.first)
	} else {
		free = l.first - l.next
	}
	return free >= size+printkLogHdr
}

func (l *structuredLog) recLen(idx uint32) uint32 {
	return uint32(binary.LittleEndian.Uint16(l.buf[idx+8:]))
}

// nextIdx is log_next(): the record after idx, following a wrap marker.
func (l *structuredLog) nextIdx(idx uint32) uint32 {
	if n := l.recLen(idx); n != 0 {
		return idx + n
	}
	return l.recLen(0)
}

func (l *structuredLog) store(m structuredMsg) {
	size := uint32(printkLogHdr + len(m.text) + len(m.dict))
	size += -size & 7
	for l.firstSeq < l.nextSeq && !l.hasSpace(size, false) {
		l.first = l.nextIdx(l.first)
		l.firstSeq++
	}
	if l.firstSeq == l.nextSeq && !l.hasSpace(size, true) {
		panic("message larger than the buffer")
	}
	if l.next+size+printkLogHdr > uint32(len(l.buf)) {
		clear(l.buf[l.next : l.next+printkLogHdr])
		l.next = 0
	}
	h := l.buf[l.next:]
	clear(h[:size])
	binary.LittleEndian.PutUint64(h[0:], m.ts)
	binary.LittleEndian.PutUint16(h[8:], uint16(size))
	binary.LittleEndian.PutUint16(h[10:], uint16(len(m.text)))
	h[12] = byte(len(m.dict))
	h[13] = 0           // facility: kernel
	h[14] = 6<<5 | 0x02 // level 6, LOG_NEWLINE
	copy(h[printkLogHdr:], m.text)
	copy(h[printkLogHdr+len(m.text):], m.dict)
	l.next += size
	l.msgs = append(l.msgs, m)
	l.nextSeq++
}

func structuredMessages(n int) []structuredMsg {
	var out []structuredMsg
	for i := 0; i < n; i++ {
		m := structuredMsg{ts: uint64(i)*1234567891 + 17, text: fmt.Sprintf("message %d: %s", i, strings.Repeat("x", i%37))}
		if i%5 == 0 {
			m.dict = "SUBSYSTEM=pci\x00DEVICE=+pci:0000:00:01.0"
		}
		if i%11 == 0 {
			m.text += "\nsecond line of a multi-line record"
		}
		out = append(out, m)
	}
	return out
}

// imageStructured lays a structuredLog into memory: the buffer in the
// direct map, the log_* variables in the kernel image.
func imageStructured(t testing.TB, l *structuredLog, structName string) (*AddressSpace, *vmcore.VMCoreInfo) {
	m, as := newImage()
	const vars, buf = 0x1000000, 0x2000000
	m.u64(vars, imgDirectMap+buf) // char *log_buf
	m.u64(vars+8, uint64(len(l.buf)))
	m.u64(vars+16, uint64(l.first))
	m.u64(vars+24, uint64(l.next))
	m.write(buf, l.buf)
	vi := parseVI(t,
		"OSRELEASE=4.19.0-test",
		fmt.Sprintf("SYMBOL(log_buf)=%x", kva(vars)),
		fmt.Sprintf("SYMBOL(log_buf_len)=%x", kva(vars+8)),
		fmt.Sprintf("SYMBOL(log_first_idx)=%x", kva(vars+16)),
		fmt.Sprintf("SYMBOL(log_next_idx)=%x", kva(vars+24)),
		fmt.Sprintf("SIZE(%s)=%d", structName, printkLogHdr),
		fmt.Sprintf("OFFSET(%s.ts_nsec)=0", structName),
		fmt.Sprintf("OFFSET(%s.len)=8", structName),
		fmt.Sprintf("OFFSET(%s.text_len)=10", structName),
		fmt.Sprintf("OFFSET(%s.dict_len)=12", structName),
	)
	return as, vi
}

func wantDmesg(msgs []structuredMsg) string {
	var recs []LogRecord
	for _, m := range msgs {
		recs = append(recs, LogRecord{TsNsec: m.ts, Text: []byte(m.text)})
	}
	var b bytes.Buffer
	WriteDmesg(&b, recs)
	return b.String()
}

// TestStructuredLogImage: printk_log records of 3.11-5.9 ("printk_log")
// and 3.5-3.10 ("log"), before the buffer wraps, after it wraps once and
// after many wraps, decode to the messages still in the buffer, dicts left
// out as makedumpfile leaves them out.
func TestStructuredLogImage(t *testing.T) {
	for _, structName := range []string{"printk_log", "log"} {
		for _, n := range []int{0, 1, 20, 60, 500} {
			t.Run(fmt.Sprintf("%s/%d-messages", structName, n), func(t *testing.T) {
				l := &structuredLog{buf: make([]byte, 4096)}
				for _, m := range structuredMessages(n) {
					l.store(m)
				}
				as, vi := imageStructured(t, l, structName)
				recs, err := ReadLog(as, vi)
				if err != nil {
					t.Fatal(err)
				}
				live := l.msgs[l.firstSeq:]
				if n == 500 && l.firstSeq == 0 {
					t.Fatalf("test did not wrap the buffer")
				}
				if got, want := dmesgOf(t, recs), wantDmesg(live); got != want {
					t.Errorf("got:\n%s\nwant:\n%s", got, want)
				}
				if len(recs) != len(live) {
					t.Errorf("%d records, want %d", len(recs), len(live))
				}
			})
		}
	}
}

// TestStructuredLogDamage: a record header log_store could not have
// written (text_len past the buffer) ended the walk, losing every record
// after it. Now only that record is lost: the walk finds the next one,
// and the error names the loss by the time stamps around it.
func TestStructuredLogDamage(t *testing.T) {
	l := &structuredLog{buf: make([]byte, 4096)}
	msgs := structuredMessages(10)
	for _, m := range msgs {
		l.store(m)
	}
	third := l.nextIdxN(0, 3)
	binary.LittleEndian.PutUint16(l.buf[third+10:], 5000) // text_len past the end
	as, vi := imageStructured(t, l, "printk_log")
	recs, err := ReadLog(as, vi)
	var dmg *LogDamage
	if !errors.As(err, &dmg) || !strings.Contains(err.Error(), "records between [    2.469135] and [    4.938271] lost") {
		t.Fatalf("error %v, want a LogDamage naming the records around the damaged one", err)
	}
	want := append(append([]structuredMsg(nil), msgs[:3]...), msgs[4:]...)
	if got := dmesgOf(t, recs); got != wantDmesg(want) {
		t.Errorf("got:\n%s\nwant every record but the damaged one:\n%s", got, wantDmesg(want))
	}
}

func (l *structuredLog) nextIdxN(idx uint32, n int) uint32 {
	for i := 0; i < n; i++ {
		idx = l.nextIdx(idx)
	}
	return idx
}

// --- before 3.5: the character ring ----------------------------------------

// TestLegacyLogImage: before 3.5 the log was a ring of characters,
// log_buf[idx & (log_buf_len-1)], with log_end counting every character
// ever written. The live text is the last min(log_end, log_buf_len)
// characters before log_end, printed as they are.
func TestLegacyLogImage(t *testing.T) {
	var all strings.Builder
	for i := 0; all.Len() < 10000; i++ {
		fmt.Fprintf(&all, "<6>[%5d.%06d] line %d of the old log\n", i/7, i*1000%1000000, i)
	}
	for _, total := range []int{0, 100, 4096, 4097, 10000} {
		t.Run(fmt.Sprint(total), func(t *testing.T) {
			const bufLen = 4096
			text := all.String()[:total]
			ring := make([]byte, bufLen)
			for i := 0; i < total; i++ {
				ring[i&(bufLen-1)] = text[i]
			}
			m, as := newImage()
			const vars, buf = 0x1000000, 0x2000000
			m.u64(vars, imgDirectMap+buf)
			m.u64(vars+8, uint64(total)) // unsigned log_end
			m.u64(vars+16, bufLen)       // int log_buf_len
			m.write(buf, ring)
			vi := parseVI(t,
				fmt.Sprintf("SYMBOL(log_buf)=%x", kva(vars)),
				fmt.Sprintf("SYMBOL(log_end)=%x", kva(vars+8)),
				fmt.Sprintf("SYMBOL(log_buf_len)=%x", kva(vars+16)))
			recs, err := ReadLog(as, vi)
			if err != nil {
				t.Fatal(err)
			}
			want := text[max(0, total-bufLen):]
			if got := dmesgOf(t, recs); got != want {
				t.Errorf("got %d bytes %q..., want %d bytes %q...", len(got), head(got), len(want), head(want))
			}
		})
	}
}

func head(s string) string { return s[:min(len(s), 60)] }

// --- 5.10+: the lockless printk_ringbuffer ---------------------------------

// VMCOREINFO lines of the lockless ring as 6.1 exports them (the layouts
// of kernel/printk/printk_ringbuffer.h on x86_64).
var locklessLayout = []string{
	"SIZE(printk_ringbuffer)=88",
	"OFFSET(printk_ringbuffer.desc_ring)=0",
	"OFFSET(printk_ringbuffer.text_data_ring)=48",
	"OFFSET(prb_desc_ring.count_bits)=0",
	"OFFSET(prb_desc_ring.descs)=8",
	"OFFSET(prb_desc_ring.infos)=16",
	"OFFSET(prb_desc_ring.head_id)=24",
	"OFFSET(prb_desc_ring.tail_id)=32",
	"SIZE(prb_desc)=24",
	"OFFSET(prb_desc.state_var)=0",
	"OFFSET(prb_desc.text_blk_lpos)=8",
	"OFFSET(prb_data_blk_lpos.begin)=0",
	"OFFSET(prb_data_blk_lpos.next)=8",
	"SIZE(printk_info)=88",
	"OFFSET(printk_info.seq)=0",
	"OFFSET(printk_info.ts_nsec)=8",
	"OFFSET(printk_info.text_len)=16",
	"OFFSET(printk_info.caller_id)=20",
	"OFFSET(prb_data_ring.size_bits)=0",
	"OFFSET(prb_data_ring.data)=8",
}

const (
	prbDescSize = 24
	prbInfoSize = 88
	prbIDMask   = 1<<62 - 1
	prbStateSh  = 62
	prbFinal    = 2
	prbReusable = 3
)

// locklessRing replays what prb_reserve/prb_commit leave in memory: ids
// counting up from DESC0_ID (so they cross the 62-bit wrap early, as on
// every booted kernel), data blocks of ALIGN(8 + text_len, 8) bytes holding
// the id then the text, a block that would straddle the end of the ring
// placed at its start (get_next_lpos), and the oldest records recycled
// when descriptors or text space run out.
type locklessRing struct {
	countBits, sizeBits uint
	descs, infos, data  []byte
	headID, tailID      uint64
	headLpos            uint64
	live                []lockRec
}

type lockRec struct {
	id, begin, next uint64
	rec             LogRecord
}

func newLocklessRing(countBits, sizeBits uint) *locklessRing {
	count := uint64(1) << countBits
	r := &locklessRing{countBits: countBits, sizeBits: sizeBits,
		descs: make([]byte, count*prbDescSize), infos: make([]byte, count*prbInfoSize), data: make([]byte, 1<<sizeBits)}
	desc0 := -(count + 1) & prbIDMask
	r.headID, r.tailID = desc0, desc0
	d := r.descs[(count-1)*prbDescSize:]
	binary.LittleEndian.PutUint64(d, prbReusable<<prbStateSh|desc0)
	binary.LittleEndian.PutUint64(d[8:], 1) // FAILED_LPOS
	binary.LittleEndian.PutUint64(d[16:], 1)
	return r
}

func (r *locklessRing) add(rec LogRecord) {
	count, size := uint64(1)<<r.countBits, uint64(1)<<r.sizeBits
	blk := (8 + uint64(len(rec.Text)) + 7) &^ 7
	begin := r.headLpos
	next := begin + blk
	if begin/size != next/size { // would wrap: the data goes at the start of the next wrap
		next = next/size*size + blk
	}
	id := (r.headID + 1) & prbIDMask
	// Recycle the oldest records whose descriptor slot or text space the
	// new one needs.
	for len(r.live) > 0 && (uint64(len(r.live)) >= count-1 || next-r.live[0].begin > size) {
		old := r.live[0]
		binary.LittleEndian.PutUint64(r.descs[(old.id%count)*prbDescSize:], prbReusable<<prbStateSh|old.id)
		r.live = r.live[1:]
	}
	slot := id % count
	d := r.descs[slot*prbDescSize:]
	binary.LittleEndian.PutUint64(d, prbFinal<<prbStateSh|id)
	binary.LittleEndian.PutUint64(d[8:], begin)
	binary.LittleEndian.PutUint64(d[16:], next)
	inf := r.infos[slot*prbInfoSize:]
	clear(inf[:prbInfoSize])
	binary.LittleEndian.PutUint64(inf, rec.Seq)
	binary.LittleEndian.PutUint64(inf[8:], rec.TsNsec)
	binary.LittleEndian.PutUint16(inf[16:], uint16(len(rec.Text)))
	binary.LittleEndian.PutUint32(inf[20:], rec.CallerID)
	at := next%size - blk                                  // begin%size, or 0 for a block that wrapped
	binary.LittleEndian.PutUint64(r.data[begin%size:], id) // the id sits at begin even when the text wrapped
	binary.LittleEndian.PutUint64(r.data[at:], id)
	copy(r.data[at+8:], rec.Text)
	r.headID, r.headLpos = id, next
	r.live = append(r.live, lockRec{id, begin, next, rec})
	r.tailID = r.live[0].id
}

// image lays the ring into memory: struct printk_ringbuffer in the kernel
// image, prb pointing at it, the arrays in the direct map.
func (r *locklessRing) image(t testing.TB) (*AddressSpace, *vmcore.VMCoreInfo) {
	m, as := newImage()
	const prbVar, rb, descs, infos, data = 0x1000000, 0x1000100, 0x2000000, 0x3000000, 0x4000000
	m.u64(prbVar, kva(rb))
	m.u64(rb+0, uint64(r.countBits))
	m.u64(rb+8, imgDirectMap+descs)
	m.u64(rb+16, imgDirectMap+infos)
	m.u64(rb+24, r.headID)
	m.u64(rb+32, r.tailID)
	m.u64(rb+48, uint64(r.sizeBits))
	m.u64(rb+56, imgDirectMap+data)
	m.write(descs, r.descs)
	m.write(infos, r.infos)
	m.write(data, r.data)
	vi := parseVI(t, append([]string{fmt.Sprintf("SYMBOL(prb)=%x", kva(prbVar))}, locklessLayout...)...)
	return as, vi
}

// TestLocklessLogImage: rings that have not wrapped, whose text wrapped,
// and whose descriptors were recycled many times decode to exactly the
// records still live, in order.
func TestLocklessLogImage(t *testing.T) {
	for _, c := range []struct {
		countBits, sizeBits uint
		n                   int
	}{{4, 12, 5}, {4, 12, 40}, {5, 9, 200}, {8, 14, 1000}} {
		t.Run(fmt.Sprintf("%d-descs-%d-bytes-%d-records", 1<<c.countBits, 1<<c.sizeBits, c.n), func(t *testing.T) {
			r := newLocklessRing(c.countBits, c.sizeBits)
			for i := 0; i < c.n; i++ {
				r.add(LogRecord{Seq: uint64(i), TsNsec: uint64(i) * 987654321, CallerID: uint32(i%3) | 0x80000000,
					Level: -1, Text: []byte(fmt.Sprintf("record %d %s", i, strings.Repeat("y", i%23)))})
			}
			as, vi := r.image(t)
			got, err := ReadLog(as, vi)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(r.live) {
				t.Fatalf("%d records, want %d", len(got), len(r.live))
			}
			for i, l := range r.live {
				g := got[i]
				if g.Seq != l.rec.Seq || g.TsNsec != l.rec.TsNsec || g.CallerID != l.rec.CallerID || !bytes.Equal(g.Text, l.rec.Text) {
					t.Fatalf("record %d: got %+v %q, want %+v %q", i, g, g.Text, l.rec, l.rec.Text)
				}
			}
		})
	}
}

// TestStructuredLogPagesLost: on a buffer that wrapped many times, each
// page in turn lost, then zeroed. Every record whose header and text lie
// off that page is read, in order, and nothing else; the loss is named.
func TestStructuredLogPagesLost(t *testing.T) {
	l := &structuredLog{buf: make([]byte, 4096)}
	for _, m := range structuredMessages(500) {
		l.store(m)
	}
	live := l.msgs[l.firstSeq:]
	// Where each live record lies, from first to next.
	offs := make([]uint32, len(live))
	for i, idx := 0, l.first; i < len(live); i++ {
		if l.recLen(idx) == 0 {
			idx = 0
		}
		offs[i], idx = idx, idx+l.recLen(idx)
	}
	for page := uint64(0); page < uint64(len(l.buf))/ringPage; page++ {
		for _, zero := range []bool{false, true} {
			r := sliceRing{buf: l.buf, lost: 1 << page}
			if zero {
				r = sliceRing{buf: append([]byte(nil), l.buf...)}
				clear(r.buf[page*ringPage : (page+1)*ringPage])
			}
			recs, problems := decodeStructured(r, uint64(len(l.buf)), uint64(l.first), uint64(l.next), testLayout)
			var want []structuredMsg
			touched := false
			for i, m := range live {
				from, to := uint64(offs[i]), uint64(offs[i])+printkLogHdr+uint64(len(m.text))
				if to <= page*ringPage || from >= (page+1)*ringPage {
					want = append(want, m)
				} else {
					touched = true
				}
			}
			got := dmesgOf(t, recs)
			if zero {
				// A record whose text was zeroed is kept, NULs and all,
				// and named: compare the others.
				var kept []LogRecord
				for _, r := range recs {
					if bytes.IndexByte(r.Text, 0) < 0 {
						kept = append(kept, r)
					}
				}
				got = dmesgOf(t, kept)
			}
			if got != wantDmesg(want) {
				t.Fatalf("page %d (zeroed %v): %d records read, want the %d off the page\nproblems: %q", page, zero, len(recs), len(want), problems)
			}
			if touched && len(problems) == 0 {
				t.Fatalf("page %d (zeroed %v): records lost and no problem named", page, zero)
			}
		}
	}
}
