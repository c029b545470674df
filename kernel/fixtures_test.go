package kernel

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ktriage/ktriage/vmcore"
)

// The fixtures in ../testdata/dumps are real kdump-compressed dumps of
// Debian 12's 6.1.0-56-cloud-amd64 kernel, cut by internal/cutdump to the
// pages ktriage reads (testdata/dumps/make.sh). Beside each NAME.vmcore
// (or NAME.vmcore.1, .2 for a split set) lie NAME.dmesg.txt and, when the
// cut kept the kallsyms, BTF and task pages, NAME.sys.json: both produced
// by ktriage from the ORIGINAL dump, whose dmesg equals crash 8.0.6's log.
// These tests need nothing outside the repository.

const fixtureDir = "../testdata/dumps"

type dumpFixture struct {
	name  string
	files []string
}

func dumpFixtures(t *testing.T) []dumpFixture {
	t.Helper()
	expected, err := filepath.Glob(filepath.Join(fixtureDir, "*.dmesg.txt"))
	if err != nil || len(expected) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	var out []dumpFixture
	for _, e := range expected {
		name := strings.TrimSuffix(filepath.Base(e), ".dmesg.txt")
		files, _ := filepath.Glob(filepath.Join(fixtureDir, name+".vmcore.[0-9]*"))
		if one := filepath.Join(fixtureDir, name+".vmcore"); len(files) == 0 {
			files = []string{one}
		}
		sort.Strings(files)
		out = append(out, dumpFixture{name, files})
	}
	return out
}

// TestFixtureDmesg: on every fixture, the log ktriage decodes is byte for
// byte what it decoded from the original dump (= crash's log.txt).
func TestFixtureDmesg(t *testing.T) {
	for _, f := range dumpFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(fixtureDir, f.name+".dmesg.txt"))
			if err != nil {
				t.Fatal(err)
			}
			d, err := vmcore.Open(f.files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			as, err := NewAddressSpace(d)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := ReadLog(as, d.VMCoreInfo)
			if err != nil {
				t.Fatal(err)
			}
			sameLog(t, []byte(dmesgOf(t, recs)), want)
			if len(recs) < 100 || PanicMessage(recs) == "" {
				t.Errorf("%d records, panic message %q: the fixture lost its log", len(recs), PanicMessage(recs))
			}
			if as.PageOffset == 0 {
				t.Errorf("direct map base not found")
			}
		})
	}
}

// attachFixture opens a fixture with its own kallsyms and BTF.
func attachFixture(t *testing.T, f dumpFixture) *Kernel {
	t.Helper()
	d, err := vmcore.Open(f.files...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	k, err := Attach(d, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sysJSON is the part of `ktriage sys --format json` the fixtures keep.
type sysJSON struct {
	CPUs          int        `json:"cpus"`
	OfflineCPUs   int        `json:"offline_cpus"`
	CrashTime     *time.Time `json:"crash_time"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	LoadAverage   []float64  `json:"load_average"`
	Tasks         int        `json:"tasks"`
	Nodename      string     `json:"nodename"`
	Release       string     `json:"release"`
	Version       string     `json:"version"`
	Machine       string     `json:"machine"`
	MemoryBytes   uint64     `json:"memory_bytes"`
	Panic         string     `json:"panic"`
	Warnings      []string   `json:"warnings"`
}

// TestFixtureSys: on the fixtures cut with the kallsyms, BTF and task
// pages, Sys with no vmlinux gives what it gave on the original dump.
func TestFixtureSys(t *testing.T) {
	n := 0
	for _, f := range dumpFixtures(t) {
		raw, err := os.ReadFile(filepath.Join(fixtureDir, f.name+".sys.json"))
		if os.IsNotExist(err) {
			continue // a dmesg-only fixture
		}
		n++
		t.Run(f.name, func(t *testing.T) {
			var want sysJSON
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			k := attachFixture(t, f)
			d := k.Dump
			s, warns := k.Sys()
			recs, err := ReadLog(k.AS, d.VMCoreInfo)
			if err != nil {
				t.Fatal(err)
			}
			got := sysJSON{CPUs: s.CPUs, OfflineCPUs: s.OfflineCPUs, UptimeSeconds: s.Uptime.Seconds(),
				LoadAverage: s.LoadAverage[:], Tasks: s.Tasks, Nodename: s.Nodename, Release: s.Release,
				Version: s.Version, Machine: s.Machine, MemoryBytes: s.MemoryBytes, Panic: PanicMessage(recs), Warnings: warns}
			if want.CrashTime == nil || !s.CrashTime.Equal(*want.CrashTime) {
				t.Errorf("crash time %v, original %v", s.CrashTime, want.CrashTime)
			}
			want.CrashTime = nil
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if !bytes.Equal(gj, wj) {
				t.Errorf("sys on the fixture:\n %s\noriginal:\n %s", gj, wj)
			}
			if s.Tasks < 50 || s.Release != "6.1.0-56-cloud-amd64" {
				t.Errorf("%d tasks, release %q: implausible", s.Tasks, s.Release)
			}
			tasks, err := k.Tasks()
			if err != nil || len(tasks) != want.Tasks {
				t.Errorf("Tasks(): %d, %v; want %d", len(tasks), err, want.Tasks)
			}
		})
	}
	if n == 0 {
		t.Fatal("no fixture carries sys facts (NAME.sys.json)")
	}
}

// TestFixtureZeroedVMCoreInfo: with its VMCOREINFO wiped a dump gives no
// address space, and the error says why.
func TestFixtureZeroedVMCoreInfo(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	sh := b[4096:] // the sub-header: offset_vmcoreinfo at 32, size at 40 (LP64)
	off := int(binary.LittleEndian.Uint64(sh[32:]))
	size := int(binary.LittleEndian.Uint64(sh[40:]))
	clear(b[off : off+size])
	p := filepath.Join(t.TempDir(), "zeroed.vmcore")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := vmcore.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = NewAddressSpace(d)
	if err == nil || !strings.Contains(err.Error(), "VMCOREINFO") || !strings.Contains(err.Error(), "zeroed") {
		t.Errorf("got %v, want an error saying VMCOREINFO is zeroed", err)
	}
}

// btEntry is one task of `ktriage bt --format json`.
type btEntry struct {
	PID    int     `json:"pid"`
	Task   string  `json:"task"`
	CPU    int     `json:"cpu"`
	Frames []Frame `json:"frames"`
	Error  string  `json:"error"`
}

// TestFixtureBacktraces: on the fixtures cut with stacks and ORC tables,
// every CPU's backtrace (bt --all) and every D-state task's (bt --state D)
// is, frame for frame, what ktriage unwound on the original dump.
func TestFixtureBacktraces(t *testing.T) {
	n := 0
	for _, f := range dumpFixtures(t) {
		all, err := os.ReadFile(filepath.Join(fixtureDir, f.name+".bt.json"))
		if os.IsNotExist(err) {
			continue // not cut with stacks
		}
		n++
		t.Run(f.name, func(t *testing.T) {
			k := attachFixture(t, f)
			compare := func(what string, want btEntry, frames []Frame, err error) {
				t.Helper()
				gotErr := ""
				if err != nil {
					gotErr = err.Error()
				}
				if frames == nil {
					frames = []Frame{}
				}
				gj, _ := json.Marshal(frames)
				wj, _ := json.Marshal(want.Frames)
				if !bytes.Equal(gj, wj) || gotErr != want.Error {
					t.Errorf("%s: fixture gives %d frames (error %q), original %d (error %q)", what, len(frames), gotErr, len(want.Frames), want.Error)
				}
			}
			var cpus []btEntry
			if err := json.Unmarshal(all, &cpus); err != nil {
				t.Fatal(err)
			}
			if len(cpus) == 0 || len(cpus[0].Frames) < 3 {
				t.Fatalf("bt --all of the original holds %d CPUs: nothing to compare", len(cpus))
			}
			for _, want := range cpus {
				task, frames, err := k.CPUBacktrace(want.CPU)
				if task.PID != want.PID {
					t.Errorf("cpu %d runs pid %d, original %d", want.CPU, task.PID, want.PID)
				}
				compare(fmt.Sprintf("cpu %d", want.CPU), want, frames, err)
			}
			raw, err := os.ReadFile(filepath.Join(fixtureDir, f.name+".bt-D.json"))
			if err != nil {
				t.Fatal(err)
			}
			var blocked []btEntry
			if err := json.Unmarshal(raw, &blocked); err != nil {
				t.Fatal(err)
			}
			tasks, err := k.Tasks()
			if err != nil {
				t.Fatal(err)
			}
			byAddr := map[string]Task{}
			for _, tk := range tasks {
				byAddr[fmt.Sprintf("%x", tk.Addr)] = tk
			}
			for _, want := range blocked {
				tk, ok := byAddr[want.Task]
				if !ok {
					t.Errorf("task %s (pid %d) missing from the fixture's task list", want.Task, want.PID)
					continue
				}
				frames, err := k.Backtrace(tk)
				compare(fmt.Sprintf("pid %d", want.PID), want, frames, err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no fixture carries stacks (NAME.bt.json)")
	}
}
