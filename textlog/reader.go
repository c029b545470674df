package textlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ktriage/ktriage/internal/lazyre"
	"github.com/ktriage/ktriage/vmcore"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxLineBytes bounds one input line; longer lines (a binary file, a
// console that lost its newlines) are cut so memory stays bounded.
const maxLineBytes = 64 << 10

// decompress returns a reader of the plain text behind r, recognising gzip,
// xz and zstd by their magic bytes (vmcore's sniffer, the one list of
// signatures), and the name of the compression used.
func decompress(r io.Reader) (io.Reader, string, func(), error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic, _ := br.Peek(vmcore.SniffLen)
	switch vmcore.SniffBytes(magic).Container {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", nil, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(true)
		return zr, "gzip", func() { zr.Close() }, nil
	case "xz":
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, "", nil, fmt.Errorf("xz: %w", err)
		}
		return xr, "xz", func() {}, nil
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, "", nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, "zstd", zr.Close, nil
	}
	return br, "", func() {}, nil
}

// ErrNotText is returned for input that is not a text log (a vmcore, an
// ELF file, other binary data).
var ErrNotText = errors.New("not a text log")

// checkText looks at the start of the (decompressed) input and refuses
// binary data, so a dump handed to the log path fails clearly.
func checkText(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(8192)
	switch k := vmcore.SniffBytes(head).Kind; k {
	case vmcore.InputELF:
		return nil, fmt.Errorf("%w: ELF file (a vmcore? use ktriage analyze)", ErrNotText)
	case vmcore.InputKdump, vmcore.InputFlattened:
		return nil, fmt.Errorf("%w: %s dump (use ktriage analyze)", ErrNotText, k)
	}
	if n := bytes.Count(head, []byte{0}); n > len(head)/100+1 && !textAroundNULs(head) {
		return nil, fmt.Errorf("%w: binary data (%d NUL bytes in the first %d)", ErrNotText, n, len(head))
	}
	return br, nil
}

// textAroundNULs reports whether what is not NUL is text: a log a machine
// was writing when it lost power ends in (or holds) blocks of zeros the
// file system had allocated, around lines that are still the log.
func textAroundNULs(b []byte) bool {
	text, ctl := 0, 0
	for _, c := range b {
		switch {
		case c == 0:
		case c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != 0x1b, c == 0x7f:
			ctl++
		default:
			text++
		}
	}
	return text >= 64 && ctl*100 <= text
}

// lineReader yields the lines of a text stream, cutting over-long lines.
type lineReader struct {
	br   *bufio.Reader
	buf  []byte
	n    int // lines read
	nuls int // NUL bytes dropped
	err  error
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next line without its newline; ok is false at the end
// of input (lr.err then holds any read error other than io.EOF).
func (lr *lineReader) next() (string, bool) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if len(lr.buf) < maxLineBytes {
			room := maxLineBytes - len(lr.buf)
			if len(chunk) > room {
				chunk = chunk[:room]
			}
			lr.buf = append(lr.buf, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err != io.EOF {
				lr.err = err
			}
			if len(lr.buf) == 0 {
				return "", false
			}
		}
		lr.n++
		if i := bytes.IndexByte(lr.buf, 0); i >= 0 {
			// Zeros an unclean shutdown left in the file: not log text.
			n := bytes.Count(lr.buf[i:], []byte{0})
			lr.nuls += n
			lr.buf = bytes.ReplaceAll(lr.buf, []byte{0}, nil)
		}
		return strings.TrimRight(string(lr.buf), "\n"), true
	}
}

// droppedRe matches the prefixes a console puts before a kernel line:
// "** 93 printk messages dropped ** " and a login prompt the kernel wrote over.
var droppedRe = lazyre.New(`^(?:\*\* \d+ printk messages dropped \*\* ?|.*? login: )(\[\s*\d+\.\d+\].*)$`)

// detectWindow is how many lines are read before the dominant format is
// decided; bare lines seen before then are classified with hindsight.
const detectWindow = 400

// recordStream turns lines into records, deciding which bare lines are
// console noise and completing year-less syslog stamps.
type recordStream struct {
	lr      *lineReader
	year    int // for syslog stamps without a year; 0 = leave WallTime unset
	loc     *time.Location
	pending []line
	counts  map[Format]int
	decided bool
	stamped bool // the log carries seconds-since-boot or wall stamps
	// kernelIdent counts syslog lines that name the kernel as program;
	// isoForeign those with a bare ISO stamp read as another program's.
	kernelIdent, isoForeign int
	isoConsole              bool // no line named the kernel: ISO lines are the console's
	format                  Format
	lastMon                 int
	// yearless, zoneless: wall stamps completed with the guessed year (BSD
	// syslog and journal short stamps), and those read without a zone
	// (dmesg -T, logread); timed: every wall stamp.
	yearless, zoneless, timed int
}

func newRecordStream(r io.Reader, year int) *recordStream {
	return &recordStream{lr: newLineReader(r), year: year, loc: time.UTC, counts: map[Format]int{}}
}

// next returns the next decoded line. Lines are buffered until the format
// is decided, so the first records wait for detectWindow lines.
func (rs *recordStream) next() (line, bool) {
	for !rs.decided {
		s, ok := rs.lr.next()
		if !ok {
			rs.decide()
			break
		}
		l := rs.decode(s)
		l.rec.Line = rs.lr.n
		rs.pending = append(rs.pending, l)
		if len(rs.pending) >= detectWindow {
			rs.decide()
		}
	}
	if len(rs.pending) > 0 {
		l := rs.pending[0]
		rs.pending = rs.pending[1:]
		return rs.finish(l), true
	}
	s, ok := rs.lr.next()
	if !ok {
		return line{}, false
	}
	l := rs.decode(s)
	l.rec.Line = rs.lr.n
	return rs.finish(l), true
}

func (rs *recordStream) decode(s string) line {
	if strings.HasPrefix(s, "** ") || strings.Contains(s, " login: ") {
		if m := droppedRe.FindStringSubmatch(s); m != nil {
			s = m[1]
		}
	}
	l := decodeLine(s)
	switch {
	case l.asKernel != nil:
		rs.isoForeign++
	case l.kernelIdent:
		rs.kernelIdent++
	}
	// Blank lines and "..." elisions in pasted excerpts say nothing of the format.
	if t := strings.TrimSpace(s); t != "" && t != "..." {
		rs.counts[l.format]++
	}
	return l
}

// decide picks the dominant format: the most frequent among non-empty
// lines, except that bare lines only win when nothing else was seen.
func (rs *recordStream) decide() {
	rs.decided = true
	rs.isoConsole = rs.isoForeign > 0 && rs.kernelIdent == 0
	best, bestN := FormatPlain, 0
	for f, n := range rs.counts {
		if f == FormatPlain {
			continue
		}
		if n > bestN || n == bestN && f < best {
			best, bestN = f, n
		}
	}
	rs.stamped = bestN > 0
	rs.format = best
	// A few bare lines are multi-line messages (vmcore-dmesg does not
	// indent them); more mean a console with other programs' output.
	if best == FormatDmesg && rs.counts[FormatPlain]*50 > bestN {
		rs.format = FormatConsole
	}
	if !rs.stamped {
		rs.format = FormatPlain
		if rs.counts[FormatVmcoreDmesg] > 0 {
			rs.format = FormatVmcoreDmesg
		}
	}
}

func (rs *recordStream) finish(l line) line {
	if l.asKernel != nil && rs.isoConsole {
		k := *l.asKernel
		k.rec.Line = l.rec.Line
		l = k
	}
	l.asKernel, l.raw = nil, ""
	if l.bare && !rs.stamped {
		l.bare = false // a log without stamps: every line is a message
	}
	if l.month > 0 && rs.year > 0 {
		year := rs.year
		// A log that crosses New Year: months going down mean a new year.
		if rs.lastMon == 12 && l.month == 1 {
			rs.year++
			year = rs.year
		}
		rs.lastMon = l.month
		if t, err := time.ParseInLocation("2006-1-2 15:04:05.999999999",
			fmt.Sprintf("%d-%d-%d %s", year, l.month, l.day, l.clock), rs.loc); err == nil {
			l.rec.WallTime = &t
			rs.yearless++
		}
	}
	if l.rec.WallTime != nil {
		rs.timed++
		if l.format == FormatDmesgWall || l.format == FormatLogread || l.zoneless {
			rs.zoneless++
		}
	}
	return l
}

// stampNote says what a crash time read from this log's wall stamps
// assumed, when every stamp lacked the year or the zone; "" otherwise.
func (rs *recordStream) stampNote(crash time.Time) string {
	switch {
	case rs.timed == 0:
		return ""
	case rs.yearless == rs.timed:
		return fmt.Sprintf("the log's stamps carry no year and no time zone: DATE's year (%d) and its UTC zone are assumed, not read", crash.Year())
	case rs.zoneless == rs.timed:
		return "the log's stamps carry no time zone: DATE reads the clock as UTC"
	}
	return ""
}
