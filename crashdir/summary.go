package crashdir

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ktriage/ktriage/crashdir/store"
)

// NoTitle labels crashes whose incident names no crash (a log without a
// kernel report, a dump whose log was unreadable).
const NoTitle = "(no crash report found)"

// Summary answers the fleet's questions: which bugs hit us, how often, on
// which hosts and kernels, since when, and whether the fix is rolled out.
type Summary struct {
	Total    int `json:"total"`
	Analyzed int `json:"analyzed"`
	Reused   int `json:"reused"`
	LogOnly  int `json:"log_only"`
	Failed   int `json:"failed"`
	// Interrupted counts crashes a cancelled batch never reached.
	Interrupted int `json:"interrupted,omitempty"`
	// ByTitle groups crashes by their title, the signature kernel
	// developers use; ByFinding by the rule that explains them.
	ByTitle   []Group `json:"by_title"`
	ByFinding []Group `json:"by_finding"`
	// Broken are the crashes whose dump could not be read: failed rows and
	// rows that fell back to the log.
	Broken []store.Row `json:"broken,omitempty"`
	// First and Last bound the crash times of the whole fleet.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	// Hosts is how many hosts crashed; ByHost and ByKernel count the
	// crashes (failed ones aside) per host and per kernel release, most
	// first: the repeat offenders and the kernels to look at.
	Hosts    int     `json:"hosts"`
	ByHost   []Count `json:"by_host,omitempty"`
	ByKernel []Count `json:"by_kernel,omitempty"`
	// New counts the crashes first seen at or after NewSince: in a batch,
	// the crashes this run found that no run before it had (zero on the
	// first run, with nothing to compare with); from the store, the ones
	// the latest run found.
	New      int       `json:"new"`
	NewSince time.Time `json:"new_since,omitzero"`
}

// Count is a host or a kernel and its crashes.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
	New   int    `json:"new,omitempty"`
}

// Group is one signature and where it struck.
type Group struct {
	Key      string   `json:"key"`
	Label    string   `json:"label"`
	Severity string   `json:"severity,omitempty"`
	Count    int      `json:"count"`
	Hosts    []string `json:"hosts"`
	Kernels  []string `json:"kernels"`
	// First and Last seen; zero when no crash of the group has a time.
	First time.Time `json:"first_seen,omitzero"`
	Last  time.Time `json:"last_seen,omitzero"`
	// Affected, Fixed and Unknown split Kernels by the finding's verdict on
	// each (finding groups only): a fixed kernel still crashing here means
	// the fix is not the whole story, an affected one that the update is
	// not rolled out.
	Affected []string `json:"affected_kernels,omitempty"`
	Fixed    []string `json:"fixed_kernels,omitempty"`
	Unknown  []string `json:"unknown_kernels,omitempty"`
	// PerDay counts crashes per UTC day ("2006-01-02"), for the charts.
	PerDay map[string]int `json:"per_day,omitempty"`
	// Titles of the crashes a finding explains (finding groups only).
	Titles []string `json:"titles,omitempty"`
	// New counts the group's crashes first seen since the previous run;
	// NewSignature is set when all of them are (a crash never seen before).
	New          int  `json:"new,omitempty"`
	NewSignature bool `json:"new_signature,omitempty"`
	// FirstOnKernels are the kernels this signature struck for the first
	// time since the previous run, having struck others before: a
	// regression, or a fix that did not hold.
	FirstOnKernels []string `json:"first_on_kernels,omitempty"`
}

type groupBuilder struct {
	g                                    Group
	hosts, kernels, affected, fixed, unk map[string]bool
	titles                               map[string]bool
	// oldKernels are the kernels with a crash of the group from before the
	// previous run.
	oldKernels map[string]bool
}

func newGroupBuilder(key, label string) *groupBuilder {
	return &groupBuilder{g: Group{Key: key, Label: label, PerDay: map[string]int{}},
		hosts: map[string]bool{}, kernels: map[string]bool{}, affected: map[string]bool{},
		fixed: map[string]bool{}, unk: map[string]bool{}, titles: map[string]bool{}, oldKernels: map[string]bool{}}
}

func (b *groupBuilder) add(r *store.Row, isNew bool) {
	b.g.Count++
	if isNew {
		b.g.New++
	} else {
		b.oldKernels[r.Release] = true
	}
	if r.Host != "" {
		b.hosts[r.Host] = true
	}
	if r.Release != "" {
		b.kernels[r.Release] = true
	}
	if !r.Time.IsZero() {
		if b.g.First.IsZero() || r.Time.Before(b.g.First) {
			b.g.First = r.Time
		}
		if r.Time.After(b.g.Last) {
			b.g.Last = r.Time
		}
		b.g.PerDay[r.Time.UTC().Format(time.DateOnly)]++
	}
}

func (b *groupBuilder) build() Group {
	g := b.g
	g.Hosts, g.Kernels = sortedKeys(b.hosts), sortedKeys(b.kernels)
	g.Affected, g.Fixed, g.Unknown = sortedKeys(b.affected), sortedKeys(b.fixed), sortedKeys(b.unk)
	g.Titles = sortedKeys(b.titles)
	g.NewSignature = g.New > 0 && g.New == g.Count
	if len(b.oldKernels) > 0 && g.New > 0 {
		for _, k := range g.Kernels {
			if !b.oldKernels[k] {
				g.FirstOnKernels = append(g.FirstOnKernels, k)
			}
		}
	}
	if len(g.PerDay) == 0 {
		g.PerDay = nil
	}
	return g
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SummarizeRun groups rows by title and by finding, with the crashes first
// seen at or after newSince counted and flagged as new (none when it is
// zero). Failed rows are counted and listed as broken but belong to no
// group: they have no verdict.
func SummarizeRun(rows []store.Row, newSince time.Time) Summary {
	s := Summary{Total: len(rows), NewSince: newSince}
	hosts, kernels := map[string]*Count{}, map[string]*Count{}
	byTitle := map[string]*groupBuilder{}
	byFinding := map[string]*groupBuilder{}
	for i := range rows {
		r := &rows[i]
		if r.Status == store.StatusInterrupted {
			s.Interrupted++
			continue
		}
		switch {
		case r.Failed():
			s.Failed++
		case r.Reused:
			s.Reused++
		default:
			s.Analyzed++
		}
		if r.LogOnly() {
			s.LogOnly++
		}
		if r.Failed() || r.LogOnly() {
			s.Broken = append(s.Broken, *r)
		}
		if r.Failed() {
			continue
		}
		if !r.Time.IsZero() {
			if s.First.IsZero() || r.Time.Before(s.First) {
				s.First = r.Time
			}
			if r.Time.After(s.Last) {
				s.Last = r.Time
			}
		}
		isNew := !newSince.IsZero() && !r.FirstSeen.Before(newSince)
		if isNew {
			s.New++
		}
		countIn(hosts, r.Host, isNew)
		countIn(kernels, r.Release, isNew)
		title := r.Title
		if title == "" {
			title = NoTitle
		}
		tb := byTitle[title]
		if tb == nil {
			tb = newGroupBuilder(title, title)
			byTitle[title] = tb
		}
		tb.add(r, isNew)
		seen := map[string]bool{}
		for _, f := range r.Findings {
			if seen[f.ID] {
				continue
			}
			seen[f.ID] = true
			fb := byFinding[f.ID]
			if fb == nil {
				fb = newGroupBuilder(f.ID, f.Title)
				fb.g.Severity = f.Severity
				byFinding[f.ID] = fb
			}
			fb.add(r, isNew)
			fb.titles[title] = true
			if r.Release != "" {
				switch f.Applies {
				case "affected":
					fb.affected[r.Release] = true
				case "fixed":
					fb.fixed[r.Release] = true
				default:
					fb.unk[r.Release] = true
				}
			}
		}
	}
	s.ByTitle = buildGroups(byTitle)
	s.ByFinding = buildGroups(byFinding)
	s.ByHost, s.ByKernel = sortedCounts(hosts), sortedCounts(kernels)
	s.Hosts = len(s.ByHost)
	return s
}

func countIn(m map[string]*Count, key string, isNew bool) {
	if key == "" {
		return
	}
	c := m[key]
	if c == nil {
		c = &Count{Key: key}
		m[key] = c
	}
	c.Count++
	if isNew {
		c.New++
	}
}

// sortedCounts orders counts most first, then by name.
func sortedCounts(m map[string]*Count) []Count {
	out := make([]Count, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// buildGroups orders groups by count, most frequent first, then by the
// latest crash, then by key.
func buildGroups(m map[string]*groupBuilder) []Group {
	out := make([]Group, 0, len(m))
	for _, b := range m {
		out = append(out, b.build())
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if !a.Last.Equal(b.Last) {
			return a.Last.After(b.Last)
		}
		return a.Key < b.Key
	})
	return out
}

// ParseSince reads a --since value: a duration back from now ("36h", "30d",
// "2w") or a date ("2026-11-01", "2026-11-01T10:00:00Z").
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	}
	if unit != 0 {
		if n, err := strconv.Atoi(strings.TrimSpace(s[:len(s)-1])); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * unit), nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: give a duration (36h, 30d, 2w) or a date (2026-11-01)", s)
}
