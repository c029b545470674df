package analyzers

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

// FuzzParseRules: any YAML either parses with every returned rule checked,
// or fails with an error naming the file; rules without problems are usable;
// the shape guessed from the first line decodes as the shape of the whole
// parse (shapeOf) would.
func FuzzParseRules(f *testing.F) {
	_ = fs.WalkDir(builtinRules, "rules", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := builtinRules.ReadFile(p)
			f.Add(data)
		}
		return nil
	})
	f.Add([]byte("rules:\n  - id: x\n    match: {log: ['(']}\n"))
	f.Add([]byte("# pasted\n- id: x\n  title: t\n"))
	f.Add([]byte("id: x\ntitle: t\n"))
	f.Add([]byte("rules: []\nid: x\n"))
	f.Add([]byte("%YAML 1.2\n---\n- id: x\n"))
	f.Add([]byte("- 1\n- id: x\n"))
	f.Add([]byte("~\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules("fuzz.yaml", bytes.NewReader(data))
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
		want, werr := decodeAs(data, shapeOf(data))
		switch {
		case werr != nil && !errors.Is(werr, io.EOF):
			if err == nil || !strings.HasPrefix(err.Error(), "fuzz.yaml: "+werr.Error()+" (") {
				t.Fatalf("error %v, want the decoder's %v", err, werr)
			}
		case len(rules) != len(want):
			t.Fatalf("%d rules, want %d", len(rules), len(want))
		default:
			for i := range want {
				got := rules[i]
				got.File, got.compiled = "", nil
				if !reflect.DeepEqual(got, want[i]) {
					t.Fatalf("rule %d: %#v, want %#v", i, got, want[i])
				}
			}
		}
		rb := &Rulebook{Rules: rules}
		in := &incident.Incident{Log: []incident.LogRecord{{Text: "Kernel panic - not syncing: sysrq triggered crash"}}}
		for _, fd := range Run(in, rb) {
			if fd.ID == "" || fd.Severity == "" {
				t.Fatalf("finding without id or severity: %+v", fd)
			}
		}
	})
}

// FuzzIdentifyKernel: any uname pair yields a kernel whose package version,
// when present, compares with itself as equal and belongs to a stream.
func FuzzIdentifyKernel(f *testing.F) {
	f.Add("3.10.0-229.el7.x86_64", "#1 SMP Fri Mar 6 11:36:42 UTC 2015")
	f.Add("6.1.0-56-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)")
	f.Add("4.4.0-87-generic", "#110-Ubuntu SMP Tue Jul 18 12:55:35 UTC 2017")
	f.Fuzz(func(t *testing.T, release, version string) {
		k := IdentifyKernel(release, version)
		if k.Package == "" {
			return
		}
		if k.Stream == "" {
			t.Fatalf("package %q without a stream", k.Package)
		}
		if c := compareVersions(streamScheme(k.Stream), k.Package, k.Package); c != 0 {
			t.Fatalf("%q compares %d with itself", k.Package, c)
		}
		_ = appliesTo(k, []VersionRange{{Stream: k.Stream, Fixed: []string{k.Package}}})
	})
}

// FuzzHardwareLines: the fallback CPER decoder never panics, and keeps
// every line it decoded.
func FuzzHardwareLines(f *testing.F) {
	f.Add("{1}[Hardware Error]: Hardware error from APEI Generic Hardware Error Source: 1\n{1}[Hardware Error]: event severity: fatal\n{1}[Hardware Error]:   device_id: 0000:00:03.0\n{1}[Hardware Error]:   secondary_bus: 0x04\n{1}[Hardware Error]:   vendor_id: 0x8086, device_id: 0x2f08")
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(text, "\n")
		n := 0
		for _, e := range parseHardwareLines(lines) {
			n += len(e.lines)
		}
		want := 0
		for _, l := range lines {
			if hwErrLine.MatchString(l) {
				want++
			}
		}
		if n != want {
			t.Fatalf("decoded %d of %d hardware-error lines", n, want)
		}
	})
}
