package textlog

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

// realLog is one labelled log of testdata/logs/real: what a kernel
// engineer reads in it, written down before ktriage ran on it. "-" (kept
// as "") means the log does not say.
type realLog struct {
	file, half, kind, culprit, module, comm, pid, source string
}

func readRealManifest(t testing.TB) (string, []realLog) {
	t.Helper()
	dir := filepath.Join("..", "testdata", "logs", "real")
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []realLog
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "file\t") || strings.TrimSpace(line) == "" {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 8 {
			t.Fatalf("manifest.tsv: %q has %d columns, want 8", line, len(c))
		}
		for i := range c {
			if c[i] == "-" {
				c[i] = ""
			}
		}
		out = append(out, realLog{c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return dir, out
}

// realVerdict is what ktriage said of one log, in the manifest's terms.
type realVerdict struct {
	title, kind, culprit, module, comm, pid string
}

func judgeReal(in *incident.Incident) realVerdict {
	v := realVerdict{title: in.Title}
	var named *incident.Report
	for i := range in.Reports {
		if in.Reports[i].Title == in.Title {
			named = &in.Reports[i]
			break
		}
	}
	if named != nil {
		v.kind, v.culprit, v.module = named.Kind, named.Culprit, named.Fields["culprit_module"]
		v.comm = named.Comm
		if named.PID != nil {
			v.pid = strconv.Itoa(*named.PID)
		}
	}
	if p := in.Panic; p != nil {
		if p.Kind != "" {
			v.kind = p.Kind
		}
		// The task the incident is about is the named report's (a hung
		// task's is the blocked task); the panic's (khungtaskd, as crash
		// shows it) when the report names none.
		if v.comm == "" && p.Comm != "" {
			v.comm = p.Comm
			v.pid = ""
			if p.PID != nil {
				v.pid = strconv.Itoa(*p.PID)
			}
		}
	}
	if v.kind == "" && len(in.HardwareErrs) > 0 {
		v.kind = incident.KindHardwareError
		if in.HardwareErrs[0].Source == "MCE" {
			v.kind = incident.KindMCE
		}
	}
	return v
}

// tally counts agreement on one field.
type tally struct{ agree, of int }

func (t *tally) add(ok bool) {
	t.of++
	if ok {
		t.agree++
	}
}

func (t tally) rate() float64 {
	if t.of == 0 {
		return 1
	}
	return float64(t.agree) / float64(t.of)
}

func (t tally) String() string {
	return fmt.Sprintf("%d/%d = %.0f%%", t.agree, t.of, 100*t.rate())
}

// TestRealLogs measures, on logs from public bug threads, how often the
// incident names the culprit, task and kind a kernel engineer reads in
// them. The thresholds hold on the tuning half; the held-out half is
// measured and reported, never tuned on.
func TestRealLogs(t *testing.T) {
	dir, logs := readRealManifest(t)
	type score struct{ culprit, module, task, kind, titled tally }
	scores := map[string]*score{"tune": {}, "held": {}}
	for _, l := range logs {
		s := scores[l.half]
		if s == nil {
			t.Fatalf("%s: half %q is neither tune nor held", l.file, l.half)
		}
		in, err := ParseFile(filepath.Join(dir, l.file))
		if err != nil {
			t.Errorf("%s: %v", l.file, err)
			continue
		}
		v := judgeReal(in)
		var miss []string
		check := func(tl *tally, field, want, got string) {
			ok := want == got
			tl.add(ok)
			if !ok {
				miss = append(miss, fmt.Sprintf("%s %q (want %q)", field, got, want))
			}
		}
		s.titled.add(v.title != "")
		if v.title == "" {
			miss = append(miss, "no title")
		}
		if l.kind != "" {
			check(&s.kind, "kind", l.kind, v.kind)
		}
		if l.culprit != "" {
			check(&s.culprit, "culprit", l.culprit, v.culprit)
			check(&s.module, "module", l.module, v.module)
		}
		if l.comm != "" {
			want, got := l.comm, v.comm
			if l.pid != "" {
				want, got = l.comm+"/"+l.pid, v.comm+"/"+v.pid
			}
			check(&s.task, "task", want, got)
		}
		if len(miss) > 0 {
			t.Logf("%s [%s] %q: %s", l.file, l.half, v.title, strings.Join(miss, ", "))
		}
	}
	for _, half := range []string{"tune", "held"} {
		s := scores[half]
		t.Logf("%s: culprit %v, module %v, task %v, kind %v, titled %v", half, s.culprit, s.module, s.task, s.kind, s.titled)
	}
	s := scores["tune"]
	for _, c := range []struct {
		name  string
		tl    tally
		floor float64
	}{{"culprit", s.culprit, 0.85}, {"task", s.task, 0.85}, {"kind", s.kind, 0.90}, {"title present", s.titled, 1}} {
		if c.tl.rate() < c.floor {
			t.Errorf("tuning half: %s agreement %v is below %.0f%%", c.name, c.tl, 100*c.floor)
		}
	}
}

// A WARNING whose header names only the list checker that fired on its
// caller's behalf ("at lib/list_debug.c:29 __list_add_valid_or_report")
// names no culprit when the paste lost the stack: the checker is not it.
func TestCheckerHeaderNamesNoCulprit(t *testing.T) {
	in, err := ParseFile(filepath.Join("..", "testdata", "logs", "real", "119-bcachefs-list-add-warning-checker-header.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Reports) != 1 {
		t.Fatalf("%d reports", len(in.Reports))
	}
	r := in.Reports[0]
	if r.Kind != incident.KindListCorrupt || r.Culprit != "" || r.Fields["culprit_from"] != "" {
		t.Errorf("kind %q culprit %q (from %q), want list-corruption and none", r.Kind, r.Culprit, r.Fields["culprit_from"])
	}
}
