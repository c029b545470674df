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
	res.Summary = crashdir.SummarizeRun(res.Rows(), time.Time{})
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
	header := 0 // separators of the current table's header row
	for _, line := range strings.Split(b.String(), "\n") {
		if !strings.HasPrefix(line, "| ") {
			header = 0
			continue
		}
		// Every table row has as many unescaped pipes as its header.
		cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if header == 0 {
			header = cells
		} else if cells != header {
			t.Errorf("table row with %d cell separators, its header %d (a kernel string broke it): %s", cells, header, line)
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
	res := hostileResult()
	res.KeepSince(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
	if got := res.Rows(); len(got) != 1 || got[0].Key != "b" {
		t.Errorf("KeepSince kept %+v, want only the row of the 22nd", got)
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

// scaleResult is a fleet of n crashes of one title on many hosts, one of
// them years older than the rest, a second title new since the previous
// run, and the first title struck a new kernel since then.
func scaleResult(n int) *crashdir.FleetResult {
	prev := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	var rows []store.Row
	for i := 0; i < n; i++ {
		r := store.Row{Key: fmt.Sprint(i), Path: fmt.Sprintf("/a/host%d/vmcore", i%40), Host: fmt.Sprintf("host%02d", i%40),
			Release: "6.1.0-56", Title: "BUG: old one", Status: store.StatusOK,
			Time: time.Date(2026, 11, 1+i%28, 10, 0, 0, 0, time.UTC), FirstSeen: prev.Add(-time.Hour)}
		switch {
		case i == 0:
			r.Time = time.Date(2019, 3, 2, 0, 0, 0, 0, time.UTC)
		case i%10 == 1:
			r.Title, r.FirstSeen = "BUG: brand new", prev.Add(time.Hour)
		case i%10 == 2:
			r.Release, r.FirstSeen = "6.1.0-57", prev.Add(time.Hour)
		}
		rows = append(rows, r)
	}
	res := &crashdir.FleetResult{PreviousRun: prev.Add(-24 * time.Hour), NewSince: prev}
	for _, r := range rows {
		res.Results = append(res.Results, crashdir.Result{Row: r})
	}
	res.Summary = crashdir.SummarizeRun(rows, prev)
	return res
}

// At scale the report stays readable: host lists are cut short with their
// count, new signatures and first-on-kernel flags are shown, hosts and
// kernels are counted, and one crash from years before is left off the
// chart's axis (and said so) instead of squeezing the rest into one bar.
func TestReportAtScale(t *testing.T) {
	res := scaleResult(400)
	s := res.Summary
	if s.Hosts != 40 || len(s.ByKernel) != 2 || s.ByKernel[0].Key != "6.1.0-56" || s.New != 80 {
		t.Errorf("hosts %d, kernels %+v, new %d; want 40 hosts, 6.1.0-56 first, 80 new", s.Hosts, s.ByKernel, s.New)
	}
	var text strings.Builder
	if err := WriteReport(&text, res, "text"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"36 hosts: host00, host02, host03 +33 more", "NEW", "first on 6.1.0-57",
		"80 new since the previous run (2026-11-24 00:00 UTC)", "Hosts: 40; most crashes: host00 (10)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	var page strings.Builder
	if err := WriteReport(&page, res, "html"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 crash(es) far outside", "earliest 2019-03-02", "Crashes per day", `class="sortable paged"`,
		`<span class="badge new">new</span>`, "first on 6.1.0-57"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	// With --since, the axis starts there and nothing is left off.
	since := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	res.KeepSince(since)
	page.Reset()
	if err := WriteReport(&page, res, "html"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "<span>2026-11-10</span>") || strings.Contains(page.String(), "far outside") {
		t.Errorf("with --since the chart does not start at 2026-11-10")
	}
}
