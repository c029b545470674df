package damage

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The sweep's bounds: a damaged fixture (at most a few MB) must be
// answered by every command in at most maxCPU of CPU time and maxRSS of
// memory (an undamaged fixture takes 0.1-0.3 s and about 60 MiB in
// analyze). deadline is the wall clock after which a command is killed as
// hung: generous, so a machine loaded by other jobs does not fail it.
const (
	deadline = 120 * time.Second
	maxCPU   = 20 * time.Second
	maxRSS   = 512 << 20
)

// TestDamageSweep damages every fixture dump in every way Cases knows and
// checks ktriage's dmesg, info and analyze on each: no panic, no hang,
// memory under maxRSS, no log line changed without a warning where the
// format could tell. In `go test` it runs a sample of each kind of damage
// on one fixture per format (about 200 cases, 30 s on two idle cores);
// KTRIAGE_DAMAGE=full (make damage, make fuzz) runs every case on every
// fixture, KTRIAGE_DAMAGE_SEED picks another sample, and
// KTRIAGE_DAMAGE_ONLY=name,name keeps those fixtures.
func TestDamageSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("the damage sweep runs the ktriage binary on hundreds of inputs")
	}
	full := os.Getenv("KTRIAGE_DAMAGE") == "full"
	seed := int64(13)
	if s, err := strconv.ParseInt(os.Getenv("KTRIAGE_DAMAGE_SEED"), 10, 64); err == nil {
		seed = s
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fixtures, err := Fixtures(repo)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// KTRIAGE_DAMAGE_BIN runs the sweep on another build (an older one, to
	// see what it finds there).
	bin := os.Getenv("KTRIAGE_DAMAGE_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "ktriage")
		build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "./cmd/ktriage")
		build.Dir = repo
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building ktriage: %v\n%s", err, out)
		}
	}
	rng := rand.New(rand.NewSource(seed))
	if only := os.Getenv("KTRIAGE_DAMAGE_ONLY"); only != "" { // fixture names, comma-separated
		var keep []Fixture
		for _, f := range fixtures {
			if strings.Contains(","+only+",", ","+f.Name+",") {
				keep = append(keep, f)
			}
		}
		fixtures = keep
	}
	if !full { // the sample: one fixture of each format
		perFormat := map[string]int{}
		var keep []Fixture
		for _, i := range rng.Perm(len(fixtures)) {
			if f := fixtures[i]; perFormat[f.Format] < 1 {
				perFormat[f.Format]++
				keep = append(keep, f)
			}
		}
		fixtures = keep
	}
	var cases []Case
	for i, f := range fixtures {
		cs, err := Cases(f, full, rng, 3*i)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, cs...)
	}
	r := &Runner{Bin: bin, Dir: dir, Deadline: deadline, MaxCPU: maxCPU, MaxRSS: maxRSS, Workers: runtime.NumCPU()}
	outs, err := r.RunAll(cases)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, o := range outs {
		if len(o.Failures) > 0 {
			failed++
			t.Errorf("%s (%s) %s: %s", o.Case.Fixture.Name, o.Case.Fixture.Format, o.Case.Name, strings.Join(o.Failures, "; "))
		}
	}
	t.Logf("%d cases (seed %d, full %v), %d failed; bounds per command: %d MiB peak RSS, %v CPU, %v wall\n%s",
		len(cases), seed, full, failed, maxRSS>>20, maxCPU, deadline, Report(Summarize(outs)))
}

// TestSetVMCoreInfo: a value is set in place, the file keeps its length,
// and the text still parses to the other keys unchanged.
func TestSetVMCoreInfo(t *testing.T) {
	b, err := os.ReadFile("../../testdata/dumps/sysrq-kdump-lzo.vmcore")
	if err != nil {
		t.Fatal(err)
	}
	n := len(b)
	out, ok := SetVMCoreInfo(append([]byte(nil), b...), "OFFSET(printk_info.caller_id)=123456789")
	if !ok || len(out) != n {
		t.Fatalf("set: ok %v, %d bytes, want %d", ok, len(out), n)
	}
	if !strings.Contains(string(out), "\nOFFSET(printk_info.caller_id)=123456789\n") {
		t.Fatal("the new value is not in the text")
	}
	if strings.Contains(string(out), "OFFSET(printk_info.caller_id)=20\n") {
		t.Fatal("the old value is still there")
	}
	for _, keep := range []string{"OSRELEASE=6.1.0-56-cloud-amd64\n", "SYMBOL(prb)=", "CRASHTIME="} {
		if !strings.Contains(string(out), keep) {
			t.Errorf("%q lost", keep)
		}
	}
}
