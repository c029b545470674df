package crashdir

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/textlog"
	"github.com/ktriage/ktriage/triage"
	"github.com/ktriage/ktriage/vmcore"
)

// repoRoot is found from this file, so the test runs from any folder.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), ".."))
}

// want is what the batch must report for one crash of the test tree.
type want struct {
	path   string // the row's path: dump parts joined by spaces, or the log
	title  string
	status string // "ok", "ok: incomplete dump", "log-only", "failed"
	host   string // "" when not checked
	layout Layout
}

// tree builds a /var/crash tree in a temp folder and records what each
// crash in it must give.
type tree struct {
	t      *testing.T
	root   string
	wants  []want
	corpus int // dumps taken from ../shared/corpus
	// copies are links to a dump the tree already holds elsewhere: the
	// same crash, listed as skipped, never a second row.
	copies []string
}

func (tr *tree) dir(name string) string {
	d := filepath.Join(tr.root, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		tr.t.Fatal(err)
	}
	return d
}

func (tr *tree) link(src, dst string) string {
	if err := os.Symlink(src, dst); err != nil {
		tr.t.Fatal(err)
	}
	return dst
}

func (tr *tree) write(path string, data []byte) string {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tr.t.Fatal(err)
	}
	return path
}

// truncated writes the first n bytes of src to dst.
func (tr *tree) truncated(src, dst string, n int64) string {
	f, err := os.Open(src)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, n))
	if err != nil {
		tr.t.Fatal(err)
	}
	return tr.write(dst, data)
}

// dumpTitle is what triage says of a dump read on its own.
func dumpTitle(t *testing.T, files []string) string {
	in, err := triage.LoadDump(files, triage.Options{})
	if err != nil {
		t.Fatalf("triage.LoadDump(%v): %v", files, err)
	}
	return in.Title
}

func logTitle(t *testing.T, path string) string {
	in, err := textlog.ParseFile(path)
	if err != nil {
		t.Fatalf("textlog.ParseFile(%s): %v", path, err)
	}
	return in.Title
}

func abs(paths ...string) string {
	var out []string
	for _, p := range paths {
		a, _ := filepath.Abs(p)
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// companion returns the corpus log beside a dump, or "".
func companion(dir string) string {
	for _, n := range []string{"vmcore-dmesg.txt", "dmesg.makedumpfile.txt"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return filepath.Join(dir, n)
		}
	}
	return ""
}

// addCorpus lays the shared corpus dumps out in the three distributions'
// layouts, in turn, and a flattened one as RHEL's vmcore.flat.
func (tr *tree) addCorpus() int {
	if _, err := os.Stat(filepath.Join(repoRoot(), "..", "shared", "corpus", "dumps")); err != nil {
		tr.t.Logf("shared corpus absent (../shared/corpus/dumps): the tree holds only the project's fixtures")
		return 0
	}
	dumps := corpus.Dumps(tr.t)
	for i, d := range dumps {
		day := 10 + i
		log := companion(d.Dir)
		var files []string
		var w want
		switch i % 3 {
		case 0: // RHEL: <ip>-<date>/vmcore (vmcore.flat for flattened, vmcore.N for split)
			host := fmt.Sprintf("10.0.0.%d", i+1)
			dir := tr.dir(fmt.Sprintf("%s-2026-11-%02d-10:00:00", host, day))
			for j, f := range d.Files {
				name := "vmcore"
				switch {
				case len(d.Files) > 1:
					name = fmt.Sprintf("vmcore.%d", j+1)
				case strings.Contains(d.Name, "flat"):
					name = "vmcore.flat"
				}
				files = append(files, tr.link(f, filepath.Join(dir, name)))
			}
			if log != "" {
				tr.link(log, filepath.Join(dir, "vmcore-dmesg.txt"))
			}
			w = want{layout: LayoutRHEL, host: host}
		case 1: // Debian: <stamp>/dump.<stamp> (dump.<stamp>.N for split), dmesg.<stamp>
			stamp := fmt.Sprintf("202611%02d1000", day)
			dir := tr.dir(stamp)
			for j, f := range d.Files {
				name := "dump." + stamp
				if len(d.Files) > 1 {
					name = fmt.Sprintf("dump.%s.%d", stamp, j+1)
				}
				files = append(files, tr.link(f, filepath.Join(dir, name)))
			}
			if log != "" {
				tr.link(log, filepath.Join(dir, "dmesg."+stamp))
			}
			w = want{layout: LayoutDebian}
		case 2: // SUSE: <date>/vmcore with README.txt naming the host
			dir := tr.dir(fmt.Sprintf("2026-11-%02d-10:00", day))
			for j, f := range d.Files {
				name := "vmcore"
				if len(d.Files) > 1 {
					name = fmt.Sprintf("vmcore.%d", j+1)
				}
				files = append(files, tr.link(f, filepath.Join(dir, name)))
			}
			host := fmt.Sprintf("suse-%d.example.com", i)
			tr.write(filepath.Join(dir, "README.txt"), []byte("Kernel crashdump\n----------------\n\n"+
				"Crash time     : 2026-11-"+fmt.Sprint(day)+" 10:00 (+0100)\nKernel version : "+corpus.Release+
				"\nHost           : "+host+"\nDump level     : 31\nDump format    : lzo\n"))
			if log != "" {
				tr.link(log, filepath.Join(dir, "dmesg.txt"))
			}
			w = want{layout: LayoutSUSE, host: host}
		}
		w.path, w.title, w.status = abs(files...), dumpTitle(tr.t, d.Files), store.StatusOK.String()
		tr.wants = append(tr.wants, w)
	}

	// A capture that failed halfway: kexec-tools leaves vmcore-incomplete.
	// A link to a dump of the tree would be the same dump (one content
	// key) and is listed as a copy; a capture is its own file, here the
	// fixture dump with a page of zeros after it, which readers ignore.
	dir := tr.dir("10.0.1.1-2026-11-20-11:00:00")
	fixture := filepath.Join(repoRoot(), "testdata", "dumps", "sysrq-kdump-zlib.vmcore")
	data, err := os.ReadFile(fixture)
	if err != nil {
		tr.t.Fatal(err)
	}
	inc := tr.write(filepath.Join(dir, "vmcore-incomplete"), append(data, make([]byte, 4096)...))
	tr.wants = append(tr.wants, want{path: abs(inc), title: dumpTitle(tr.t, []string{inc}), status: store.StatusIncomplete.String(),
		layout: LayoutRHEL, host: "10.0.1.1"})
	tr.link(dumps[0].Files[0], filepath.Join(tr.dir("10.0.1.2-2026-11-20-12:00:00"), "vmcore"))
	tr.copies = append(tr.copies, filepath.Join(tr.root, "10.0.1.2-2026-11-20-12:00:00", "vmcore"))

	// A truncated dump with its log: the log still gives the incident.
	var kdump corpus.Dump
	for _, d := range dumps {
		if strings.Contains(d.Name, "kdump-zlib") && !strings.Contains(d.Name, "qemu") {
			kdump = d
		}
	}
	if kdump.Name != "" {
		dir = tr.dir("10.0.2.2-2026-11-21-09:00:00")
		tv := tr.truncated(kdump.Files[0], filepath.Join(dir, "vmcore"), 64<<10)
		log := tr.link(companion(kdump.Dir), filepath.Join(dir, "vmcore-dmesg.txt"))
		tr.wants = append(tr.wants, want{path: abs(tv), title: logTitle(tr.t, log), status: "log-only",
			layout: LayoutRHEL, host: "10.0.2.2"})
		// The same without a log: nothing to read, named as failed.
		dir = tr.dir("202611220800")
		tv = tr.truncated(kdump.Files[0], filepath.Join(dir, "dump.202611220800"), 3<<20)
		tr.wants = append(tr.wants, want{path: abs(tv), status: "failed", layout: LayoutDebian})
	}
	return len(dumps)
}

// addFixtures adds the project's own dumps and logs as loose files, a
// truncated copy of the fixture dump and a file named vmcore that is none.
func (tr *tree) addFixtures() {
	td := filepath.Join(repoRoot(), "testdata")
	loose := tr.dir("archive/loose")
	elfs, _ := filepath.Glob(filepath.Join(td, "elf", "*.elf"))
	more, _ := filepath.Glob(filepath.Join(td, "dumps", "*"))
	for _, f := range append(elfs, more...) {
		if s, err := vmcore.SniffFile(f); err != nil || !s.Kind.IsDump() {
			continue
		}
		dst := tr.link(f, filepath.Join(loose, filepath.Base(f)+".vmcore"))
		w := want{path: abs(dst), layout: LayoutLoose, status: store.StatusOK.String()}
		in, err := triage.LoadDump([]string{f}, triage.Options{})
		switch {
		case err != nil:
			w.status = "failed"
		case len(in.Log) == 0 && in.Panic == nil:
			w.status = "failed" // a cut-down fixture with nothing readable
		default:
			w.title = in.Title
		}
		tr.wants = append(tr.wants, w)
	}
	if len(elfs) > 0 {
		tv := tr.truncated(elfs[0], filepath.Join(loose, "cut-short.vmcore"), 4096)
		tr.wants = append(tr.wants, want{path: abs(tv), status: "failed", layout: LayoutLoose})
	}
	logs, _ := filepath.Glob(filepath.Join(td, "logs", "*.log"))
	logDir := tr.dir("archive/logs")
	for _, l := range logs {
		dst := tr.link(l, filepath.Join(logDir, filepath.Base(l)))
		tr.wants = append(tr.wants, want{path: abs(dst), title: logTitle(tr.t, l), status: store.StatusOK.String(), layout: LayoutLoose})
	}
	// Not a dump, though named like one: a broken capture, named as failed.
	dir := tr.dir("10.0.3.3-2026-11-23-12:00:00")
	bad := tr.write(filepath.Join(dir, "vmcore"), []byte("this is not a crash dump\n"))
	tr.wants = append(tr.wants, want{path: abs(bad), status: "failed", layout: LayoutRHEL, host: "10.0.3.3"})
	// Neither a dump nor a log: skipped, and said so.
	tr.write(filepath.Join(tr.root, "archive", "inventory.bin"), []byte{0, 1, 2, 3})
}

func statusClass(r *store.Row) string {
	switch {
	case r.Failed():
		return "failed"
	case r.LogOnly():
		return "log-only"
	}
	return r.Status.String()
}

func buildTree(t *testing.T) *tree {
	tr := &tree{t: t, root: t.TempDir()}
	tr.corpus = tr.addCorpus()
	tr.addFixtures()
	return tr
}

// checkRows matches every expected crash to exactly one row.
func checkRows(t *testing.T, tr *tree, res *FleetResult) {
	t.Helper()
	rows := map[string]*store.Row{}
	for i := range res.Results {
		r := &res.Results[i].Row
		if rows[r.Path] != nil {
			t.Errorf("two rows for %s", r.Path)
		}
		rows[r.Path] = r
	}
	if len(res.Results) != len(tr.wants) {
		var got []string
		for p := range rows {
			got = append(got, p)
		}
		sort.Strings(got)
		t.Errorf("found %d crashes, want %d:\n%s", len(res.Results), len(tr.wants), strings.Join(got, "\n"))
	}
	for _, w := range tr.wants {
		r := rows[w.path]
		if r == nil {
			t.Errorf("no row for %s", w.path)
			continue
		}
		if got := statusClass(r); got != w.status {
			t.Errorf("%s: status %q, want %s", w.path, r.Status, w.status)
		}
		if r.Title != w.title {
			t.Errorf("%s: title %q, want %q (what triage/textlog say alone)", w.path, r.Title, w.title)
		}
		if r.Layout != string(w.layout) {
			t.Errorf("%s: layout %s, want %s", w.path, r.Layout, w.layout)
		}
		if w.host != "" && r.Host != w.host {
			t.Errorf("%s: host %q, want %q", w.path, r.Host, w.host)
		}
		if !r.Failed() && r.Time.IsZero() {
			t.Errorf("%s: no crash time", w.path)
		}
	}
}

func TestFleetTree(t *testing.T) {
	tr := buildTree(t)
	store, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	res, err := Run(context.Background(), Config{Roots: []string{tr.root}, Jobs: 2, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, tr, res)
	t.Logf("%d crashes in the tree (%d from the shared corpus), %d skipped files", len(res.Results), tr.corpus, len(res.Skipped))

	failed := 0
	for _, w := range tr.wants {
		if w.status == "failed" || w.status == "log-only" {
			failed++
		}
	}
	if len(res.Summary.Broken) != failed {
		t.Errorf("summary names %d broken dumps, want %d", len(res.Summary.Broken), failed)
	}
	grouped := 0
	for _, g := range res.Summary.ByTitle {
		grouped += g.Count
	}
	if s := res.Summary; grouped != s.Total-s.Failed || s.Total != len(tr.wants) {
		t.Errorf("summary groups %d crashes by title, want every one not failed (%d of %d)", grouped, s.Total-s.Failed, s.Total)
	}
	var skipped bool
	for _, s := range res.Skipped {
		skipped = skipped || strings.HasSuffix(s.Path, "inventory.bin")
	}
	for _, c := range tr.copies {
		found := false
		for _, s := range res.Skipped {
			found = found || s.Path == c && strings.HasPrefix(s.Reason, "the same dump as ")
		}
		if !found {
			t.Errorf("%s, a link to a dump the tree holds, is not listed as the same dump: %v", c, res.Skipped)
		}
	}
	if !skipped {
		t.Errorf("inventory.bin is neither dump nor log, but is not listed as skipped: %v", res.Skipped)
	}
	// The fleet views (report/fleet) show each row's status; the broken
	// dump's must say what is wrong with it.
	named := false
	for _, r := range res.Results {
		named = named || r.Row.Failed() && strings.Contains(r.Row.Status.String(), "not a crash dump")
	}
	if !named {
		t.Error("no failed row names the broken dump (\"not a crash dump\")")
	}

	// A rerun with the store analyzes nothing again.
	res2, err := Run(context.Background(), Config{Roots: []string{tr.root}, Jobs: 2, Store: store,
		LoadDump: func([]string, triage.Options) (*incident.Incident, error) {
			t.Error("rerun read a dump the store holds")
			return nil, fmt.Errorf("not expected")
		},
		ParseLog: func(string) (*incident.Incident, error) {
			t.Error("rerun read a log the store holds")
			return nil, fmt.Errorf("not expected")
		}})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, tr, res2)
	for _, r := range res2.Results {
		if !r.Row.Reused {
			t.Errorf("rerun did not reuse the stored row of %s", r.Row.Path)
		}
	}
}

// TestDebuginfoDirOnCorpus: with --debuginfo-dir holding the corpus
// kernel's debug vmlinux, the batch reads the dump with it (DWARF names and
// types) and says so in the row.
func TestDebuginfoDirOnCorpus(t *testing.T) {
	dumps := corpus.Dumps(t)
	vmlinux := corpus.Vmlinux(t)
	dbg := t.TempDir()
	link := filepath.Join(dbg, "vmlinux-"+corpus.Release)
	if err := os.Symlink(vmlinux, link); err != nil {
		t.Fatal(err)
	}
	d := dumps[0]
	res, err := Run(context.Background(), Config{Roots: d.Files, Jobs: 1,
		Debuginfo: &Debuginfo{Dirs: []string{dbg}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 {
		t.Fatalf("%d results for one dump", len(res.Results))
	}
	r := res.Results[0]
	if r.Row.Debuginfo != link || r.Incident == nil || r.Incident.System == nil || r.Incident.System.KernelSource != link {
		t.Fatalf("row debuginfo %q, incident kernel source %+v; want %s", r.Row.Debuginfo, r.Incident, link)
	}
	in, err := triage.LoadDump(d.Files, triage.Options{Vmlinux: link})
	if err != nil {
		t.Fatal(err)
	}
	if r.Row.Title != in.Title {
		t.Errorf("title %q, want %q (triage with the same vmlinux)", r.Row.Title, in.Title)
	}
}
