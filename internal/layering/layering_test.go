// Package layering holds the test that keeps ktriage's dependencies
// pointing one way (README "Layout", shared DESIGN.md "Packages").
package layering

import (
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/ktriage/ktriage/"

// allowed lists, for each package of ours, the packages of ours it may
// import. internal/ helpers may be imported from anywhere; a package not
// listed here fails the test until its place is decided.
var allowed = map[string][]string{
	// The dump side, bottom up.
	"elfcore": {},
	"vmcore":  {"elfcore"},
	"symbols": {"vmcore", "elfcore"},
	"kernel":  {"kernel/unwind", "symbols", "debuginfo", "vmcore", "elfcore"},
	// Stack unwinding: registers, a memory reader and the symbol, ORC and
	// CFI sources the kernel hands it; nothing of the dump or the kernel.
	"kernel/unwind": {"elfcore"},
	// Debuginfo fetched by build-id (debuginfod, debug packages); it
	// reads a fetched file's build-id with symbols.
	"debuginfo": {"symbols"},
	// The model both front ends fill, and the text-log front end.
	"incident": {},
	"textlog":  {"incident", "vmcore"}, // vmcore only for its sniffer: what a file is
	// Judgement, the straight line from an input to an incident, rendering.
	"analyzers":                {"incident", "analyzers/pciids"},
	"analyzers/pciids":         {},
	"triage":                   {"kernel", "symbols", "debuginfo", "vmcore", "elfcore", "textlog", "analyzers", "incident"},
	"report":                   {"incident"},
	"report/fleet":             {"crashdir", "crashdir/store", "incident"}, // views of a batch
	"crashdir":                 {"triage", "debuginfo", "analyzers", "textlog", "incident", "vmcore", "crashdir/store"},
	"crashdir/store":           {"incident"}, // results as plain rows; SQLite and PostgreSQL
	"crashdir/store/storetest": {"crashdir/store"},
	"cmd/ktriage":              {"triage", "kernel", "kernel/unwind", "symbols", "debuginfo", "vmcore", "textlog", "analyzers", "incident", "report", "report/fleet", "crashdir", "crashdir/store", "minimize"},
	// A small copy of a dump: the pages the triage reads, learned by running it.
	"minimize":                 {"triage", "kernel", "vmcore", "elfcore"},
	"elfcore/internal/cutcore": {"elfcore"},
	// bench/startup.sh's yardsticks: Go start-up alone, with a decompression
	// library, and the dump reader with the log decoder and nothing else.
	"bench/startup":         {},
	"bench/startup/floor":   {},
	"bench/startup/xz":      {},
	"bench/startup/zstd":    {},
	"bench/startup/logonly": {"kernel", "vmcore"},
}

// internalMay lists what internal helpers may import: test tooling that
// cuts fixtures reads dumps; the rest import nothing of ours.
var internalMay = map[string][]string{
	"internal/cutdump": {"kernel", "symbols", "vmcore", "elfcore"},
	// Archived dumps are sniffed with the dump reader's one sniffer.
	"internal/unpack": {"vmcore"},
}

func TestImportsPointOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		var may []string
		switch {
		case strings.HasPrefix(pkg, "internal/"):
			may = internalMay[pkg]
		default:
			var listed bool
			if may, listed = allowed[pkg]; !listed {
				t.Errorf("%s is in no layer: add it to the allowed table (and the README's layout)", pkg)
				continue
			}
		}
		var bad []string
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, module)
			if !ours || strings.HasPrefix(dep, "internal/") {
				continue
			}
			if !contains(may, dep) {
				bad = append(bad, dep)
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			t.Errorf("%s imports %s: against the layering (it may import %v)", pkg, strings.Join(bad, ", "), may)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestREADMENamesEveryPackage: the README's layout section names every
// package the table above places, so the two cannot drift apart.
func TestREADMENamesEveryPackage(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skipf("no README: %v", err)
	}
	_, layout, ok := strings.Cut(string(b), "\n## Layout")
	if !ok {
		t.Fatal("README has no Layout section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	for _, table := range []map[string][]string{allowed, internalMay} {
		for pkg := range table {
			if !strings.Contains(layout, "`"+pkg+"`") {
				t.Errorf("README's layout section does not name `%s`", pkg)
			}
		}
	}
}
