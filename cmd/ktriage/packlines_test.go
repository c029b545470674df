package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The older generations' fixtures with their debuginfo packs, and the
// variable that names each generation's full debug vmlinux.
var packGenerations = []struct{ dir, vmlinuxEnv string }{
	{"dumps-el7", "KTRIAGE_EL7_VMLINUX"},
	{"dumps-5.4", "KTRIAGE_54_VMLINUX"},
}

func generationFixtures(t *testing.T, dir string) (pack string, vmcores []string) {
	t.Helper()
	dir = filepath.Join("..", "..", "testdata", dir)
	packs, _ := filepath.Glob(filepath.Join(dir, "*.pack"))
	vmcores, _ = filepath.Glob(filepath.Join(dir, "*.vmcore"))
	if len(vmcores) == 0 {
		t.Skipf("no fixtures in %s", dir)
	}
	if len(packs) != 1 {
		t.Fatalf("%s: want one debuginfo pack, found %d", dir, len(packs))
	}
	return packs[0], vmcores
}

// TestPackAnalyzeSameAsVmlinux: on every older-generation fixture,
// analyze --format json with the debuginfo pack is the report the full
// debug vmlinux gives, every field (each frame's file and line included)
// but kernel_source, which names the file read.
func TestPackAnalyzeSameAsVmlinux(t *testing.T) {
	for _, g := range packGenerations {
		t.Run(g.dir, func(t *testing.T) {
			vmlinux := os.Getenv(g.vmlinuxEnv)
			if vmlinux == "" {
				t.Skipf("set %s to the full debug vmlinux of %s's fixtures (testdata/gen/build-old-kernel.sh) to compare the pack with it", g.vmlinuxEnv, g.dir)
			}
			pack, vmcores := generationFixtures(t, g.dir)
			t.Setenv("KTRIAGE_CACHE", t.TempDir()) // the DWARF index, shared by the fixtures
			t.Setenv("DEBUGINFOD_URLS", "")
			for _, v := range vmcores {
				t.Run(strings.TrimSuffix(filepath.Base(v), ".vmcore"), func(t *testing.T) {
					want, _ := runAnalyzeJSON(t, "--vmlinux", vmlinux, v)
					got, _ := runAnalyzeJSON(t, "--vmlinux", pack, v)
					if !strings.Contains(want, `"line"`) {
						t.Fatal("the vmlinux gave no frame a line: nothing compared")
					}
					if a, b := withoutKernelSource(t, got), withoutKernelSource(t, want); a != b {
						t.Errorf("the pack's report differs from the vmlinux's:\n%s", firstDifference(a, b))
					}
				})
			}
		})
	}
}

// TestPackLinesAsRecorded, without the vmlinux: each kernel frame of each
// fixture's report, made with the pack, has the file:line that analyze
// gave with the full debug vmlinux when testdata/gen/fixture-lines.sh
// wrote NAME.lines.txt.
func TestPackLinesAsRecorded(t *testing.T) {
	for _, g := range packGenerations {
		t.Run(g.dir, func(t *testing.T) {
			pack, vmcores := generationFixtures(t, g.dir)
			t.Setenv("KTRIAGE_CACHE", t.TempDir())
			t.Setenv("DEBUGINFOD_URLS", "")
			checked := 0
			for _, v := range vmcores {
				name := strings.TrimSuffix(v, ".vmcore")
				t.Run(filepath.Base(name), func(t *testing.T) {
					b, err := os.ReadFile(name + ".lines.txt")
					if err != nil {
						t.Skipf("no recorded lines (testdata/gen/fixture-lines.sh writes them): %v", err)
					}
					want := strings.Split(strings.TrimSpace(string(b)), "\n")
					out, _ := runAnalyzeJSON(t, "--vmlinux", pack, v)
					got := kernelFrameLines(t, out)
					withLine := 0
					for _, l := range want {
						if !strings.HasSuffix(l, " ?") {
							withLine++
						}
					}
					if withLine == 0 {
						t.Fatalf("%s.lines.txt gives no frame a line", name)
					}
					if !slices.Equal(got, want) {
						t.Errorf("frames' lines with the pack differ from those recorded with the vmlinux:\n%s", lineSetDiff(got, want))
					}
					checked++
				})
			}
			if checked == 0 {
				t.Fatalf("no fixture of %s has its lines recorded", g.dir)
			}
		})
	}
}

// kernelFrameLines is "function+offset file:line" (or "?") for every frame
// of the report with an address and no module, sorted and without
// repeats, as fixture-lines.sh's jq writes them.
func kernelFrameLines(t *testing.T, report string) []string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(report))
	d.UseNumber()
	var r any
	if err := d.Decode(&r); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			_, fn := v["function"]
			_, addr := v["address"]
			_, mod := v["module"]
			if fn && addr && !mod {
				pos := "?"
				if f, ok := v["file"]; ok {
					pos = fmt.Sprintf("%v:%v", f, v["line"])
				}
				off := v["offset"] // left out when 0
				if off == nil {
					off = 0
				}
				out = append(out, fmt.Sprintf("%v+%v %s", v["function"], off, pos))
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(r)
	slices.Sort(out)
	return slices.Compact(out)
}

// lineSetDiff lists what only one of two sorted sets holds.
func lineSetDiff(got, want []string) string {
	var b strings.Builder
	for _, l := range got {
		if _, ok := slices.BinarySearch(want, l); !ok {
			fmt.Fprintf(&b, "  pack only:    %s\n", l)
		}
	}
	for _, l := range want {
		if _, ok := slices.BinarySearch(got, l); !ok {
			fmt.Fprintf(&b, "  vmlinux only: %s\n", l)
		}
	}
	return b.String()
}

// firstDifference shows two long strings around where they first differ.
func firstDifference(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-200, 0)
	clip := func(s string) string { return s[lo:min(i+200, len(s))] }
	return fmt.Sprintf("at byte %d\npack:    …%s…\nvmlinux: …%s…", i, clip(a), clip(b))
}
