package crashdir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/triage"
)

// fakeDump writes a file that sniffs as a kdump-compressed dump and whose
// body names the title the fake loader gives it.
func fakeDump(t *testing.T, path, title string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("KDUMP   \n"+title), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeLoader reads fake dumps: the title after the signature (up to a NUL,
// after which copies of one title differ), a fixed release and crash time;
// "PANIC" panics, "BROKEN" fails.
func fakeLoader(paths []string, _ triage.Options) (*incident.Incident, error) {
	data, err := os.ReadFile(paths[0])
	if err != nil {
		return nil, err
	}
	title, _, _ := strings.Cut(strings.TrimPrefix(string(data), "KDUMP   \n"), "\x00")
	switch title {
	case "PANIC":
		var m map[string]int
		m["reader bug"]++ // a nil-map write, as a buggy reader would do
	case "BROKEN":
		return nil, errors.New("kdump header: bitmap runs past the end of the file")
	}
	when := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	return &incident.Incident{Title: title, Source: incident.Source{Path: paths[0], Kind: "vmcore"},
		System: &incident.System{Release: "6.1.0-56-cloud-amd64", CrashTime: &when},
		Panic:  &incident.Panic{Message: title}}, nil
}

func fakeLog(path string) (*incident.Incident, error) {
	return &incident.Incident{Title: "from the log", Source: incident.Source{Path: path, Kind: "log"}}, nil
}

func TestPanicInOneDumpDoesNotStopTheRest(t *testing.T) {
	root := t.TempDir()
	fakeDump(t, filepath.Join(root, "10.0.0.1-2026-11-20-10:00:00", "vmcore"), "BUG: one")
	fakeDump(t, filepath.Join(root, "10.0.0.2-2026-11-20-10:00:00", "vmcore"), "PANIC")
	fakeDump(t, filepath.Join(root, "10.0.0.3-2026-11-20-10:00:00", "vmcore"), "BROKEN")
	log := filepath.Join(root, "10.0.0.3-2026-11-20-10:00:00", "vmcore-dmesg.txt")
	os.WriteFile(log, []byte("<0>Kernel panic"), 0o644)
	fakeDump(t, filepath.Join(root, "10.0.0.4-2026-11-20-10:00:00", "vmcore"), "BUG: four")

	fakeDump(t, filepath.Join(root, "10.0.0.5-2026-11-20-10:00:00", "vmcore"), "HANG")
	stuck := make(chan struct{})
	defer close(stuck)
	load := func(paths []string, opts triage.Options) (*incident.Incident, error) {
		if data, _ := os.ReadFile(paths[0]); strings.HasSuffix(string(data), "HANG") {
			<-stuck // a reader looping on a damaged dump
		}
		return fakeLoader(paths, opts)
	}
	res, err := Run(context.Background(), Config{Roots: []string{root}, Jobs: 2, LoadDump: load, ParseLog: fakeLog,
		Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	byHost := map[string]store.Row{}
	for _, r := range res.Rows() {
		byHost[r.Host] = r
	}
	if r := byHost["10.0.0.2"]; !r.Failed() || !strings.Contains(r.Status.String(), "panic while reading") ||
		!strings.Contains(r.Status.String(), "batch_test.go") {
		t.Errorf("panicking reader: status %q, want a failed row naming the panic and where", r.Status)
	}
	if r := byHost["10.0.0.5"]; !r.Failed() || !strings.Contains(r.Status.String(), "timed out") {
		t.Errorf("stuck reader: status %q, want a failed row after the timeout", r.Status)
	}
	if r := byHost["10.0.0.3"]; !r.LogOnly() || r.Title != "from the log" ||
		!strings.Contains(r.Status.String(), "dump unreadable: kdump header") {
		t.Errorf("unreadable dump with a log: %+v", r)
	}
	for _, h := range []string{"10.0.0.1", "10.0.0.4"} {
		if r := byHost[h]; r.Status != store.StatusOK || !strings.HasPrefix(r.Title, "BUG: ") {
			t.Errorf("%s: %+v, want analyzed despite its neighbours", h, r)
		}
	}
}

// countingStore is a Store in memory that counts Puts.
type countingStore struct {
	rows map[string]store.Row
	puts atomic.Int32
}

func (s *countingStore) Get(_ context.Context, key string) (*store.Row, bool, error) {
	r, ok := s.rows[key]
	return &r, ok, nil
}
func (s *countingStore) Put(_ context.Context, r *store.Row, _ *incident.Incident) error {
	s.puts.Add(1)
	s.rows[r.Key] = *r
	return nil
}
func (s *countingStore) Rows(context.Context) ([]store.Row, error) { return nil, nil }
func (s *countingStore) Incident(context.Context, string) (*incident.Incident, error) {
	return nil, nil
}
func (s *countingStore) Close() error                                          { return nil }
func (s *countingStore) EachRow(context.Context, func(*store.Row) error) error { return nil }
func (s *countingStore) Files(context.Context) ([]store.File, error)           { return nil, nil }
func (s *countingStore) SaveFiles(context.Context, []store.File) error         { return nil }
func (s *countingStore) Vanish(context.Context, []string) error                { return nil }
func (s *countingStore) Claim(context.Context, string, string, time.Duration) (bool, int, error) {
	return true, 1, nil
}
func (s *countingStore) Heartbeat(context.Context, string, time.Duration) error { return nil }
func (s *countingStore) Release(context.Context, string, string) error          { return nil }
func (s *countingStore) StartRun(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, nil
}
func (s *countingStore) LastRun(context.Context) (time.Time, error) { return time.Time{}, nil }

func TestCancelKeepsWhatWasDone(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 8; i++ {
		fakeDump(t, filepath.Join(root, fmt.Sprintf("20261120100%d", i), fmt.Sprintf("dump.20261120100%d", i)),
			fmt.Sprintf("BUG: number %d", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var loaded atomic.Int32
	load := func(paths []string, opts triage.Options) (*incident.Incident, error) {
		if loaded.Add(1) == 3 {
			cancel() // Ctrl-C while the third dump is read
		}
		return fakeLoader(paths, opts)
	}
	counting := &countingStore{rows: map[string]store.Row{}}
	res, err := Run(ctx, Config{Roots: []string{root}, Jobs: 1, LoadDump: load, Store: counting})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: err %v, want context.Canceled", err)
	}
	if res == nil || !res.Interrupted {
		t.Fatalf("no partial result after cancel")
	}
	done, interrupted := 0, 0
	for _, r := range res.Rows() {
		switch {
		case r.Status == store.StatusOK:
			done++
		case r.Status == store.StatusInterrupted:
			interrupted++
		default:
			t.Errorf("unexpected row %+v", r)
		}
	}
	if done != 3 || interrupted != 5 {
		t.Errorf("%d done, %d interrupted; want the 3 in progress done and the 5 others marked", done, interrupted)
	}
	if n := counting.puts.Load(); n != 3 {
		t.Errorf("%d rows stored, want the 3 finished", n)
	}
}

func TestDiscoverLayouts(t *testing.T) {
	root := t.TempDir()
	w := func(rel, data string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// RHEL split set of eleven parts: vmcore.10 sorts after vmcore.9.
	for i := 1; i <= 11; i++ {
		w(fmt.Sprintf("192.168.1.5-2026-11-20-10:23:45/vmcore.%d", i), "KDUMP   ")
	}
	w("192.168.1.5-2026-11-20-10:23:45/vmcore-dmesg.txt", "Linux version 5.14.0-362.el9.x86_64 (mockbuild)")
	// RHEL flattened, sent over ssh.
	w("10.1.1.1-2026-11-21-01:02:03/vmcore.flat", "makedumpfile\x00\x00\x00\x00")
	// Debian split set and its log.
	w("202611221530/dump.202611221530.1", "KDUMP   ")
	w("202611221530/dump.202611221530.2", "KDUMP   ")
	w("202611221530/dmesg.202611221530", "CPU: 0 PID: 1 Comm: sh Not tainted 6.1.0-13-amd64 #1 Debian")
	// SUSE with README.txt.
	w("2026-11-23-08:15/vmcore", "\x7fELF")
	w("2026-11-23-08:15/README.txt", "Kernel crashdump\n----------------\n\nCrash time     : 2026-11-23 09:15 (+0100)\n"+
		"Kernel version : 5.14.21-150500.55.7-default\nHost           : db1.example.com\n")
	// A capture that never finished, and one that saved only the log.
	w("127.0.0.1-2026-11-24-00:00:00/vmcore-incomplete", "KDUMP   ")
	w("10.1.1.3-2026-11-25-00:00:00/vmcore-dmesg.txt", "Kernel panic - not syncing: Fatal exception")
	// A packed dump that is cut short (skipped with the reason) and loose files.
	w("archive/old/vmcore.zst", "\x28\xb5\x2f\xfd")
	w("archive/node7.vmcore", "KDUMP   ")
	w("archive/logs/messages-20261120", "Nov 20 kernel: BUG: soft lockup")
	w("archive/inventory.csv", "host,rack")
	w("_usr_bin_python3.0.crash", "ProblemType: Crash") // apport's, not the kernel's
	w("kexec_cmd", "kexec -p /boot/vmlinuz")
	w(".snapshot/hourly/202611201000/dump.202611201000", "KDUMP   ")
	if err := os.Symlink(root, filepath.Join(root, "archive", "loop")); err != nil {
		t.Fatal(err)
	}

	d, err := Discover([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Crash{}
	for _, c := range d.Crashes {
		rel, _ := filepath.Rel(root, c.Name())
		byName[rel] = c
	}
	if len(d.Crashes) != 8 {
		t.Errorf("found %d crashes, want 8: %v", len(d.Crashes), keys(byName))
	}
	split := byName["192.168.1.5-2026-11-20-10:23:45/vmcore.1"]
	if len(split.Dumps) != 11 || filepath.Base(split.Dumps[9]) != "vmcore.10" || split.Layout != LayoutRHEL ||
		split.Host != "192.168.1.5" || split.Time != time.Date(2026, 11, 20, 10, 23, 45, 0, time.UTC) ||
		split.Release != "5.14.0-362.el9.x86_64" || filepath.Base(split.Log) != "vmcore-dmesg.txt" {
		t.Errorf("RHEL split set: %+v", split)
	}
	if c := byName["10.1.1.1-2026-11-21-01:02:03/vmcore.flat"]; !c.Flattened || c.Layout != LayoutRHEL {
		t.Errorf("flattened: %+v", c)
	}
	deb := byName["202611221530/dump.202611221530.1"]
	if len(deb.Dumps) != 2 || deb.Layout != LayoutDebian || deb.Release != "6.1.0-13-amd64" ||
		deb.Time != time.Date(2026, 11, 22, 15, 30, 0, 0, time.UTC) || filepath.Base(deb.Log) != "dmesg.202611221530" {
		t.Errorf("Debian split set: %+v", deb)
	}
	suse := byName["2026-11-23-08:15/vmcore"]
	if suse.Layout != LayoutSUSE || suse.Host != "db1.example.com" || suse.Release != "5.14.21-150500.55.7-default" ||
		suse.Time != time.Date(2026, 11, 23, 8, 15, 0, 0, time.UTC) {
		t.Errorf("SUSE: %+v", suse)
	}
	if c := byName["127.0.0.1-2026-11-24-00:00:00/vmcore-incomplete"]; !c.Incomplete || c.Host != "" {
		t.Errorf("local vmcore-incomplete: %+v, want incomplete and no host (127.0.0.1 names every machine)", c)
	}
	if c := byName["10.1.1.3-2026-11-25-00:00:00/vmcore-dmesg.txt"]; len(c.Dumps) != 0 || c.Log == "" {
		t.Errorf("log without a dump: %+v", c)
	}
	if c := byName["archive/node7.vmcore"]; c.Layout != LayoutLoose || len(c.Dumps) != 1 {
		t.Errorf("loose dump: %+v", c)
	}
	if c := byName["archive/logs/messages-20261120"]; c.Log == "" || len(c.Dumps) != 0 {
		t.Errorf("loose log: %+v", c)
	}
	reasons := map[string]string{}
	for _, s := range d.Skipped {
		rel, _ := filepath.Rel(root, s.Path)
		reasons[rel] = s.Reason
	}
	if !strings.Contains(reasons["archive/old/vmcore.zst"], "zstd-compressed dump that cannot be unpacked") {
		t.Errorf("broken packed dump not skipped with its reason: %v", reasons)
	}
	if reasons["archive/inventory.csv"] == "" {
		t.Errorf("inventory.csv not listed as skipped: %v", reasons)
	}
	if len(reasons) != 2 {
		t.Errorf("skipped %v; want only the packed dump and inventory.csv (kdump's and apport's files are known)", reasons)
	}
	if !IsCrashDir(root) || IsCrashDir(filepath.Join(root, "2026-11-23-08:15")) ||
		!IsCrashDir(filepath.Join(root, "archive", "old", "..", "logs", "..")) {
		t.Errorf("IsCrashDir: a tree of crashes is one, a single crash folder is not")
	}
	one := t.TempDir()
	fakeDump(t, filepath.Join(one, "202611201000", "dump.202611201000"), "BUG: x")
	if !IsCrashDir(one) || IsCrashDir(filepath.Join(one, "202611201000")) {
		t.Errorf("IsCrashDir: /var/crash with one crash folder is a crash tree; that folder is not")
	}
}

// TestNamedSplitPartBringsItsSet: naming one part of a split dump (or
// several) analyzes the whole set once.
func TestNamedSplitPartBringsItsSet(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 3; i++ {
		fakeDump(t, filepath.Join(dir, fmt.Sprintf("vmcore.%d", i)), "BUG: split")
	}
	fakeDump(t, filepath.Join(dir, "other.1"), "BUG: another set")
	d, err := Discover([]string{filepath.Join(dir, "vmcore.2"), filepath.Join(dir, "vmcore.3")})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Crashes) != 1 || len(d.Crashes[0].Dumps) != 3 || filepath.Base(d.Crashes[0].Dumps[0]) != "vmcore.1" {
		t.Errorf("crashes %+v, want one set of vmcore.1..3", d.Crashes)
	}
}

func keys(m map[string]Crash) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDebuginfoPerRelease(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"vmlinux-6.1.0-56-cloud-amd64", "5.14.0-362.el9.x86_64/vmlinux",
		"usr/lib/debug/lib/modules/4.18.0-553.el8_10.x86_64/vmlinux"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte("\x7fELF"), 0o644)
	}
	d := &Debuginfo{Dirs: []string{dir}}
	for rel, want := range map[string]string{
		"6.1.0-56-cloud-amd64":     "vmlinux-6.1.0-56-cloud-amd64",
		"5.14.0-362.el9.x86_64":    "5.14.0-362.el9.x86_64/vmlinux",
		"4.18.0-553.el8_10.x86_64": "usr/lib/debug/lib/modules/4.18.0-553.el8_10.x86_64/vmlinux",
		"3.10.0-1160.el7.x86_64":   "",
	} {
		got := d.Find(rel)
		if want != "" {
			want = filepath.Join(dir, want)
		}
		if got != want {
			t.Errorf("Find(%s) = %q, want %q", rel, got, want)
		}
	}
}

func TestDebuginfoHintIsUsedAndWrongHintIsSurvived(t *testing.T) {
	root := t.TempDir()
	dbg := t.TempDir()
	vm := filepath.Join(dbg, "vmlinux-6.1.0-56-cloud-amd64")
	os.WriteFile(vm, []byte("\x7fELF"), 0o644)
	fakeDump(t, filepath.Join(root, "202611201000", "dump.202611201000"), "BUG: x")
	var calls []string
	load := func(paths []string, opts triage.Options) (*incident.Incident, error) {
		calls = append(calls, opts.Vmlinux)
		return fakeLoader(paths, opts)
	}
	// No hint: read with the dump's own symbols, then again with the
	// debuginfo of the release the dump names.
	res, err := Run(context.Background(), Config{Roots: []string{root}, Jobs: 1, LoadDump: load,
		Debuginfo: &Debuginfo{Dirs: []string{dbg}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != "" || calls[1] != vm || res.Results[0].Row.Debuginfo != vm {
		t.Errorf("loader calls %q, row debuginfo %q", calls, res.Results[0].Row.Debuginfo)
	}
}

// Hosts come from archive paths when the crash folder does not name one:
// the deepest folder below the root that is neither generic nor a date.
func TestHostFromPath(t *testing.T) {
	root := "/srv/archive"
	for _, c := range []struct {
		dir    string
		layout Layout
		want   string
	}{
		{"/srv/archive/web-3/var/crash/202611011200", LayoutDebian, "web-3"},
		{"/srv/archive/web-3", LayoutArchive, "web-3"},
		{"/srv/archive/2026/11/web-3/127.0.0.1-2026-11-01-10:00:00", LayoutRHEL, "web-3"},
		{"/srv/archive/202611011200", LayoutDebian, ""},
		{"/srv/archive/10.1.2.3", LayoutLoose, "10.1.2.3"},
		{"/srv/archive/web-3/20261206-oops", LayoutLoose, "web-3"},
		{"/srv/archive/crash/2026-12-06", LayoutSUSE, ""},
		{"/elsewhere/web-9", LayoutLoose, ""},
	} {
		if got := hostFromPath(root, &Crash{Dir: c.dir, Layout: c.layout}); got != c.want {
			t.Errorf("%s (%s): host %q, want %q", c.dir, c.layout, got, c.want)
		}
	}
}
