package fleet

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ktriage/ktriage/crashdir"
	"github.com/ktriage/ktriage/crashdir/store"
)

// hostileResult is a batch whose kernel strings try to break every format.
func hostileResult() *crashdir.FleetResult {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	rows := []store.Row{
		{Key: "a", Path: "/var/crash/<img src=x onerror=alert(1)>/vmcore", Host: "h|1", Release: "6.1.0-56",
			Time: t0, Status: store.StatusOK, Title: "BUG: <script>alert(1)</script> in `evil_fn` | *x*",
			Findings: []store.FindingRef{{ID: "f1", Title: "Finding <b>bold</b>", Severity: "high", Applies: "affected"}}},
		{Key: "b", Path: "/var/crash/b/vmcore", Host: "h2", Release: "6.1.0-57", Time: t0.Add(48 * time.Hour),
			Status: store.StatusOK, Title: "BUG: <script>alert(1)</script> in `evil_fn` | *x*",
			Findings: []store.FindingRef{{ID: "f1", Title: "Finding <b>bold</b>", Severity: "high", Applies: "fixed"}}},
		{Key: "c", Path: "/var/crash/c/vmcore", Status: store.Failed("not a crash dump: <script>")},
	}
	res := &crashdir.FleetResult{Skipped: []crashdir.Skipped{{Path: "/x/<y>", Reason: "neither"}}}
	for _, r := range rows {
		res.Results = append(res.Results, crashdir.Result{Row: r})
	}
	res.Summary = crashdir.Summarize(res.Rows())
	return res
}

func TestHTMLEscapesKernelStrings(t *testing.T) {
	var b strings.Builder
	if err := WriteReport(&b, hostileResult(), "html"); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>bold"} {
		if strings.Contains(page, bad) {
			t.Errorf("HTML report carries %q unescaped", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("HTML report lost the escaped title")
	}
	if n := strings.Count(page, "<script>"); n != 1 {
		t.Errorf("HTML report has %d script elements, want only its own sorting script", n)
	}
	if strings.Contains(page, "src=\"http") || strings.Contains(page, "href=\"http") {
		t.Errorf("HTML report loads an external asset")
	}
	if !strings.Contains(page, "<svg") || !strings.Contains(page, "<rect") {
		t.Errorf("HTML report has no chart")
	}
}

func TestMarkdownEscapesCells(t *testing.T) {
	var b strings.Builder
	if err := WriteReport(&b, hostileResult(), "markdown"); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		// Every table row has as many unescaped pipes as its header.
		cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cells != 7 && cells != 8 && cells != 9 {
			t.Errorf("table row with %d cell separators (a kernel string broke it): %s", cells, line)
		}
	}
	if strings.Contains(b.String(), "<script>") {
		t.Errorf("markdown carries raw HTML from a kernel string")
	}
}

func TestJSONLinesKeepTheIncidentContract(t *testing.T) {
	var b strings.Builder
	res := hostileResult()
	if err := WriteReport(&b, res, "jsonl"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(res.Results) {
		t.Fatalf("%d lines for %d crashes", len(lines), len(res.Results))
	}
	for _, l := range lines {
		var v struct {
			Title  string         `json:"title"`
			Source map[string]any `json:"source"`
			Fleet  store.Row      `json:"fleet"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("bad JSON line %s: %v", l, err)
		}
		if v.Source["path"] == "" || v.Fleet.Status.Kind == "" || v.Title != v.Fleet.Title {
			t.Errorf("line lacks the contract fields: %s", l)
		}
		// The status stays one string in JSON, whatever its Go type.
		if v.Fleet.Failed() && !strings.Contains(l, `"status":"failed: not a crash dump`) {
			t.Errorf("failed row's status is not the plain string: %s", l)
		}
	}
}

func TestSummaryGroupsAndKernelVerdicts(t *testing.T) {
	s := hostileResult().Summary
	if s.Total != 3 || s.Failed != 1 || len(s.Broken) != 1 {
		t.Errorf("counts: %+v", s)
	}
	if len(s.ByTitle) != 1 || s.ByTitle[0].Count != 2 || len(s.ByTitle[0].Hosts) != 2 {
		t.Fatalf("by title: %+v", s.ByTitle)
	}
	g := s.ByTitle[0]
	if !g.First.Equal(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)) || !g.Last.Equal(g.First.Add(48*time.Hour)) {
		t.Errorf("first/last seen: %v %v", g.First, g.Last)
	}
	if len(g.PerDay) != 2 {
		t.Errorf("per day: %v", g.PerDay)
	}
	if len(s.ByFinding) != 1 {
		t.Fatalf("by finding: %+v", s.ByFinding)
	}
	f := s.ByFinding[0]
	if strings.Join(f.Affected, ",") != "6.1.0-56" || strings.Join(f.Fixed, ",") != "6.1.0-57" {
		t.Errorf("affected %v, fixed %v", f.Affected, f.Fixed)
	}
}

func TestSince(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d":                  now.AddDate(0, 0, -30),
		"2w":                   now.AddDate(0, 0, -14),
		"36h":                  now.Add(-36 * time.Hour),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T10:00:00Z": time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := crashdir.ParseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-3d", "d", "2026-13-01"} {
		if _, err := crashdir.ParseSince(bad, now); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
	rows := hostileResult().Rows()
	if got := crashdir.Since(rows, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)); len(got) != 1 || got[0].Key != "b" {
		t.Errorf("Since kept %+v, want only the row of the 22nd", got)
	}
}

// Skipped files are grouped by reason in every format: a tree of 170 tool
// outputs is one line with a few examples, not 170.
func TestSkippedFilesGroupedByReason(t *testing.T) {
	res := hostileResult()
	res.Skipped = nil
	for i := 0; i < 170; i++ {
		res.Skipped = append(res.Skipped, crashdir.Skipped{Path: fmt.Sprintf("/var/crash/a/crash-8.0.2/out%d.txt", i), Reason: "neither a crash dump nor a kernel log"})
	}
	res.Skipped = append(res.Skipped, crashdir.Skipped{Path: "/var/crash/b/vmcore.zst", Reason: "a zstd-compressed dump that cannot be unpacked: unexpected EOF"})
	for _, format := range []string{"text", "markdown", "html"} {
		var b strings.Builder
		if err := WriteReport(&b, res, format); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !strings.Contains(out, "170") || !strings.Contains(out, "167 more") || strings.Contains(out, "out100.txt") {
			t.Errorf("%s: the 170 skipped files are not one group with examples:\n%s", format, out[max(0, strings.Index(out, "kipped")-20):])
		}
		if strings.Contains(out, "crashdir.") {
			t.Errorf("%s: a Go identifier leaked into the report", format)
		}
	}
}
