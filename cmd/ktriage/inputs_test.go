package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/unpack/packtest"
)

// runSplit runs ktriage through the command tree with standard output and
// standard error kept apart (notes go to the latter).
func runSplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errb.String(), err
}

const (
	fixtureDump  = "../../testdata/dumps/hung-kdump-zstd.vmcore"
	fixtureDmesg = "../../testdata/dumps/hung-kdump-zstd.dmesg.txt"
)

// isolate keeps the test's cache and store out of the user's home.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("KTRIAGE_CACHE", filepath.Join(home, "cache"))
	t.Setenv("KTRIAGE_STORE", filepath.Join(home, "fleet.db"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	return home
}

// kdumpFolder makes a RHEL-style kdump folder holding the fixture dump and
// its log, and returns it.
func kdumpFolder(t *testing.T, parent string) string {
	t.Helper()
	dir := filepath.Join(parent, "127.0.0.1-2026-11-20-10:23:45")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for src, name := range map[string]string{fixtureDump: "vmcore", fixtureDmesg: "vmcore-dmesg.txt"} {
		abs, _ := filepath.Abs(src)
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withoutSource is an analyze JSON document minus its "source" (which
// names the file read).
func withoutSource(t *testing.T, doc string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	delete(m, "source")
	b, _ := json.MarshalIndent(m, "", " ")
	return string(b)
}

// Every dump command reads a compressed core, a tar.gz of a kdump folder
// and a kdump folder exactly as it reads the plain dump; the archive is
// unpacked once and the cache serves the next run.
func TestArchivedCoresOpenInEveryCommand(t *testing.T) {
	home := isolate(t)
	arch := t.TempDir()
	inputs := map[string]string{
		"zstd": packtest.File(t, fixtureDump, arch, "zstd"),
		"gzip": packtest.File(t, fixtureDump, arch, "gzip"),
		"xz":   packtest.File(t, fixtureDump, arch, "xz"),
	}
	folder := kdumpFolder(t, t.TempDir())
	inputs["kdump folder"] = folder
	tgz := filepath.Join(arch, "crash.tar.gz")
	packtest.Tar(t, tgz, map[string]string{
		"127.0.0.1-2026-11-20-10:23:45/vmcore":           fixtureDump,
		"127.0.0.1-2026-11-20-10:23:45/vmcore-dmesg.txt": fixtureDmesg,
	}, "gzip")
	inputs["tar.gz"] = tgz

	commands := [][]string{
		{"analyze", "--format", "json", "--no-debuginfo"},
		{"dmesg"},
		{"sys", "--format", "json", "--no-debuginfo"},
		{"bt", "--format", "json", "--no-debuginfo"},
		{"ps", "--state", "D", "--no-debuginfo"},
	}
	for _, c := range commands {
		want, _, err := runSplit(t, append(c, fixtureDump)...)
		if err != nil {
			t.Fatalf("%v on the plain dump: %v", c, err)
		}
		for name, in := range inputs {
			got, stderr, err := runSplit(t, append(c, in)...)
			if err != nil {
				t.Errorf("%v on the %s: %v", c, name, err)
				continue
			}
			switch c[0] {
			case "analyze":
				want, got = withoutSource(t, want), withoutSource(t, got)
			case "sys":
				// DUMPFILE names the file read.
				want = dropLine(want, `"dumpfile"`)
				got = dropLine(got, `"dumpfile"`)
			}
			if got != want {
				t.Errorf("%v on the %s differs from the plain dump\n got: %.400s\nwant: %.400s", c, name, got, want)
			}
			if name != "kdump folder" && !strings.Contains(stderr, "unpacked once") && !strings.Contains(stderr, "using the copy unpacked") {
				t.Errorf("%v on the %s: no note of the unpacking: %q", c, name, stderr)
			}
		}
	}
	// Every run after the first reused the entry: one per archive.
	entries, _ := os.ReadDir(filepath.Join(home, "cache", "unpacked"))
	if len(entries) != 4 {
		t.Errorf("cache holds %d entries, want one per archive (4)", len(entries))
	}
	out, _, err := runSplit(t, "info", "--format", "json", inputs["zstd"])
	if err != nil || !strings.Contains(out, `"unpacked_from"`) {
		t.Errorf("info on the zstd core: %v\n%s", err, out)
	}
	out, _, err = runSplit(t, "cache", "clean")
	if err != nil || !strings.Contains(out, "4 unpacked") {
		t.Errorf("cache clean: %v\n%s", err, out)
	}
}

func dropLine(s, key string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, key) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// fleet counts a compressed core and a tarball as crashes and analyzes them
// to the same title as the plain dump.
func TestFleetReadsArchivedCores(t *testing.T) {
	isolate(t)
	root := t.TempDir()
	plain := kdumpFolder(t, filepath.Join(root, "plain"))
	zdir := filepath.Join(root, "packed", "127.0.0.1-2026-11-21-10:00:00")
	os.MkdirAll(zdir, 0o755)
	packtest.File(t, fixtureDump, zdir, "zstd")
	os.Rename(filepath.Join(zdir, filepath.Base(fixtureDump)+".zst"), filepath.Join(zdir, "vmcore.zst"))
	packtest.Tar(t, filepath.Join(root, "db1.tar.zst"), map[string]string{
		"127.0.0.1-2026-11-22-10:00:00/vmcore": fixtureDump,
	}, "zstd")
	out, stderr, err := runSplit(t, "fleet", "--no-store", "--format", "jsonl", root)
	if err != nil {
		t.Fatalf("fleet: %v\n%s\n%s", err, out, stderr)
	}
	var titles []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var doc struct {
			Fleet struct {
				Path   string `json:"path"`
				Status string `json:"status"`
				Title  string `json:"title"`
			} `json:"fleet"`
		}
		if err := json.Unmarshal([]byte(l), &doc); err != nil || doc.Fleet.Path == "" {
			continue
		}
		if doc.Fleet.Status != "ok" {
			t.Errorf("%s: status %q", doc.Fleet.Path, doc.Fleet.Status)
		}
		titles = append(titles, doc.Fleet.Title)
	}
	if len(titles) != 3 || titles[0] == "" || titles[1] != titles[0] || titles[2] != titles[0] {
		t.Errorf("want 3 crashes with the plain dump's title (as in %s), got %q", plain, titles)
	}
}

// Every dump command takes a kdump folder, as analyze does.
func TestDumpCommandsTakeAKdumpFolder(t *testing.T) {
	isolate(t)
	folder := kdumpFolder(t, t.TempDir())
	for _, c := range [][]string{{"dmesg"}, {"sys", "--no-debuginfo"}, {"bt", "--no-debuginfo"}, {"ps", "--no-debuginfo"}, {"info"}} {
		out, _, err := runSplit(t, append(c, folder)...)
		if err != nil || out == "" {
			t.Errorf("%v on a kdump folder: %v\n%s", c, err, out)
		}
	}
}

// Refusals say what the input is and what to run instead.
func TestRefusalsTeach(t *testing.T) {
	home := isolate(t)
	tree := t.TempDir()
	kdumpFolder(t, filepath.Join(tree, "a"))
	kdumpFolder(t, filepath.Join(tree, "b"))
	garbage := filepath.Join(t.TempDir(), "blob")
	noise := make([]byte, 8192)
	for i := range noise {
		noise[i] = byte(i*131 + i/7) // no dump or container magic, not text
	}
	os.WriteFile(garbage, noise, 0o644)
	emptyDir := t.TempDir()
	twoCrashes := filepath.Join(t.TempDir(), "two.tar.gz")
	packtest.Tar(t, twoCrashes, map[string]string{
		"127.0.0.1-2026-11-20-10:23:45/vmcore": fixtureDump,
		"127.0.0.1-2026-11-21-10:23:45/vmcore": fixtureDump,
	}, "gzip")

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"analyze", tree}, []string{"crash tree holding 2 crashes", "ktriage fleet " + tree}},
		{[]string{"analyze", twoCrashes}, []string{"holds 2 crashes", "tar -xf " + twoCrashes, "ktriage fleet"}},
		{[]string{"analyze", garbage}, []string{"neither a crash dump nor a text log", "binary"}},
		{[]string{"dmesg", fixtureDmesg}, []string{"text log, not a crash dump", "ktriage analyze " + fixtureDmesg}},
		{[]string{"sys", emptyDir}, []string{"no crash dump", "empty crash folder"}},
		{[]string{"bt", "--state", "Q", fixtureDump}, []string{"unknown task state"}},
		{[]string{"ps", "--sort", "size", fixtureDump}, []string{"--sort"}},
		{[]string{"dmesg", "--format", "yaml", fixtureDump}, []string{"--format"}},
		{[]string{"fleet", "--no-store", "-j", "0", tree}, []string{"--jobs 0"}},
		{[]string{"fleet", "--no-store", "--timeout", "-1s", tree}, []string{"--timeout"}},
	} {
		_, _, err := runSplit(t, c.args...)
		if err == nil {
			t.Errorf("%v: accepted", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", c.args, err, w)
			}
		}
	}
	// analyze on a tree wrote no store.
	if _, err := os.Stat(filepath.Join(home, "fleet.db")); !os.IsNotExist(err) {
		t.Errorf("analyze on a tree wrote the store: %v", err)
	}
}

// --trace prints the phase table to standard error and leaves the report
// on standard output as it was.
func TestTracePrintsPhases(t *testing.T) {
	isolate(t)
	plain, _, err := runSplit(t, "analyze", "--format", "json", "--no-debuginfo", fixtureDump)
	if err != nil {
		t.Fatal(err)
	}
	traced, table, err := runSplit(t, "analyze", "--trace", "--format", "json", "--no-debuginfo", fixtureDump)
	if err != nil {
		t.Fatal(err)
	}
	if traced != plain {
		t.Error("--trace changed the report")
	}
	for _, phase := range []string{"open", "log", "names and types", "stack", "analyzers", "render", "total"} {
		if !containsField(table, phase) {
			t.Errorf("trace table lacks phase %q:\n%s", phase, table)
		}
	}
}

// containsField tells whether some line of table starts (after padding)
// with name followed by two spaces.
func containsField(table, name string) bool {
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " "), name+"  ") {
			return true
		}
	}
	return false
}
