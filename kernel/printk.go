package kernel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ktriage/ktriage/vmcore"
)

// LogRecord is one message of the kernel's printk buffer.
type LogRecord struct {
	Seq      uint64
	TsNsec   uint64 // nanoseconds since boot (local clock)
	CallerID uint32 // bit 31 set: CPU id, else task pid (0: not recorded)
	Level    int    // 0-7, or -1 when the format does not say
	Text     []byte
	// Legacy is set for the pre-3.5 character ring: Text is raw buffer
	// contents with <N> prefixes and newlines, and TsNsec is unknown.
	Legacy bool
}

// Log size bounds against damaged ring headers: no kernel has a log
// buffer above 1 GiB (log_buf_len is limited to 2^25 * CPUs in practice).
const (
	maxLogBytes = 1 << 30
	maxLogBits  = 30
)

// ReadLog decodes the printk buffer using only VMCOREINFO, in whichever of
// the three layouts the kernel used: the lockless printk_ringbuffer (5.10+),
// variable-length printk_log records (3.5-5.9) or the character ring (<3.5).
func ReadLog(as *AddressSpace, vi *vmcore.VMCoreInfo) ([]LogRecord, error) {
	if vi == nil {
		return nil, errors.New("no VMCOREINFO: cannot find the log buffer")
	}
	if _, ok := vi.Symbol("prb"); ok {
		return readLockless(as, vi)
	}
	if _, ok := vi.Symbol("log_first_idx"); ok {
		return readStructured(as, vi)
	}
	if _, ok := vi.Symbol("log_end"); ok {
		return readLegacy(as, vi)
	}
	return nil, errors.New("VMCOREINFO describes no printk buffer (no prb, log_first_idx or log_end symbol)")
}

// layout fetches OFFSET/SIZE keys, remembering the first one missing.
type layout struct {
	vi  *vmcore.VMCoreInfo
	err error
}

func (l *layout) off(name string) uint64 {
	v, ok := l.vi.Offset(name)
	if !ok && l.err == nil {
		l.err = fmt.Errorf("VMCOREINFO lacks OFFSET(%s)", name)
	}
	return uint64(v)
}

func (l *layout) sym(name string) uint64 {
	v, ok := l.vi.Symbol(name)
	if !ok && l.err == nil {
		l.err = fmt.Errorf("VMCOREINFO lacks SYMBOL(%s)", name)
	}
	return v
}

func readBlock(as *AddressSpace, addr, n uint64, what string) ([]byte, error) {
	if n > maxLogBytes {
		return nil, fmt.Errorf("%s of %d bytes is implausible (damaged header?)", what, n)
	}
	// A damaged header can claim a huge ring: make sure its pages are in
	// the dump (one probe per 1 MiB and the last byte) before allocating.
	var probe [1]byte
	for off := uint64(0); off < n; off += 1 << 20 {
		if err := as.ReadVirt(probe[:], addr+off); err != nil {
			return nil, fmt.Errorf("reading %s (%d bytes at %#x): %w", what, n, addr, err)
		}
	}
	if n > 0 {
		if err := as.ReadVirt(probe[:], addr+n-1); err != nil {
			return nil, fmt.Errorf("reading %s (%d bytes at %#x): %w", what, n, addr, err)
		}
	}
	if err := as.Reserve(what, int64(n)); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if err := as.ReadVirt(b, addr); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return b, nil
}

func readLegacy(as *AddressSpace, vi *vmcore.VMCoreInfo) ([]LogRecord, error) {
	l := &layout{vi: vi}
	bufPtr, endAddr, lenAddr := l.sym("log_buf"), l.sym("log_end"), l.sym("log_buf_len")
	if l.err != nil {
		return nil, l.err
	}
	bufAddr, err1 := as.ReadU64(bufPtr)
	end, err2 := as.ReadU32(endAddr)
	bufLen, err3 := as.ReadU32(lenAddr)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("reading the log buffer variables: %w", err)
	}
	buf, err := readBlock(as, bufAddr, uint64(bufLen), "log buffer")
	if err != nil {
		return nil, err
	}
	return []LogRecord{{Level: -1, Legacy: true, Text: decodeLegacy(buf, end)}}, nil
}

// decodeLegacy returns the live part of the character ring: the last
// min(log_end, len) bytes before log_end, unrolled.
func decodeLegacy(buf []byte, end uint32) []byte {
	n := uint64(len(buf))
	if n == 0 {
		return nil
	}
	total := uint64(end)
	if total > n {
		total = n
	}
	out := make([]byte, 0, total)
	start := (uint64(end) - total) % n
	for i := uint64(0); i < total; i++ {
		out = append(out, buf[(start+i)%n])
	}
	return out
}

// WriteDmesg writes records the way makedumpfile --dump-dmesg (and crash's
// log) prints them: "[%5d.%06d] text", continuation lines of a multi-line
// record indented under the text, unprintable bytes as \xNN.
func WriteDmesg(w io.Writer, recs []LogRecord) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	for _, r := range recs {
		if r.Legacy {
			bw.Write(r.Text)
			continue
		}
		line = appendDmesgLine(line[:0], r)
		bw.Write(line)
	}
	return bw.Flush()
}

func appendDmesgLine(b []byte, r LogRecord) []byte {
	sec, nsec := r.TsNsec/1e9, r.TsNsec%1e9
	b = append(b, '[')
	s := strconv.FormatUint(sec, 10)
	for i := len(s); i < 5; i++ {
		b = append(b, ' ')
	}
	b = append(b, s...)
	b = append(b, '.')
	us := strconv.FormatUint(nsec/1000, 10)
	for i := len(us); i < 6; i++ {
		b = append(b, '0')
	}
	b = append(b, us...)
	b = append(b, "] "...)
	indent := len(b)
	for _, c := range r.Text {
		switch {
		case c == '\n':
			b = append(b, '\n')
			for i := 0; i < indent; i++ {
				b = append(b, ' ')
			}
		case c >= 0x20 && c < 0x7f, c == '\t', c == '\v', c == '\f', c == '\r':
			b = append(b, c)
		default:
			b = append(b, '\\', 'x', hexDigit[c>>4], hexDigit[c&15])
		}
	}
	return append(b, '\n')
}

const hexDigit = "0123456789abcdef"
