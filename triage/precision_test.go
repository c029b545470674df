package triage

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/textlog"
)

// precisionCase is one input of testdata/precision.yaml.
type precisionCase struct {
	Path    string   `yaml:"path"`
	Corpus  string   `yaml:"corpus"`
	Verdict string   `yaml:"verdict"`
	Expect  []string `yaml:"expect"`
	Absent  []string `yaml:"absent"`
}

func loadPrecision(t *testing.T) []precisionCase {
	t.Helper()
	b, err := os.ReadFile("../testdata/precision.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Inputs []precisionCase `yaml:"inputs"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("testdata/precision.yaml: %v", err)
	}
	return doc.Inputs
}

// TestPrecision runs every bundled dump and log, and every corpus dump with
// its logs, through triage and the rulebook: the listed findings must come,
// the verdict must lead, the absent ones must not appear, and no other
// finding of severity medium or higher may appear at all.
func TestPrecision(t *testing.T) {
	cases := loadPrecision(t)
	listed := map[string]bool{}
	checked, unexpected, inputs := 0, 0, 0
	check := func(t *testing.T, c precisionCase, in *incident.Incident, strict bool) {
		analyze(t, in)
		inputs++
		var got []string
		for _, f := range in.Findings {
			got = append(got, f.ID)
			checked++
			if len(f.Evidence) == 0 {
				t.Errorf("%s states no evidence", f.ID)
			}
			if f.Severity.Rank() <= incident.SeverityMedium.Rank() && !slices.Contains(c.Expect, f.ID) {
				unexpected++
				t.Errorf("unexpected [%s] %s %q; evidence %q", f.Severity, f.ID, f.Title, f.Evidence)
			}
			if slices.Contains(c.Absent, f.ID) {
				t.Errorf("%s must not appear; evidence %q", f.ID, f.Evidence)
			}
		}
		if c.Verdict != "" && (len(got) == 0 || got[0] != c.Verdict) {
			t.Errorf("verdict %v, want %s", got, c.Verdict)
		}
		if strict {
			for _, id := range c.Expect {
				if !slices.Contains(got, id) {
					t.Errorf("missing %s; got %v", id, got)
				}
			}
		}
	}
	var corpusCases []precisionCase
	for _, c := range cases {
		if c.Corpus != "" {
			corpusCases = append(corpusCases, c)
			continue
		}
		for _, p := range strings.Fields(c.Path) {
			listed[filepath.ToSlash(p)] = true
		}
		t.Run(c.Path, func(t *testing.T) {
			in, err := loadInput(c.Path)
			if err != nil {
				t.Fatal(err)
			}
			check(t, c, in, true)
		})
	}
	// Every bundled input is listed: a fixture added without expectations
	// is a fixture nobody checks.
	for _, p := range bundledInputs(t) {
		if !listed[p] {
			t.Errorf("%s is not listed in testdata/precision.yaml", p)
		}
	}
	t.Run("corpus", func(t *testing.T) {
		byName := map[string]precisionCase{}
		for _, c := range corpusCases {
			byName[c.Corpus] = c
		}
		for _, d := range corpus.Dumps(t) { // skips when ../shared is absent
			c, ok := byName[d.Name]
			if !ok {
				t.Errorf("corpus dump %s is not listed in testdata/precision.yaml", d.Name)
				continue
			}
			t.Run(d.Name, func(t *testing.T) {
				in, err := LoadDump(d.Files, Options{})
				if err != nil {
					t.Fatal(err)
				}
				check(t, c, in, true)
			})
			// The logs beside the dump: the same verdict, nothing unexpected.
			for _, name := range []string{"console.log", "vmcore-dmesg.txt"} {
				p := filepath.Join(d.Dir, name)
				if _, err := os.Stat(p); err != nil {
					continue
				}
				t.Run(d.Name+"/"+name, func(t *testing.T) {
					in, err := textlog.ParseFile(p)
					if err != nil {
						t.Fatal(err)
					}
					check(t, c, in, false)
				})
			}
		}
	})
	t.Logf("precision: %d findings checked on %d inputs (%d listed), %d unexpected of severity medium or higher", checked, inputs, len(cases), unexpected)
}

// loadInput opens a dump (several space-separated files: a split dump) or
// a text log, by what the file is.
func loadInput(path string) (*incident.Incident, error) {
	var files []string
	for _, p := range strings.Fields(path) {
		files = append(files, filepath.Join("..", p))
	}
	if isLog(files[0]) {
		return textlog.ParseFile(files[0])
	}
	return LoadDump(files, Options{})
}

func isLog(p string) bool {
	return strings.HasSuffix(p, ".log") || strings.HasSuffix(p, ".txt")
}

// bundledInputs lists the dumps and logs under testdata that the suite must
// cover.
func bundledInputs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, root := range []string{"testdata/dumps", "testdata/dumps-6.12", "testdata/dumps-locks", "testdata/elf", "testdata/logs"} {
		err := filepath.WalkDir(filepath.Join("..", root), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel("..", p)
			rel = filepath.ToSlash(rel)
			n := d.Name()
			switch {
			case strings.HasSuffix(n, ".vmcore") || strings.HasSuffix(n, ".elf") || strings.Contains(n, ".vmcore."):
			case isLog(n) && !strings.HasSuffix(n, ".gen.txt"):
			default:
				return nil
			}
			out = append(out, rel)
			return nil
		})
		if err != nil {
			t.Fatal(fmt.Errorf("%s: %w", root, err))
		}
	}
	return out
}
