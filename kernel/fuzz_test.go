package kernel

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/vmcore"
)

// Fuzz targets for the three printk decoders. Seeds are logs built to the
// kernel's documented layouts (printk_formats_test.go): a 3.5-5.9 record
// buffer before and after wrapping, and lockless rings whose text and
// descriptors wrapped. Allocation bound: the structured and legacy decoders
// allocate at most the buffer they are given; the lockless fuzz caps the
// rings at 256 descriptors and 16 KiB of text (readLockless itself accepts
// up to 2^30 of each and allocates only the pages it reads).

// sliceRing is a log buffer in memory whose pages of ringPage bytes are
// lost where a bit of lost is set (page i: bit i%64).
type sliceRing struct {
	buf  []byte
	lost uint64
}

const ringPage = 256

func (r sliceRing) bytes(off, n uint64) ([]byte, bool) {
	if off > uint64(len(r.buf)) || n > uint64(len(r.buf))-off {
		return nil, false
	}
	for p := off / ringPage; n > 0 && p <= (off+n-1)/ringPage; p++ {
		if r.lost&(1<<(p%64)) != 0 {
			return nil, false
		}
	}
	return r.buf[off : off+n], true
}

var testLayout = structLayout{hdr: printkLogHdr, ts: 0, len: 8, textLen: 10, dict: 12, hasDict: true}

// FuzzDecodeStructured feeds the 3.5-5.9 record walk damaged buffers with
// pages lost: it ends, every record's text is bytes of the buffer on pages
// that were read, and there are no more records than headers fit.
func FuzzDecodeStructured(f *testing.F) {
	for _, n := range []int{3, 60, 500} {
		l := &structuredLog{buf: make([]byte, 4096)}
		for _, m := range structuredMessages(n) {
			l.store(m)
		}
		f.Add(l.buf, l.first, l.next, uint64(0))
		f.Add(l.buf, l.first, l.next, uint64(1<<3|1<<9))
	}
	f.Fuzz(func(t *testing.T, buf []byte, first, next uint32, lost uint64) {
		r := sliceRing{buf: buf, lost: lost}
		recs, problems := decodeStructured(r, uint64(len(buf)), uint64(first), uint64(next), testLayout)
		if len(recs) > len(buf)/printkLogHdr+1 {
			t.Fatalf("%d records from a %d-byte buffer", len(recs), len(buf))
		}
		for _, rec := range recs {
			if len(rec.Text) == 0 {
				continue
			}
			off := cap(buf) - cap(rec.Text) // rec.Text is buf[off:off+len]
			if _, ok := r.bytes(uint64(off), uint64(len(rec.Text))); !ok || &buf[off] != &rec.Text[0] {
				t.Fatalf("record text %q is not bytes of a page that was read", rec.Text)
			}
		}
		for _, p := range problems {
			if strings.Contains(p, "\n") {
				t.Fatalf("problem spans lines: %q", p)
			}
		}
	})
}

func FuzzDecodeLegacy(f *testing.F) {
	f.Add([]byte("<6>hello\n<4>world\n"), uint32(18))
	f.Add([]byte("ring that wrapped "), uint32(1000003))
	f.Fuzz(func(t *testing.T, buf []byte, end uint32) {
		out := decodeLegacy(buf, end)
		if want := min(len(buf), int(end)); len(out) != want {
			t.Fatalf("%d bytes, want %d", len(out), want)
		}
	})
}

// Lockless fuzz input: count_bits%9, size_bits: 6+n%9, head_id, tail_id
// (8 bytes each), then the descriptor array, the info array and the text
// ring, each taken from the input in turn (zeros where it runs out).
const locklessFuzzHdr = 18

func (r *locklessRing) fuzzInput() []byte {
	b := []byte{byte(r.countBits), byte(r.sizeBits - 6)}
	b = binary.LittleEndian.AppendUint64(b, r.headID)
	b = binary.LittleEndian.AppendUint64(b, r.tailID)
	b = append(b, r.descs...)
	b = append(b, r.infos...)
	return append(b, r.data...)
}

func locklessFromInput(in []byte) *locklessRing {
	var hdr [locklessFuzzHdr]byte
	copy(hdr[:], in)
	in = in[min(len(in), locklessFuzzHdr):]
	countBits, sizeBits := uint(hdr[0]%9), 6+uint(hdr[1]%9)
	count := 1 << countBits
	r := &locklessRing{countBits: countBits, sizeBits: sizeBits,
		descs: make([]byte, count*prbDescSize), infos: make([]byte, count*prbInfoSize), data: make([]byte, 1<<sizeBits)}
	r.headID = binary.LittleEndian.Uint64(hdr[2:])
	r.tailID = binary.LittleEndian.Uint64(hdr[10:])
	for _, dst := range [][]byte{r.descs, r.infos, r.data} {
		n := copy(dst, in)
		in = in[n:]
	}
	return r
}

// FuzzLocklessRing feeds readLockless damaged 5.10+ rings through a real
// AddressSpace over a memory image. The ring geometry is capped here to
// keep each run fast; readLockless itself reads the rings a page at a
// time as records point into them, so a damaged count_bits or size_bits
// costs only the pages the memory image actually holds.
func FuzzLocklessRing(f *testing.F) {
	for _, c := range []struct {
		countBits, sizeBits uint
		n                   int
	}{{3, 8, 5}, {4, 9, 60}, {5, 10, 200}} {
		r := newLocklessRing(c.countBits, c.sizeBits)
		for i := 0; i < c.n; i++ {
			r.add(LogRecord{Seq: uint64(i), TsNsec: uint64(i) * 1e6, CallerID: uint32(i), Text: []byte(fmt.Sprintf("line %d", i))})
		}
		f.Add(r.fuzzInput())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := locklessFromInput(in)
		as, vi := r.image(t)
		recs, err := ReadLog(as, vi)
		if err != nil {
			return
		}
		if count := 1 << r.countBits; len(recs) > count+1 {
			t.Fatalf("%d records from a ring of %d descriptors", len(recs), count)
		}
		for _, rec := range recs {
			if len(rec.Text) > len(r.data) {
				t.Fatalf("record of %d bytes from a %d-byte text ring", len(rec.Text), len(r.data))
			}
		}
	})
}

// FuzzLocklessLayout feeds readLockless hostile VMCOREINFO layouts (the
// OFFSET and SIZE values of the 5.10+ ring) over a real-shaped ring: every
// value is either used inside the struct it indexes or refused by name.
func FuzzLocklessLayout(f *testing.F) {
	f.Add(int64(24), int64(0), int64(8), int64(0), int64(8), int64(88), int64(0), int64(8), int64(16), int64(20))
	f.Add(int64(0), int64(99999), int64(-8), int64(1000000), int64(8), int64(0), int64(4096), int64(8), int64(1<<62), int64(123456789))
	r := newLocklessRing(6, 11)
	for i := 0; i < 80; i++ {
		r.add(LogRecord{Seq: uint64(i), TsNsec: uint64(i) * 1e6, CallerID: uint32(i), Text: []byte(fmt.Sprintf("line %d", i))})
	}
	f.Fuzz(func(t *testing.T, descSize, stateOff, lposOff, beginOff, nextOff, infoSize, seqOff, tsOff, textLenOff, callerOff int64) {
		as, vi := r.image(t)
		vi = withLayout(t, vi, map[string]int64{
			"SIZE(prb_desc)": descSize, "OFFSET(prb_desc.state_var)": stateOff, "OFFSET(prb_desc.text_blk_lpos)": lposOff,
			"OFFSET(prb_data_blk_lpos.begin)": beginOff, "OFFSET(prb_data_blk_lpos.next)": nextOff,
			"SIZE(printk_info)": infoSize, "OFFSET(printk_info.seq)": seqOff, "OFFSET(printk_info.ts_nsec)": tsOff,
			"OFFSET(printk_info.text_len)": textLenOff, "OFFSET(printk_info.caller_id)": callerOff,
		})
		recs, err := ReadLog(as, vi)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error spans lines: %q", err)
		}
		if len(recs) > 1<<6+1 {
			t.Fatalf("%d records from a ring of 64 descriptors", len(recs))
		}
		for _, rec := range recs {
			if len(rec.Text) > len(r.data) {
				t.Fatalf("record of %d bytes from a %d-byte text ring", len(rec.Text), len(r.data))
			}
		}
	})
}

// withLayout rewrites KEY=value lines of a VMCOREINFO.
func withLayout(t *testing.T, vi *vmcore.VMCoreInfo, set map[string]int64) *vmcore.VMCoreInfo {
	t.Helper()
	var lines []string
	for _, ln := range strings.Split(vi.Raw, "\n") {
		k, _, _ := strings.Cut(ln, "=")
		if v, ok := set[k]; ok {
			ln = fmt.Sprintf("%s=%d", k, v)
		}
		lines = append(lines, ln)
	}
	out, err := vmcore.ParseVMCoreInfo([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzParseRelease: any text is either a release with a plausible
// major.minor or refused.
func FuzzParseRelease(f *testing.F) {
	for _, s := range []string{"6.1.0-56-cloud-amd64", "3.10.0-1160.el7.x86_64", "4.9", "", "99", "\x1b[2J", "6.-1", "1e9.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ma, mi, ok := parseRelease(s)
		if ok && (ma < 2 || ma > 99 || mi < 0 || mi > 999) {
			t.Fatalf("%q read as %d.%d", s, ma, mi)
		}
	})
}
