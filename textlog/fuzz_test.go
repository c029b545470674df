package textlog

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds are real log lines and files: the fixtures and, when present,
// a few syzkaller reports.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "logs", "seed-*.log"))
	// Logs as pasted in bug threads: quote marks, locale months, wrapped
	// lines, collectors' stamps.
	real, _ := filepath.Glob(filepath.Join("..", "testdata", "logs", "real", "*.log"))
	files = append(files, real...)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, b)
		}
	}
	for _, name := range []string{"100", "110", "157", "205", "237", "343", "614"} {
		p := filepath.Join("..", "..", "shared", "corpus", "syzkaller", name)
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzDecodeLine: the per-line format detector never fails, and what it
// returns is well formed.
func FuzzDecodeLine(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		for _, l := range strings.Split(string(s), "\n") {
			f.Add(l)
		}
	}
	f.Add(`{"MESSAGE":[104,105],"PRIORITY":"3","_TRANSPORT":"kernel","__REALTIME_TIMESTAMP":"1"}`)
	f.Add("[Tue Sep 12 11:38:25 2017][ T12] BUG: soft lockup")
	f.Add("2017-09-12T11:38:25.5+0800 host kernel: <4>[  1.0] x")
	f.Fuzz(func(t *testing.T, s string) {
		s, _, _ = strings.Cut(s, "\n") // the reader hands over one line at a time
		l := decodeLine(s)
		if l.rec.Level < -1 || l.rec.Level > 7 && l.format != FormatJournalJSON {
			t.Errorf("level %d from %q", l.rec.Level, s)
		}
		if l.rec.Time != nil && (math.IsNaN(*l.rec.Time) || math.IsInf(*l.rec.Time, 0)) {
			t.Errorf("time %v from %q", *l.rec.Time, s)
		}
		if l.format == "" {
			t.Errorf("no format for %q", s)
		}
		if l.format != FormatJournalJSON && strings.Contains(l.rec.Text, "\n") {
			t.Errorf("text spans lines: %q", l.rec.Text)
		}
	})
}

// FuzzParse: any input yields an incident whose reports are titled and
// printable, or an error for a broken compressed stream.
func FuzzParse(f *testing.F) {
	// Seeds are windows of 40 lines: small inputs keep the fuzzer fast.
	for _, s := range fuzzSeeds(f) {
		lines := strings.Split(string(s), "\n")
		for i := 0; i < len(lines) && i < 400; i += 40 {
			end := min(i+40, len(lines))
			f.Add([]byte(strings.Join(lines[i:end], "\n")))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := Parse(bytes.NewReader(data), "fuzz")
		if err != nil {
			if in != nil {
				t.Fatal("incident with an error")
			}
			return
		}
		if in == nil {
			t.Fatal("nil incident without an error")
		}
		for _, r := range in.Reports {
			if r.Title == "" || r.Kind == "" {
				t.Errorf("untitled report %+v", r)
			}
			for _, fr := range r.Backtrace {
				if fr.Function == "" {
					t.Errorf("frame without a function in %q", r.Title)
				}
			}
		}
		if in.Panic != nil && in.Panic.Message == "" {
			t.Error("panic without a message")
		}
		if _, err := json.Marshal(in); err != nil {
			t.Errorf("incident does not marshal: %v", err)
		}
		FromRecords(in.Log)
	})
}

// headerFamilyPlain is headerFamily without the byte-pair prefilter.
func headerFamilyPlain(text string) string {
	for _, f := range families() {
		if !f.match.match(text) {
			continue
		}
		ignored := false
		for _, re := range f.ignores {
			ignored = ignored || re.MatchString(text)
		}
		if !ignored {
			return f.key
		}
	}
	return ""
}

// FuzzHeaderFamily: the byte-pair prefilter never hides a header.
func FuzzHeaderFamily(f *testing.F) {
	for _, fam := range families() {
		f.Add("x " + fam.match.needle + " y")
	}
	for _, s := range fuzzSeeds(f) {
		for _, l := range strings.Split(string(s), "\n") {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := headerFamily(s), headerFamilyPlain(s); got != want {
			t.Errorf("headerFamily(%q) = %q, without the prefilter %q", s, got, want)
		}
	})
}
