package termsafe

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// Each sequence below is one a log line, a task comm or a directory name can
// carry; none may reach the terminal with its ESC/C1 byte intact.
var hostile = map[string]string{
	"OSC title":     "ok\x1b]0;pwned\x07tail",
	"OSC 8 link":    "\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\",
	"DCS":           "\x1bP1$r\x1b\\",
	"APC":           "\x1b_payload\x1b\\",
	"PM":            "\x1b^payload\x1b\\",
	"RIS":           "\x1bc",
	"C1 CSI":        "a\u009b31mred",
	"C1 OSC":        "\u009d0;title\u009c",
	"raw C1 byte":   "a\x9b31m",
	"carriage ret":  "visible\rhidden",
	"backspace":     "abc\b\b\bxyz",
	"bidi override": "admin\u202egnp.exe",
	"DEL":           "x\x7fy",
}

func TestStringEscapesEveryControl(t *testing.T) {
	for name, in := range hostile {
		out := String(in)
		for _, r := range out {
			if r == 0x1b || (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x80 && r <= 0x9f) || r == 0x7f ||
				r == 0x202e || r == utf8.RuneError {
				t.Errorf("%s: %q still holds %U after escaping: %q", name, in, r, out)
			}
		}
		if !utf8.ValidString(out) {
			t.Errorf("%s: output is not UTF-8: %q", name, out)
		}
	}
}

func TestStringKeepsOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"tab\tand\nnewline",
		"kworker/0:1H — ünïcode 進程",
		"",
	} {
		if got := String(s); got != s {
			t.Errorf("String(%q) = %q, want it unchanged", s, got)
		}
	}
	if got, want := String("a\x1b[31mb"), `a\x1b[31mb`; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
	if got, want := String("a\u009bb"), `a\u009bb`; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
	if got, want := Line("a\nb\tc"), `a\x0ab\x09c`; got != want {
		t.Errorf("Line: got %q, want %q", got, want)
	}
}

// The writer must give what String gives however the input is cut into
// writes, including inside a multi-byte rune.
func TestWriterMatchesStringAcrossSplits(t *testing.T) {
	in := "ok 進\u009b\x1b]0;x\x07 ü\xff\xfe end\xe9"
	want := String(in)
	for chunk := 1; chunk <= len(in); chunk++ {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for i := 0; i < len(in); i += chunk {
			j := min(i+chunk, len(in))
			if n, err := w.Write([]byte(in[i:j])); err != nil || n != j-i {
				t.Fatalf("chunk %d: Write = %d, %v", chunk, n, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if buf.String() != want {
			t.Errorf("chunk %d: got %q, want %q", chunk, buf.String(), want)
		}
	}
}

func FuzzWriter(f *testing.F) {
	for _, s := range hostile {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, in string, chunk int) {
		if chunk <= 0 || chunk > 64 {
			chunk = 7
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for i := 0; i < len(in); i += chunk {
			w.Write([]byte(in[i:min(i+chunk, len(in))]))
		}
		w.Flush()
		out := buf.String()
		if out != String(in) {
			t.Fatalf("writer %q != String %q", out, String(in))
		}
		if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0x9b) || !utf8.ValidString(out) {
			t.Fatalf("unsafe output %q", out)
		}
	})
}
