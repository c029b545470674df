// Package termsafe makes text from a dump or a log safe to print on a
// terminal. Kernel log lines, task names and directory names are data an
// attacker (or a corrupted page) controls; written raw they can carry escape
// sequences that retitle the window, plant OSC 8 links, reset the terminal
// or hide lines. Every control character is shown instead as a visible
// escape, the way makedumpfile shows non-printable log bytes: C0 controls,
// DEL and bytes that are not UTF-8 as \xNN, C1 controls and the Unicode
// bidirectional overrides as \uNNNN. Newline and tab are kept.
package termsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// unsafeRune reports whether r must not reach a terminal as is.
func unsafeRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f: // C1: CSI, OSC, DCS, APC, PM … in one byte
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi overrides
		return true
	}
	return false
}

// appendEscaped appends the visible form of b's runes to out.
func appendEscaped(out []byte, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			out = fmt.Appendf(out, `\x%02x`, b[0])
		case r < 0x80 && unsafeRune(r):
			out = fmt.Appendf(out, `\x%02x`, r)
		case unsafeRune(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// clean reports whether s needs no escaping (the common case: no copy).
// ASCII is judged byte by byte; only non-ASCII text is decoded.
func clean[T string | []byte](s T) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < 0x80 {
			if unsafeRune(rune(c)) {
				return false
			}
			i++
			continue
		}
		r, size := decodeRune(s[i:])
		if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
			return false
		}
		i += size
	}
	return true
}

func decodeRune[T string | []byte](s T) (rune, int) {
	if b, ok := any(s).([]byte); ok {
		return utf8.DecodeRune(b)
	}
	return utf8.DecodeRuneInString(string(s))
}

// String returns s with every unsafe character made visible.
func String(s string) string {
	if clean(s) {
		return s
	}
	return string(appendEscaped(nil, []byte(s)))
}

// Line is String for text that must stay on one line (a table cell, a
// title): newline and tab are escaped as well.
func Line(s string) string {
	s = String(s)
	if strings.ContainsAny(s, "\n\t") {
		s = strings.NewReplacer("\n", `\x0a`, "\t", `\x09`).Replace(s)
	}
	return s
}

// Writer escapes everything written through it before passing it on.
type Writer struct {
	w       io.Writer
	partial []byte // the start of a UTF-8 sequence split across writes
	buf     []byte
}

// NewWriter returns a Writer onto w. Call Flush at the end so a UTF-8
// sequence cut off by the end of the output is still shown.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (t *Writer) Write(p []byte) (int, error) {
	data := p
	if len(t.partial) > 0 {
		data = append(t.partial, p...)
		t.partial = nil
	}
	// Hold back an incomplete rune at the end; the next write completes it.
	cut := len(data)
	for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
		if utf8.RuneStart(data[i]) {
			if data[i] >= 0x80 && !utf8.FullRune(data[i:]) {
				cut = i
			}
			break
		}
	}
	t.partial = append([]byte(nil), data[cut:]...)
	data = data[:cut]
	if clean(data) {
		if _, err := t.w.Write(data); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	t.buf = appendEscaped(t.buf[:0], data)
	if _, err := t.w.Write(t.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out a held-back partial sequence, escaped.
func (t *Writer) Flush() error {
	if len(t.partial) == 0 {
		return nil
	}
	b := appendEscaped(nil, t.partial)
	t.partial = nil
	_, err := t.w.Write(b)
	return err
}
