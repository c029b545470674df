package minimize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/triage"
	"github.com/ktriage/ktriage/vmcore"
)

// fixtureSets lists every dump fixture of the repository as the paths that
// open it (the parts of a split set together).
func fixtureSets(t *testing.T) [][]string {
	t.Helper()
	var files []string
	for _, pat := range []string{"../testdata/dumps*/*.vmcore*", "../testdata/elf/*.elf"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	sort.Strings(files)
	var sets [][]string
	parts := map[string][]string{}
	for _, f := range files {
		if base, _, ok := strings.Cut(f, ".vmcore."); ok {
			parts[base] = append(parts[base], f)
			continue
		}
		sets = append(sets, []string{f})
	}
	for _, p := range parts {
		sets = append(sets, p)
	}
	if len(sets) == 0 {
		t.Fatal("no fixtures found")
	}
	return sets
}

// analyzeJSON is `ktriage analyze --format json` of a dump without its
// source fields (path, format: the copy is another file, zlib-compressed).
func analyzeJSON(t *testing.T, paths []string, opts triage.Options) []byte {
	t.Helper()
	in, err := triage.LoadDump(paths, opts)
	if err != nil {
		t.Fatalf("analyze %v: %v", paths, err)
	}
	rb, err := analyzers.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	analyzers.Analyze(in, rb)
	in.Source.Path, in.Source.Format = "", ""
	b, err := json.MarshalIndent(in, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSameTriage minimizes src and checks that the copy triages to the
// same incident, with the dump's own kallsyms+BTF and with a debug vmlinux
// found the usual way (when this machine has one).
func checkSameTriage(t *testing.T, src []string, opts Options) *Result {
	t.Helper()
	out := filepath.Join(t.TempDir(), "min.vmcore")
	opts.Attach.Discover = true
	res, err := Minimize(src, out, opts)
	if err != nil {
		t.Fatalf("minimize %v: %v", src, err)
	}
	for _, discover := range []bool{false, true} {
		want := analyzeJSON(t, src, triage.Options{Discover: discover})
		got := analyzeJSON(t, []string{out}, triage.Options{Discover: discover})
		if !bytes.Equal(got, want) {
			t.Errorf("%v (debuginfo discovery %v): the copy's analysis differs:\n%s", src, discover, firstDiff(got, want))
		}
	}
	d, err := vmcore.Open(out)
	if err != nil {
		t.Fatalf("the copy does not open: %v", err)
	}
	defer d.Close()
	if d.Compression != "zlib" || d.Format != vmcore.FormatKdump || d.Flattened || d.Split {
		t.Errorf("copy is %s, want plain kdump-compressed with zlib pages", d.Describe())
	}
	// The manifest inside is the one beside, and accounts for every page.
	var inside []byte
	for _, n := range d.Notes {
		if n.Name == ManifestNote {
			inside = n.Desc
		}
	}
	var m Manifest
	if err := json.Unmarshal(inside, &m); err != nil {
		t.Fatalf("manifest note: %v", err)
	}
	var inRanges uint64
	for _, r := range m.Ranges {
		inRanges += r.Pages
		for pfn := r.FirstPFN; pfn < r.FirstPFN+r.Pages; pfn++ {
			if _, _, _, _, err := d.PageDescriptor(pfn); err != nil {
				t.Fatalf("manifest range %+v: pfn %#x not in the copy: %v", r, pfn, err)
			}
		}
	}
	page := make([]byte, d.PageSize)
	for _, r := range m.Lost {
		for pfn := r.FirstPFN; pfn < r.FirstPFN+r.Pages; pfn++ {
			if _, err := d.ReadPhys(page, pfn*uint64(d.PageSize)); !errors.Is(err, vmcore.ErrLost) {
				t.Errorf("pfn %#x, lost in the source, reads from the copy with %v", pfn, err)
			}
		}
	}
	if pc, err := d.Pages(); err != nil || pc.Present != inRanges || int(inRanges) != m.Pages {
		t.Errorf("copy holds %d pages, manifest ranges %d, manifest count %d", pc.Present, inRanges, m.Pages)
	}
	return res
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return "copy:     " + la[i] + "\noriginal: " + lb[i]
		}
	}
	return "lengths differ"
}

func TestFixturesTriageTheSame(t *testing.T) {
	for _, src := range fixtureSets(t) {
		t.Run(filepath.Base(src[0]), func(t *testing.T) {
			checkSameTriage(t, src, Options{})
		})
	}
}

// TestCorpusTriageTheSame runs on the real corpus beside the repository.
func TestCorpusTriageTheSame(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus dumps take minutes")
	}
	for _, dump := range corpus.Dumps(t) {
		t.Run(dump.Name, func(t *testing.T) {
			res := checkSameTriage(t, dump.Files, Options{})
			t.Logf("%s: %d bytes from %d (%d pages) in %v", dump.Name, res.Size, res.InputSize, res.Manifest.Pages, res.Elapsed)
		})
	}
}

// TestRedactRefusesWithoutMemoryMap: the fixtures are cut to the pages
// ktriage reads, without the memory map, so no page can be shown not to be
// user data: redaction must refuse rather than guess.
func TestRedactRefusesWithoutMemoryMap(t *testing.T) {
	_, err := Minimize([]string{"../testdata/dumps/hung-kdump-zstd.vmcore"}, filepath.Join(t.TempDir(), "min.vmcore"), Options{Redact: true})
	if err == nil || !strings.Contains(err.Error(), "refusing to redact") || !strings.Contains(err.Error(), "hung-kdump-zstd.vmcore") {
		t.Fatalf("redacting a dump without its memory map: %v", err)
	}
}

// corpusDump returns the corpus dump of that name, or skips.
func corpusDump(t *testing.T, name string) []string {
	if testing.Short() {
		t.Skip("corpus dumps take minutes")
	}
	for _, d := range corpus.Dumps(t) {
		if d.Name == name {
			return d.Files
		}
	}
	t.Skipf("corpus dump %s not found", name)
	return nil
}

// TestRedactedTriageTheSame: leaving out user, page-cache and free pages
// loses nothing a triage reads (real dumps, with their memory map).
func TestRedactedTriageTheSame(t *testing.T) {
	for _, name := range []string{"hung-qemu-kdump-zlib", "hung-kdump-zstd", "sysrq-elf"} {
		t.Run(name, func(t *testing.T) {
			res := checkSameTriage(t, corpusDump(t, name), Options{Redact: true})
			if !res.Manifest.Redacted {
				t.Error("manifest does not say the copy is redacted")
			}
			for _, r := range res.Manifest.Redactions {
				if r.What != "page" || r.Class == "" {
					t.Errorf("redaction %+v: without --rename only pages are left out, each with its class", r)
				}
			}
		})
	}
}

// TestRenameReplacesNames: --rename rewrites every task's name and the
// hostname in the copy, and the manifest names each rewrite.
func TestRenameReplacesNames(t *testing.T) {
	src := corpusDump(t, "hung-kdump-zstd")
	out := filepath.Join(t.TempDir(), "min.vmcore")
	res, err := Minimize(src, out, Options{Rename: true})
	if err != nil {
		t.Fatal(err)
	}
	orig, err := triage.LoadDump(src, triage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := triage.LoadDump([]string{out}, triage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.BlockedTasks) == 0 || len(in.BlockedTasks) != len(orig.BlockedTasks) {
		t.Fatalf("%d blocked tasks in the copy, %d in the original", len(in.BlockedTasks), len(orig.BlockedTasks))
	}
	for _, bt := range in.BlockedTasks {
		if want := fmt.Sprintf("task-%d", bt.PID); bt.Comm != want {
			t.Errorf("blocked task %d is named %q in the copy, want %q", bt.PID, bt.Comm, want)
		}
	}
	for _, at := range in.ActiveTasks {
		if want := fmt.Sprintf("task-%d", at.PID); at.Comm != want {
			t.Errorf("active task %d is named %q in the copy, want %q", at.PID, at.Comm, want)
		}
	}
	if in.System.Nodename != "redacted" {
		t.Errorf("hostname %q in the copy", in.System.Nodename)
	}
	fields := 0
	for _, r := range res.Manifest.Redactions {
		if r.What == "field" {
			fields++
		}
	}
	if fields <= len(orig.BlockedTasks) {
		t.Errorf("manifest lists %d rewritten fields", fields)
	}
}

// TestKeepRequests: --keep-task and --keep-symbol add their pages, say so
// in the manifest, and name what they cannot find.
func TestKeepRequests(t *testing.T) {
	src := []string{"../testdata/dumps/hung-kdump-zstd.vmcore"}
	dir := t.TempDir()
	res, err := Minimize(src, filepath.Join(dir, "a.vmcore"), Options{KeepTasks: []int{1}, KeepSymbols: []string{"init_task"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range res.Manifest.Requests {
		got[r.Reason] = r.Pages
	}
	// task_struct is about 10 KB, a kernel stack 16 KB: at least 6 pages.
	if got["--keep-task 1"] < 6 || got["--keep-symbol init_task"] < 2 {
		t.Errorf("requests %v", res.Manifest.Requests)
	}
	for _, bad := range []Options{{KeepTasks: []int{99999}}, {KeepSymbols: []string{"no_such_symbol_here"}}} {
		_, err := Minimize(src, filepath.Join(dir, "b.vmcore"), bad)
		if err == nil || !strings.Contains(err.Error(), "--keep-") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// TestMaxSizeDropsOptionalFirst: a budget below the full copy drops the
// least needed evidence first, says so, and fits; a budget below the
// required pages drops all optional evidence and says it cannot fit.
func TestMaxSizeDropsOptionalFirst(t *testing.T) {
	src := []string{"../testdata/dumps/hung-kdump-zstd.vmcore"}
	dir := t.TempDir()
	full, err := Minimize(src, filepath.Join(dir, "full.vmcore"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The first optional reason the copy has pages for is dropped first.
	var first Count
	for _, o := range optional {
		for _, c := range full.Manifest.Reasons {
			if c.Reason == o && first.Pages == 0 {
				first = c
			}
		}
	}
	if first.Pages == 0 {
		t.Fatalf("no optional pages kept: %v", full.Manifest.Reasons)
	}
	budget := full.Size - 4096
	res, err := Minimize(src, filepath.Join(dir, "budget.vmcore"), Options{MaxSize: budget})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size > budget || len(res.Manifest.Dropped) != 1 || res.Manifest.Dropped[0] != first {
		t.Errorf("budget %d: wrote %d, dropped %v", budget, res.Size, res.Manifest.Dropped)
	}
	tiny, err := Minimize(src, filepath.Join(dir, "tiny.vmcore"), Options{MaxSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(tiny.Manifest.Dropped) == 0 || !strings.Contains(strings.Join(tiny.Manifest.Notes, " "), "more than --max-size") {
		t.Errorf("budget 1: dropped %v, notes %v", tiny.Manifest.Dropped, tiny.Manifest.Notes)
	}
}

// plantedSecret is what testdata/gen's secret scenario writes into a
// tmpfs file (page cache) and into two processes' memory before the crash.
const plantedSecret = "KTRIAGE-PLANTED-SECRET-5f1c9e27"

// secretDumps are the secret scenario's dumps, where make-dumps.sh puts
// them (KTRIAGE_GEN_OUT, /work/gen-out by default).
func secretDumps(t *testing.T) []string {
	out := os.Getenv("KTRIAGE_GEN_OUT")
	if out == "" {
		out = "/work/gen-out"
	}
	found, _ := filepath.Glob(filepath.Join(out, "secret-*", "vmcore"))
	if len(found) == 0 {
		t.Skipf("no dump of the secret scenario under %s (run testdata/gen/make-dumps.sh secret)", out)
	}
	return found
}

// pagesHolding lists the pages of a dump whose bytes hold s.
func pagesHolding(t *testing.T, path string, s string) []uint64 {
	t.Helper()
	d, err := vmcore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	page := make([]byte, d.PageSize)
	var out []uint64
	for pfn := uint64(0); pfn < d.MaxPFN(); pfn++ {
		if _, err := d.ReadPhys(page, pfn*uint64(d.PageSize)); err == nil && bytes.Contains(page, []byte(s)) {
			out = append(out, pfn)
		}
	}
	return out
}

// TestRedactionLeavesOutPlantedSecret: the secret the guest planted in
// user memory and the page cache is in the original dump and in no page
// of the redacted copy, which still triages the same.
func TestRedactionLeavesOutPlantedSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("reads whole dumps")
	}
	for _, src := range secretDumps(t) {
		t.Run(filepath.Base(filepath.Dir(src)), func(t *testing.T) {
			held := pagesHolding(t, src, plantedSecret)
			if len(held) == 0 {
				t.Fatalf("the secret is in no page of the original %s: the scenario did not plant it", src)
			}
			// Every page holding it is one the filter leaves out, whether
			// or not a reader touches it.
			d, err := vmcore.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			r, err := newRedactor(d, Options{Redact: true})
			if err != nil {
				t.Fatal(err)
			}
			classes := map[string]int{}
			for _, pfn := range held {
				c := r.classify(pfn)
				classes[c]++
				if c == "" || c == ClassUnclassified {
					t.Errorf("pfn %#x holds the secret and is classed %q: redaction would keep it if a reader touched it", pfn, c)
				}
			}
			d.Close()
			t.Logf("original: %d pages hold the secret, classed %v", len(held), classes)
			res := checkSameTriage(t, []string{src}, Options{Redact: true})
			if n := pagesHolding(t, res.Out, plantedSecret); len(n) != 0 {
				t.Errorf("the redacted copy holds the secret in pages %#x", n)
			}
			left := map[string]int{}
			for _, r := range res.Manifest.Redactions {
				left[r.Class]++
			}
			t.Logf("redacted copy: %d bytes, %d pages; left out %v", res.Size, res.Manifest.Pages, left)
			plain, err := Minimize([]string{src}, filepath.Join(t.TempDir(), "plain.vmcore"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("unredacted copy: %d pages hold the secret", len(pagesHolding(t, plain.Out, plantedSecret)))
		})
	}
}
