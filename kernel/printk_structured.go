package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/ktriage/ktriage/vmcore"
)

// The 3.5-5.9 log: variable-length records (struct printk_log, "struct
// log" before 3.11) in log_buf, oldest at log_first_idx, the next to be
// written at log_next_idx. A record is a header (u64 ts_nsec, u16 len,
// u16 text_len, u16 dict_len, ...) then its text and dict, padded to
// LOG_ALIGN (4 on x86_64, 8 elsewhere): len is exactly that padded size,
// and a header with len 0 sends the reader back to the start of the
// buffer (kernel/printk/printk.c, log_store and log_next).

// structLayout is where the header's fields lie (VMCOREINFO).
type structLayout struct {
	hdr                    uint64
	ts, len, textLen, dict uint64
	hasDict                bool
}

// ringBytes serves bytes of the log buffer, or false for bytes past its
// end or on a page the dump cannot serve (vregion).
type ringBytes interface {
	bytes(off, n uint64) ([]byte, bool)
}

// maxBackstep is how far a record's time stamp may lie before the
// previous one's: the ring is written in order under a lock, but each
// CPU's clock is read before taking it.
const maxBackstep = 100_000_000 // 100 ms

func readStructured(as *AddressSpace, vi *vmcore.VMCoreInfo) ([]LogRecord, error) {
	l := &layout{vi: vi}
	bufPtr := l.sym("log_buf")
	lenAddr := l.sym("log_buf_len")
	firstAddr := l.sym("log_first_idx")
	nextAddr := l.sym("log_next_idx")
	if l.err != nil {
		return nil, l.err
	}
	// Before 3.11 the struct was "log"; try printk_log first.
	name := "printk_log"
	if _, ok := vi.Size(name); !ok {
		name = "log"
	}
	// u64 ts_nsec, u16 len, u16 text_len, u16 dict_len: at least 14 bytes.
	lay := structLayout{hdr: l.structSize(name, 14)}
	lay.ts = l.field(name+".ts_nsec", 8, name, lay.hdr)
	lay.len = l.field(name+".len", 2, name, lay.hdr)
	lay.textLen = l.field(name+".text_len", 2, name, lay.hdr)
	if l.err != nil {
		return nil, l.err
	}
	if v, ok := vi.Offset(name + ".dict_len"); ok && fieldInside(name+".dict_len", v, 2, name, lay.hdr) == nil {
		lay.dict, lay.hasDict = uint64(v), true
	}
	bufAddr, err1 := as.ReadU64(bufPtr)
	bufLen, err2 := as.ReadU32(lenAddr)
	first, err3 := as.ReadU32(firstAddr)
	next, err4 := as.ReadU32(nextAddr)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, fmt.Errorf("reading the log buffer variables: %w", err)
	}
	if bufLen > maxLogBytes {
		return nil, fmt.Errorf("log buffer of %d bytes is implausible (damaged log_buf_len?)", bufLen)
	}
	if first >= bufLen && first != next || next > bufLen {
		return nil, fmt.Errorf("log_first_idx %d or log_next_idx %d lies outside the %d-byte log buffer (damaged?)", first, next, bufLen)
	}
	// The buffer is read a page at a time as records are found in it: a
	// page the dump lacks loses the records on it, not the log.
	buf, err := newVRegion(as, "log buffer", bufAddr, uint64(bufLen))
	if err != nil {
		return nil, err
	}
	recs, problems := decodeStructured(buf, uint64(bufLen), uint64(first), uint64(next), lay)
	if len(problems) > 0 {
		if note := buf.lostNote(); note != "" {
			problems = append(problems, note)
		}
		return recs, &LogDamage{Problems: problems}
	}
	return recs, nil
}

// structWalk is one pass over the records from first to next.
type structWalk struct {
	src               ringBytes
	size, first, next uint64
	lay               structLayout
	wrapped           bool // passed the len-0 marker back to offset 0
}

// header reads the record header at idx: its time stamp, length and
// text length, and whether it is one log_store could have written
// (len 0: the wrap marker).
func (w *structWalk) header(idx uint64) (ts, recLen, textLen uint64, ok, readable bool) {
	h, readable := w.src.bytes(idx, w.lay.hdr)
	if !readable {
		return 0, 0, 0, false, false
	}
	le := binary.LittleEndian
	ts = le.Uint64(h[w.lay.ts:])
	recLen = uint64(le.Uint16(h[w.lay.len:]))
	textLen = uint64(le.Uint16(h[w.lay.textLen:]))
	if recLen == 0 {
		return ts, 0, 0, true, true
	}
	used := w.lay.hdr + textLen
	if w.lay.hasDict {
		used += uint64(le.Uint16(h[w.lay.dict:]))
	}
	ok = recLen >= used && idx+recLen <= w.size
	return ts, recLen, textLen, ok, true
}

// after is the offset that follows a record of recLen at idx (0 after
// the wrap marker), and whether the walk may go there.
func (w *structWalk) after(idx, recLen uint64, wrapped bool) (uint64, bool, bool) {
	if recLen == 0 {
		// The marker: only once, on the far side of next, and only where
		// the record at 0 (the one written after it) did not fit: log_store
		// wraps when next + size + header reaches the end (>= in 3.10).
		if wrapped || idx < w.next {
			return 0, wrapped, false
		}
		if _, len0, _, ok, _ := w.header(0); ok && len0 != 0 && idx+len0+w.lay.hdr < w.size {
			return 0, wrapped, false
		}
		return 0, true, true
	}
	return idx + recLen, wrapped, true
}

// decodeStructured walks the records from first to next. A record whose
// header or text cannot be read, or whose header log_store could not
// have written, is lost alone: the walk finds the next record past it
// (resync) and goes on. problems names each loss by the time stamps
// around it (these records carry no sequence number).
func decodeStructured(src ringBytes, size, first, next uint64, lay structLayout) ([]LogRecord, []string) {
	if first > size || next > size {
		return nil, []string{fmt.Sprintf("log_first_idx %d or log_next_idx %d lies outside the %d-byte log buffer (damaged?)", first, next, size)}
	}
	w := &structWalk{src: src, size: size, first: first, next: next, lay: lay}
	var out []LogRecord
	var problems, noText, withNUL []string
	idx := first
	// Each record is a header long at least, and each resync moves on:
	// steps bound the walk however the buffer is damaged.
	for steps := uint64(0); idx != next && steps <= size/4+16; steps++ {
		ts, recLen, textLen, ok, readable := w.header(idx)
		why := "damaged"
		if ok && recLen == 0 && len(out) > 0 && w.liveAfter(idx, out[len(out)-1].TsNsec) {
			// Records newer than the last one read lie past this wrap
			// marker: it is a zeroed header, not the end of the lap.
			ok, why = false, "zeroed"
		}
		if ok {
			if to, wrapped, fine := w.after(idx, recLen, w.wrapped); fine {
				w.wrapped = wrapped
				if recLen != 0 {
					if text, readable := w.src.bytes(idx+lay.hdr, textLen); readable {
						out = append(out, LogRecord{TsNsec: ts, Level: -1, Text: text})
						if bytes.IndexByte(text, 0) >= 0 {
							withNUL = append(withNUL, stamp(ts))
						}
					} else {
						noText = append(noText, stamp(ts))
					}
				}
				idx = to
				continue
			}
		}
		switch {
		case idx+lay.hdr > size:
			why = "past the end of the buffer (no wrap marker)"
		case !readable:
			why = "on an unreadable page"
		}
		before := "the start of the log"
		if len(out) > 0 {
			before = stamp(out[len(out)-1].TsNsec)
		}
		to := w.resync(idx, out)
		if to == next {
			problems = append(problems, fmt.Sprintf("records after %s lost: the header at offset %d of the log buffer is %s, and no record after it could be found", before, idx, why))
		} else {
			afterTs, _, _, _, _ := w.header(to)
			problems = append(problems, fmt.Sprintf("records between %s and %s lost: the header at offset %d of the log buffer is %s (read on from offset %d)",
				before, stamp(afterTs), idx, why, to))
		}
		idx = to
	}
	if len(noText) > 0 {
		problems = append(problems, fmt.Sprintf("%d record(s) lost, their text on unreadable pages (at %s)", len(noText), firstStamps(noText)))
	}
	if len(withNUL) > 0 {
		// vscnprintf stops at a NUL: only a %c of 0 puts one in a record,
		// while a zeroed page puts runs of them.
		problems = append(problems, fmt.Sprintf("%d record(s) hold NUL bytes, which printk seldom writes: their page may be damaged (at %s)", len(withNUL), firstStamps(withNUL)))
	}
	if idx != next {
		problems = append(problems, fmt.Sprintf("the log buffer's records do not lead to log_next_idx %d (damaged): the walk stopped at offset %d", next, idx))
	}
	return out, problems
}

// firstStamps lists the first eight of stamps.
func firstStamps(stamps []string) string {
	if len(stamps) > 8 {
		return strings.Join(stamps[:8], ", ") + " …"
	}
	return strings.Join(stamps, ", ")
}

// liveAfter tells whether a chain of records no older than lastTs starts
// between a wrap marker at idx and the end of the buffer. Past a true
// marker lie only the stale records of the previous lap.
func (w *structWalk) liveAfter(idx, lastTs uint64) bool {
	for p := (idx + 4) &^ 3; p < w.size; p += 4 {
		// A record first: a chain from a marker would run on into the
		// second lap, which is newer.
		ts, recLen, _, ok, _ := w.header(p)
		if ok && recLen != 0 && ts+maxBackstep >= lastTs && w.holds(p, w.wrapped, lastTs, true) {
			return true
		}
	}
	return false
}

// stamp names a record by its time stamp, as dmesg prints it.
func stamp(ts uint64) string { return fmt.Sprintf("[%5d.%06d]", ts/1e9, ts%1e9/1e3) }

// resync finds where the walk goes on past a lost or damaged record at
// idx: the first offset, in the ring's order, holding a chain of headers
// that reaches next or holds for eight records, none going back in time
// before the last record read (the stale records of the previous lap
// do). next itself when none does. It moves w.wrapped past the wrap when
// the record found lies there.
func (w *structWalk) resync(idx uint64, read []LogRecord) uint64 {
	const align = 4 // LOG_ALIGN: 4 on x86_64, 8 where unaligned access is slow
	lastTs, haveTs := uint64(0), len(read) > 0
	if haveTs {
		lastTs = read[len(read)-1].TsNsec
	}
	wrapped := w.wrapped
	for p := (idx + align) &^ (align - 1); ; p += align {
		if (wrapped || w.first <= w.next) && p >= w.next {
			w.wrapped = wrapped
			return w.next
		}
		if p >= w.size { // the rest of the first lap: on from the start
			wrapped, p = true, 0
		}
		if w.holds(p, wrapped, lastTs, haveTs) {
			w.wrapped = wrapped
			return p
		}
	}
}

// holds tells whether a chain of plausible headers starts at p.
func (w *structWalk) holds(p uint64, wrapped bool, lastTs uint64, haveTs bool) bool {
	for i := 0; i < 8; i++ {
		if p == w.next {
			return i > 0
		}
		ts, recLen, _, ok, _ := w.header(p)
		if !ok {
			return false
		}
		if recLen != 0 {
			if haveTs && ts+maxBackstep < lastTs || ts > 1<<62 {
				return false
			}
			lastTs, haveTs = ts, true
		}
		to, wr, fine := w.after(p, recLen, wrapped)
		if !fine {
			return false
		}
		p, wrapped = to, wr
	}
	return true
}
