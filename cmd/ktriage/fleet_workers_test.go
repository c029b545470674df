package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/crashdir/store/storetest"
)

// TestMain lets a test run the ktriage command itself in a child process
// (the fleet workers below), so a worker can be killed like a real one.
func TestMain(m *testing.M) {
	if os.Getenv("KTRIAGE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// workerTree lays out n distinct crashes in RHEL crash folders from the
// small kdump fixtures: copy i is the fixture with i*8 zero bytes after it,
// which readers ignore, so every crash is its own dump (its own content
// key), as the crashes of a fleet are.
func workerTree(t *testing.T, root string, n int) {
	t.Helper()
	var fixtures [][]byte
	for _, name := range []string{"sysrq-kdump-lzo.vmcore", "sysrq-kdump-snappy.vmcore", "sysrq-incomplete-lzo.vmcore"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dumps", name))
		if err != nil {
			t.Fatal(err)
		}
		fixtures = append(fixtures, b)
	}
	for i := 0; i < n; i++ {
		dir := filepath.Join(root, fmt.Sprintf("10.2.%d.%d-2026-11-%02d-10:%02d:00", i/50, i%50+1, 1+i%28, i%60))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f := fixtures[i%len(fixtures)]
		data := append(append([]byte{}, f...), make([]byte, 8*i)...)
		if err := os.WriteFile(filepath.Join(dir, "vmcore"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fleetLine is what the test reads of a JSON Lines row.
type fleetLine struct {
	Fleet store.Row `json:"fleet"`
}

func readFleetLines(t *testing.T, path string) []store.Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []store.Row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var l fleetLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, l.Fleet)
	}
	return rows
}

// TestFleetWorkersShareOneStore: three `ktriage fleet` workers on one store
// over a 150-crash tree. One is killed with SIGKILL while it holds a claim
// and the two others work.
// Every crash still ends analyzed, exactly once in total (the survivors'
// rows say reused: false once per crash, or the store says the killed
// worker did it before dying), and the crash the dead worker held is taken
// over after its lease. Then the same tree under a second path (hard
// links) and after renaming every crash folder: nothing analyzed again,
// nothing counted twice.
func TestFleetWorkersShareOneStore(t *testing.T) {
	if testing.Short() {
		t.Skip("analyzes 150 dumps in three processes")
	}
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		const crashes = 150
		work := t.TempDir()
		root := filepath.Join(work, "share", "crash")
		workerTree(t, root, crashes)
		worker := func(name, out string, roots ...string) *exec.Cmd {
			args := []string{"fleet", "--store", dsn, "--worker", name, "-j", "1", "--lease", "2s", "--settle", "0",
				"--no-system-debuginfo", "--format", "jsonl", "-o", out}
			cmd := exec.Command(os.Args[0], append(args, roots...)...)
			cmd.Env = append(os.Environ(), "KTRIAGE_TEST_RUN_MAIN=1", "KTRIAGE_CACHE="+filepath.Join(work, "cache"))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			t.Cleanup(func() {
				if t.Failed() && stderr.Len() > 0 {
					t.Logf("%s stderr:\n%s", name, stderr.String())
				}
			})
			return cmd
		}
		names := []string{"w1", "w2", "victim"}
		cmds := map[string]*exec.Cmd{}
		for _, n := range names {
			cmds[n] = worker(n, filepath.Join(work, n+".jsonl"), root)
		}
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		// The victim starts first and is stopped while it holds a claim on
		// a crash it has not finished; the two others start, and the victim
		// dies with SIGKILL, its claim held, while they work. (Caught this
		// way, a loaded machine cannot let the victim finish first.)
		if err := cmds["victim"].Start(); err != nil {
			t.Fatal(err)
		}
		held := stopHoldingClaim(t, st, cmds["victim"])
		for _, n := range names[:2] {
			if err := cmds[n].Start(); err != nil {
				t.Fatal(err)
			}
		}
		cmds["victim"].Process.Kill()
		cmds["victim"].Wait()
		for _, n := range names[:2] {
			if err := cmds[n].Wait(); err != nil {
				t.Fatalf("worker %s: %v", n, err)
			}
		}

		stored, err := st.Rows(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != crashes {
			t.Fatalf("the store holds %d crashes, want %d", len(stored), crashes)
		}
		byKey := map[string]store.Row{}
		for _, r := range stored {
			byKey[r.Key] = r
			if r.Failed() || r.Worker == "" || r.WorkerHost == "" || r.Version == "" || r.Rulebook == "" {
				t.Errorf("stored row %s: status %s, worker %q on %q, version %q, rulebook %q", r.Path, r.Status,
					r.Worker, r.WorkerHost, r.Version, r.Rulebook)
			}
		}
		analyzed := map[string]int{}
		for _, r := range stored {
			if r.Worker == "victim" {
				analyzed[r.Key]++ // done and stored before the kill; its report died with it
			}
		}
		for _, n := range names[:2] {
			rows := readFleetLines(t, filepath.Join(work, n+".jsonl"))
			if len(rows) != crashes {
				t.Errorf("%s reported %d crashes, want all %d", n, len(rows), crashes)
			}
			for _, r := range rows {
				if !r.Reused {
					analyzed[r.Key]++
					if r.Worker != n {
						t.Errorf("%s analyzed %s but the row names worker %q", n, r.Path, r.Worker)
					}
				}
			}
		}
		for key, r := range byKey {
			if analyzed[key] != 1 {
				t.Errorf("%s analyzed %d times in total, want once", r.Path, analyzed[key])
			}
		}
		if r, ok := byKey[held]; !ok || r.Worker == "victim" || r.Attempt < 2 {
			t.Errorf("the crash the killed worker held (%s): stored by %q at claim attempt %d; want another worker's "+
				"second attempt, after the lease", held, r.Worker, r.Attempt)
		}

		// The same tree under a second path, then with every crash folder renamed.
		second := filepath.Join(work, "mnt", "crash")
		if err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			dst := filepath.Join(second, strings.TrimPrefix(p, root))
			if e.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			return os.Link(p, dst)
		}); err != nil {
			t.Fatal(err)
		}
		again := func(label string, roots ...string) {
			out := filepath.Join(work, label+".jsonl")
			if err := worker(label, out, roots...).Run(); err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			rows := readFleetLines(t, out)
			fresh := 0
			for _, r := range rows {
				if !r.Reused {
					fresh++
				}
			}
			if len(rows) != crashes || fresh != 0 {
				t.Errorf("%s: %d rows, %d analyzed again; want %d rows, none analyzed", label, len(rows), fresh, crashes)
			}
			if n, _ := st.Rows(context.Background()); len(n) != crashes {
				t.Errorf("%s: the store holds %d crashes, want %d", label, len(n), crashes)
			}
		}
		again("both-paths", root, second)
		entries, _ := os.ReadDir(second)
		for i, e := range entries {
			if err := os.Rename(filepath.Join(second, e.Name()), filepath.Join(second, fmt.Sprintf("renamed-%03d", i))); err != nil {
				t.Fatal(err)
			}
		}
		again("renamed", second)
	})
}

// stopHoldingClaim waits until the victim holds a claim on a crash it has
// not finished and leaves it stopped (SIGSTOP) there; it returns that
// crash's key. Stopped first and looked at after, the claim cannot finish
// meanwhile.
func stopHoldingClaim(t *testing.T, st *store.SQLStore, victim *exec.Cmd) string {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if err := victim.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("victim ended before it could be stopped: %v", err)
		}
		keys, err := st.Claims(ctx, "victim")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if _, done, _ := st.Get(ctx, k); !done {
				return k
			}
		}
		victim.Process.Signal(syscall.SIGCONT)
	}
	t.Fatal("the victim never held a claim")
	return ""
}
