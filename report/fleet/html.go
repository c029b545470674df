package fleet

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/ktriage/ktriage/crashdir"
	"github.com/ktriage/ktriage/crashdir/store"
)

//go:embed fleet.html.tmpl
var fleetHTML string

// The page is one file: CSS, the sorting script and the SVG charts are
// inline, and html/template escapes every kernel string (titles and paths
// can hold anything a log printed).
// Parsed on first use, not at start-up, which every command pays for.
var fleetTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("fleet").Funcs(template.FuncMap{
		"join":      joinOrDash,
		"dash":      orDash,
		"day":       fmtDay,
		"when":      fmtTime,
		"sub":       func(a, b int) int { return a - b },
		"hostsCell": func(g crashdir.Group) string { return hostsCell(&g) },
		"flags":     func(g crashdir.Group) string { return flags(&g) },
		"capK":      func(xs []string) string { return capped(xs, kernelsShown) },
		"iso": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
	}).Parse(fleetHTML))
})

// Chart geometry, in pixels: wide enough to read a month of days.
const (
	chartWidth   = 640
	chartHeight  = 34
	maxBarWidth  = 24
	maxChartDays = 120 // beyond this, bars are weeks (beyond two years, 30 days)
	maxCharts    = 15  // titles drawn, most frequent first; the table lists them all
	topListed    = 20  // hosts and kernels in the overview tables
	// Crashes further than fenceIQRs interquartile ranges (at least a week)
	// before the first quartile or after the third are left off the chart's
	// axis: one log from years ago must not squeeze the rest into one bar.
	fenceIQRs = 3
)

type htmlPage struct {
	Headline, Period, Generated string
	S                           crashdir.Summary
	Rows                        []htmlRow
	Skipped                     []crashdir.SkipGroup
	Charts                      []htmlChart
	Bucket                      string // "day" or "week"
	FirstBucket, LastBucket     string
	ChartW                      int
	ShowRows, ShowGroups        bool
	ShowProblems                bool
	NewLine                     string
	Hosts, Kernels              []crashdir.Count
	MoreHosts, MoreKernels      int
	// Outside counts the crashes the chart's axis leaves off; MoreCharts
	// the titles not drawn.
	Outside, MoreCharts int
	OutsideFirst        string
	Broken              []store.Row
	MoreBroken          int
}

type htmlRow struct {
	store.Row
	DisplayTitle, StatusClass, StatusWord string
}

type htmlChart struct {
	Label string
	All   bool // the whole fleet, drawn first
	Total int
	W, H  int
	Bars  []htmlBar
}

type htmlBar struct {
	X, Y, W, H int
	Tip        string
}

func writeHTML(w io.Writer, res *crashdir.FleetResult, show sections) error {
	p := htmlPage{Headline: headline(res), Period: period(res.Summary), S: res.Summary, Skipped: crashdir.GroupSkipped(res.Skipped),
		ShowRows: show&showRows != 0, ShowGroups: show&showGroups != 0, ShowProblems: show&showProblems != 0,
		Generated: time.Now().UTC().Format("2006-01-02 15:04 UTC"), NewLine: newLine(res)}
	s := res.Summary
	p.Hosts, p.MoreHosts = s.ByHost[:min(len(s.ByHost), topListed)], max(0, len(s.ByHost)-topListed)
	p.Kernels, p.MoreKernels = s.ByKernel[:min(len(s.ByKernel), topListed)], max(0, len(s.ByKernel)-topListed)
	p.Broken, p.MoreBroken = s.Broken[:min(len(s.Broken), brokenShown)], max(0, len(s.Broken)-brokenShown)
	for i := range res.Results {
		r := res.Results[i].Row
		class := "ok"
		switch {
		case r.Failed():
			class = "failed"
		case r.LogOnly(), r.Status == store.StatusInterrupted:
			class = "log-only"
		}
		p.Rows = append(p.Rows, htmlRow{Row: r, DisplayTitle: titleOf(&r), StatusClass: class, StatusWord: statusWord(&r)})
	}
	p.charts(res.Summary, res.Since)
	return fleetTemplate().Execute(w, p)
}

// charts draws, per title, the crashes per day (per week over long spans)
// on one shared time axis, the whole fleet first. Each row is scaled to its
// own peak so a rare crash stays visible; the count beside it gives scale.
func (p *htmlPage) charts(s crashdir.Summary, since time.Time) {
	if s.First.IsZero() {
		return
	}
	all := map[string]int{}
	for _, g := range s.ByTitle {
		for d, c := range g.PerDay {
			all[d] += c
		}
	}
	first, last := chartWindow(all, since)
	for day, c := range all {
		if t, err := time.Parse(time.DateOnly, day); err == nil && (t.Before(first) || t.After(last)) {
			p.Outside += c
			if p.OutsideFirst == "" || day < p.OutsideFirst {
				p.OutsideFirst = day
			}
		}
	}
	step := 24 * time.Hour
	p.Bucket = "day"
	switch span := last.Sub(first); {
	case span > 2*365*24*time.Hour:
		step, p.Bucket = 30*24*time.Hour, "30 days"
	case span > maxChartDays*24*time.Hour:
		step, p.Bucket = 7*24*time.Hour, "week"
	}
	n := int(last.Sub(first)/step) + 1
	barW := min(maxBarWidth, max(2, chartWidth/n))
	p.ChartW = n * barW
	p.FirstBucket = first.Format(time.DateOnly)
	p.LastBucket = first.Add(time.Duration(n-1) * step).Format(time.DateOnly)

	bucketsOf := func(perDay map[string]int) []int {
		b := make([]int, n)
		for day, c := range perDay {
			t, err := time.Parse(time.DateOnly, day)
			if err != nil {
				continue
			}
			if i := int(t.Sub(first) / step); i >= 0 && i < n {
				b[i] += c
			}
		}
		return b
	}
	draw := func(label string, perDay map[string]int, total int, isAll bool) htmlChart {
		ch := htmlChart{Label: label, All: isAll, Total: total, W: p.ChartW, H: chartHeight}
		buckets := bucketsOf(perDay)
		peak := 1 // each row scales to its own peak, like a sparkline; the total says how many
		for _, c := range buckets {
			peak = max(peak, c)
		}
		for i, c := range buckets {
			if c == 0 {
				continue
			}
			h := max(2, c*(chartHeight-2)/peak)
			day := first.Add(time.Duration(i) * step).Format(time.DateOnly)
			ch.Bars = append(ch.Bars, htmlBar{X: i * barW, Y: chartHeight - h, W: max(1, barW-1), H: h,
				Tip: fmt.Sprintf("%s: %d crash%s", day, c, plural(c, "es"))})
		}
		return ch
	}
	total := 0
	for _, c := range all {
		total += c
	}
	p.Charts = append(p.Charts, draw("all crashes", all, total, true))
	for _, g := range s.ByTitle {
		if len(g.PerDay) == 0 {
			continue
		}
		if len(p.Charts) > maxCharts {
			p.MoreCharts++
			continue
		}
		p.Charts = append(p.Charts, draw(g.Label, g.PerDay, g.Count, false))
	}
}

// chartWindow is the span of days the chart draws: from since when given,
// else from the lower fence (fenceIQRs interquartile ranges before the
// first quartile of crash days), to the upper fence, within the crashes'
// own first and last day.
func chartWindow(perDay map[string]int, since time.Time) (first, last time.Time) {
	type dayCount struct {
		t time.Time
		n int
	}
	var days []dayCount
	total := 0
	for d, c := range perDay {
		if t, err := time.Parse(time.DateOnly, d); err == nil {
			days = append(days, dayCount{t, c})
			total += c
		}
	}
	if len(days) == 0 {
		return
	}
	sort.Slice(days, func(i, j int) bool { return days[i].t.Before(days[j].t) })
	quantile := func(q float64) time.Time {
		seen := 0
		for _, d := range days {
			seen += d.n
			if float64(seen) >= q*float64(total) {
				return d.t
			}
		}
		return days[len(days)-1].t
	}
	q1, q3 := quantile(0.25), quantile(0.75)
	iqr := max(q3.Sub(q1), 7*24*time.Hour)
	lo, hi := q1.Add(-fenceIQRs*iqr), q3.Add(fenceIQRs*iqr)
	if !since.IsZero() {
		lo = since.UTC().Truncate(24 * time.Hour)
	}
	first, last = days[0].t, days[len(days)-1].t
	for _, d := range days {
		if !d.t.Before(lo) {
			first = d.t
			break
		}
	}
	if !since.IsZero() {
		first = lo
	}
	for i := len(days) - 1; i >= 0; i-- {
		if !days[i].t.After(hi) {
			last = days[i].t
			break
		}
	}
	return first, last
}

func plural(n int, suffix string) string {
	if n == 1 {
		return ""
	}
	return suffix
}
