package textlog

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedDir finds ../shared beside the repository root, or skips.
func sharedDir(t testing.TB, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s absent (clone the shared material beside the repository): %v", p, err)
	}
	return p
}

// syzReport is one file of the syzkaller corpus: header lines, a blank
// line, then the console text.
type syzReport struct {
	name, title, body string
}

func readSyzkaller(t testing.TB) []syzReport {
	dir := sharedDir(t, "corpus/syzkaller")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []syzReport
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		head, body, _ := strings.Cut(string(data), "\n\n")
		r := syzReport{name: e.Name(), body: body}
		sc := bufio.NewScanner(strings.NewReader(head))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "TITLE: "); ok {
				r.title = v
			}
		}
		if r.title != "" {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// firstTitle is the title of the first report textlog finds in a text.
func firstTitle(t testing.TB, body string) string {
	in, err := Parse(strings.NewReader(body), "corpus")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Reports) == 0 {
		return ""
	}
	return in.Reports[0].Title
}

// TestSyzkallerTitles measures how often ktriage's title agrees with the
// reference title of real reports collected by syzkaller.
func TestSyzkallerTitles(t *testing.T) {
	reports := readSyzkaller(t)
	agree := 0
	for _, r := range reports {
		got := firstTitle(t, r.body)
		if got == r.title {
			agree++
			continue
		}
		t.Logf("%s: got %q, want %q", r.name, got, r.title)
	}
	rate := float64(agree) / float64(len(reports))
	t.Logf("syzkaller title agreement: %d/%d = %.1f%%", agree, len(reports), 100*rate)
	if rate < 0.85 {
		t.Errorf("title agreement %.1f%% is below the 85%% floor", 100*rate)
	}
}
