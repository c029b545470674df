package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/ktriage/ktriage/vmcore"
)

// LogDamage comes with the records ReadLog could still decode: what of the
// log was lost, and why, one clause per problem. Callers show the records
// and carry the problems as warnings.
type LogDamage struct{ Problems []string }

func (e *LogDamage) Error() string { return "kernel log incomplete: " + strings.Join(e.Problems, "; ") }

// maxStructSize bounds SIZE(prb_desc) and SIZE(printk_info): both are a
// few dozen bytes; a damaged value must not multiply into a huge read.
const maxStructSize = 4096

// field checks that a field of width bytes at OFFSET(name) lies inside a
// struct of size bytes (SIZE(structName)); off is the raw signed value.
func (l *layout) field(name string, width uint64, structName string, size uint64) uint64 {
	v, ok := l.vi.Offset(name)
	if !ok {
		if l.err == nil {
			l.err = fmt.Errorf("VMCOREINFO lacks OFFSET(%s)", name)
		}
		return 0
	}
	if err := fieldInside(name, v, width, structName, size); err != nil && l.err == nil {
		l.err = err
	}
	return uint64(v)
}

func fieldInside(name string, off int64, width uint64, structName string, size uint64) error {
	if off < 0 || uint64(off) > size || width > size-uint64(off) {
		return fmt.Errorf("VMCOREINFO OFFSET(%s)=%d does not fit a %d-byte field in SIZE(%s)=%d (damaged VMCOREINFO)",
			name, off, width, structName, size)
	}
	return nil
}

// structSize fetches SIZE(name) and checks it is a plausible struct size.
func (l *layout) structSize(name string, min uint64) uint64 {
	v, ok := l.vi.Size(name)
	switch {
	case !ok:
		if l.err == nil {
			l.err = fmt.Errorf("VMCOREINFO lacks SIZE(%s)", name)
		}
		return 0
	case v < int64(min) || v > maxStructSize:
		if l.err == nil {
			l.err = fmt.Errorf("VMCOREINFO SIZE(%s)=%d is implausible (want %d-%d bytes; damaged VMCOREINFO)", name, v, min, maxStructSize)
		}
		return 0
	}
	return uint64(v)
}

// readLockless decodes the 5.10+ printk_ringbuffer record by record: a
// descriptor, info or text block on a page the dump lacks loses only its
// own records, which the returned *LogDamage names.
func readLockless(as *AddressSpace, vi *vmcore.VMCoreInfo) ([]LogRecord, error) {
	l := &layout{vi: vi}
	prbPtr := l.sym("prb")
	descRingOff := l.off("printk_ringbuffer.desc_ring")
	textRingOff := l.off("printk_ringbuffer.text_data_ring")
	countBitsOff := l.off("prb_desc_ring.count_bits")
	descsOff := l.off("prb_desc_ring.descs")
	infosOff := l.off("prb_desc_ring.infos")
	headOff := l.off("prb_desc_ring.head_id")
	tailOff := l.off("prb_desc_ring.tail_id")
	sizeBitsOff := l.off("prb_data_ring.size_bits")
	dataOff := l.off("prb_data_ring.data")
	// struct prb_desc { atomic_long_t state_var; struct prb_data_blk_lpos
	// text_blk_lpos { unsigned long begin, next; } }: at least 24 bytes.
	descSize := l.structSize("prb_desc", 24)
	stateOff := l.field("prb_desc.state_var", 8, "prb_desc", descSize)
	lposOff := l.field("prb_desc.text_blk_lpos", 16, "prb_desc", descSize)
	beginOff := l.field("prb_data_blk_lpos.begin", 8, "prb_data_blk_lpos", 16)
	nextOff := l.field("prb_data_blk_lpos.next", 8, "prb_data_blk_lpos", 16)
	// struct printk_info: u64 seq, u64 ts_nsec, u16 text_len, ...
	infoSize := l.structSize("printk_info", 18)
	seqOff := l.field("printk_info.seq", 8, "printk_info", infoSize)
	tsOff := l.field("printk_info.ts_nsec", 8, "printk_info", infoSize)
	textLenOff := l.field("printk_info.text_len", 2, "printk_info", infoSize)
	if l.err != nil {
		return nil, l.err
	}
	var problems []string
	callerOff, hasCaller := vi.Offset("printk_info.caller_id")
	if hasCaller {
		if err := fieldInside("printk_info.caller_id", callerOff, 4, "printk_info", infoSize); err != nil {
			hasCaller = false
			problems = append(problems, err.Error()+": caller ids not read")
		}
	}

	rb, err := as.ReadU64(prbPtr)
	if err != nil {
		return nil, fmt.Errorf("reading prb pointer: %w", err)
	}
	dr := rb + descRingOff
	countBits, err := as.ReadU32(dr + countBitsOff)
	if err != nil {
		return nil, fmt.Errorf("reading the descriptor ring: %w", err)
	}
	if countBits > maxLogBits {
		return nil, fmt.Errorf("descriptor ring count_bits %d is implausible", countBits)
	}
	count := uint64(1) << countBits
	descsAddr, err1 := as.ReadU64(dr + descsOff)
	infosAddr, err2 := as.ReadU64(dr + infosOff)
	headID, err3 := as.ReadU64(dr + headOff)
	tailID, err4 := as.ReadU64(dr + tailOff)
	tr := rb + textRingOff
	sizeBits, err5 := as.ReadU32(tr + sizeBitsOff)
	dataAddr, err6 := as.ReadU64(tr + dataOff)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, fmt.Errorf("reading the printk ring buffer header: %w", err)
	}
	if sizeBits > maxLogBits {
		return nil, fmt.Errorf("text data ring size_bits %d is implausible", sizeBits)
	}
	dataSize := uint64(1) << sizeBits
	if count*descSize > maxLogBytes || count*infoSize > maxLogBytes {
		return nil, fmt.Errorf("descriptor ring of %d entries (count_bits %d) is implausible (damaged header?)", count, countBits)
	}
	descs, err1 := newVRegion(as, "printk descriptor ring", descsAddr, count*descSize)
	infos, err2 := newVRegion(as, "printk info ring", infosAddr, count*infoSize)
	data, err3 := newVRegion(as, "printk text ring", dataAddr, dataSize)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	// Only descriptors tail..head can hold records: visit those slots, not
	// the whole ring (a young system uses a tenth of it).
	live := count
	if headID >= tailID && headID-tailID < count {
		live = headID - tailID + 1
	}
	le := binary.LittleEndian
	const (
		stateShift = 62
		idMask     = 1<<stateShift - 1
		committed  = 1
		finalized  = 2
	)
	var out []LogRecord
	var noDesc, noInfo int
	var noText []uint64
	for id, n := tailID, uint64(0); n < live; id, n = id+1, n+1 {
		slot := id % count
		d, ok := descs.bytes(slot*descSize, descSize)
		if !ok {
			noDesc++
			continue
		}
		sv := le.Uint64(d[stateOff:])
		st := sv >> stateShift
		if (st == committed || st == finalized) && sv&idMask == id&idMask {
			begin := le.Uint64(d[lposOff+beginOff:]) % dataSize
			next := le.Uint64(d[lposOff+nextOff:]) % dataSize
			inf, ok := infos.bytes(slot*infoSize, infoSize)
			if !ok {
				noInfo++
				continue
			}
			textLen := uint64(le.Uint16(inf[textLenOff:]))
			if begin != next {
				if begin > next { // the block wrapped: its text starts at 0
					begin = 0
				}
				begin += 8 // the block starts with its descriptor id
				if begin <= next {
					if next-begin < textLen {
						textLen = next - begin
					}
					seq := le.Uint64(inf[seqOff:])
					text, ok := data.bytes(begin, textLen)
					if !ok {
						noText = append(noText, seq)
						continue
					}
					rec := LogRecord{Seq: seq, TsNsec: le.Uint64(inf[tsOff:]), Level: -1, Text: text}
					if hasCaller {
						rec.CallerID = le.Uint32(inf[callerOff:])
					}
					out = append(out, rec)
				}
			}
		}
		if id == headID {
			break
		}
	}
	if noDesc > 0 {
		problems = append(problems, fmt.Sprintf("%d descriptor(s) unreadable, their records lost: %s", noDesc, descs.lostNote()))
	}
	if noInfo > 0 {
		problems = append(problems, fmt.Sprintf("%d record(s) lost: %s", noInfo, infos.lostNote()))
	}
	if len(noText) > 0 {
		problems = append(problems, fmt.Sprintf("%d record(s) lost (seq %s): %s", len(noText), seqRanges(noText, 8), data.lostNote()))
	}
	if len(problems) > 0 {
		return out, &LogDamage{Problems: problems}
	}
	return out, nil
}
