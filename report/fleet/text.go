package fleet

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ktriage/ktriage/crashdir"
	"github.com/ktriage/ktriage/crashdir/store"
)

// Formats are the fleet report formats WriteReport knows.
var Formats = []string{"text", "markdown", "jsonl", "html"}

// sections choose the parts of a fleet report.
type sections int

const (
	showRows     sections = 1 << iota // one row per crash
	showGroups                        // by title, by finding
	showProblems                      // unreadable dumps, skipped files
	showAll      = showRows | showGroups | showProblems
)

// WriteReport renders a batch: a row per crash, the summary by title and by
// finding, and the dumps that could not be read.
func WriteReport(w io.Writer, res *crashdir.FleetResult, format string) error {
	return render(w, res, format, showAll)
}

// WriteHistory renders only the crash rows (`ktriage history`).
func WriteHistory(w io.Writer, res *crashdir.FleetResult, format string) error {
	return render(w, res, format, showRows)
}

// WriteSummary renders only the groups and problems (`ktriage summary`);
// in JSON Lines it is one object, the crashdir.Summary.
func WriteSummary(w io.Writer, res *crashdir.FleetResult, format string) error {
	return render(w, res, format, showGroups|showProblems)
}

func render(w io.Writer, res *crashdir.FleetResult, format string, show sections) error {
	switch format {
	case "text", "":
		return writeText(w, res, show)
	case "markdown", "md":
		return writeMarkdown(w, res, show)
	case "jsonl", "json":
		if show&showRows == 0 {
			return writeSummaryJSON(w, res)
		}
		return writeJSONLines(w, res)
	case "html":
		return writeHTML(w, res, show)
	}
	return fmt.Errorf("unknown fleet report format %q (use %s)", format, strings.Join(Formats, ", "))
}

// headline is the batch in one sentence.
func headline(res *crashdir.FleetResult) string {
	s := res.Summary
	if res.FromStore {
		return fmt.Sprintf("%d crashes in the store: %d from the log only, %d failed", s.Total, s.LogOnly, s.Failed)
	}
	line := fmt.Sprintf("%d crashes: %d analyzed, %d reused from the store, %d from the log only, %d failed",
		s.Total, s.Analyzed, s.Reused, s.LogOnly, s.Failed)
	if res.Interrupted {
		line += fmt.Sprintf("; interrupted, %d not analyzed", s.Interrupted)
	}
	return line
}

func period(s crashdir.Summary) string {
	if s.First.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s to %s UTC", s.First.UTC().Format("2006-01-02 15:04"), s.Last.UTC().Format("2006-01-02 15:04"))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func fmtDay(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinOrDash(xs []string) string { return orDash(strings.Join(xs, ", ")) }

// Lists of hosts and kernels in a table cell are cut short: at a fleet's
// scale one signature strikes hundreds of hosts, and the title beside them
// must stay readable.
const (
	hostsShown   = 3
	kernelsShown = 4
	topShown     = 10 // hosts and kernels listed in the overview
	brokenShown  = 50 // unreadable dumps listed one by one
)

// capped joins the first n of xs and says how many more there are.
func capped(xs []string, n int) string {
	if len(xs) <= n {
		return joinOrDash(xs)
	}
	return fmt.Sprintf("%s +%d more", strings.Join(xs[:n], ", "), len(xs)-n)
}

// hostsCell is a group's hosts for a table: how many, and the first few.
func hostsCell(g *crashdir.Group) string {
	if len(g.Hosts) <= hostsShown {
		return joinOrDash(g.Hosts)
	}
	return fmt.Sprintf("%d hosts: %s", len(g.Hosts), capped(g.Hosts, hostsShown))
}

// flags marks a group that is new since the previous run, or that struck
// a kernel for the first time.
func flags(g *crashdir.Group) string {
	var f []string
	switch {
	case g.NewSignature:
		f = append(f, "NEW")
	case g.New > 0:
		f = append(f, fmt.Sprintf("+%d new", g.New))
	}
	if len(g.FirstOnKernels) > 0 {
		f = append(f, "first on "+capped(g.FirstOnKernels, 2))
	}
	return strings.Join(f, "; ")
}

// topCounts lists the first n counts as "key (count)".
func topCounts(cs []crashdir.Count, n int) string {
	var parts []string
	for i, c := range cs {
		if i == n {
			parts = append(parts, fmt.Sprintf("… %d more", len(cs)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", c.Key, c.Count))
	}
	return strings.Join(parts, ", ")
}

// newLine says how many crashes are new, or "" with nothing to compare.
func newLine(res *crashdir.FleetResult) string {
	s := res.Summary
	switch {
	case s.NewSince.IsZero():
		return ""
	case res.FromStore:
		return fmt.Sprintf("%d new in the latest run (started %s UTC)", s.New, s.NewSince.UTC().Format("2006-01-02 15:04"))
	case !res.PreviousRun.IsZero():
		return fmt.Sprintf("%d new since the previous run (%s UTC)", s.New, res.PreviousRun.UTC().Format("2006-01-02 15:04"))
	}
	return fmt.Sprintf("%d new since %s UTC", s.New, s.NewSince.UTC().Format("2006-01-02 15:04"))
}

// titleOf is a row's title for tables.
func titleOf(r *store.Row) string {
	switch {
	case r.Title != "":
		return r.Title
	case r.Failed():
		return "-"
	}
	return crashdir.NoTitle
}

func writeText(w io.Writer, res *crashdir.FleetResult, show sections) error {
	s := res.Summary
	ew := &errWriter{w: w}
	ew.printf("%s\n", headline(res))
	if p := period(s); p != "" {
		ew.printf("Crash times: %s\n", p)
	}
	if l := newLine(res); l != "" {
		ew.printf("%s\n", strings.ToUpper(l[:1])+l[1:])
	}
	if s.Hosts > 0 {
		ew.printf("Hosts: %d; most crashes: %s\n", s.Hosts, topCounts(s.ByHost, topShown))
	}
	if len(s.ByKernel) > 0 {
		ew.printf("Kernels: %d: %s\n", len(s.ByKernel), topCounts(s.ByKernel, topShown))
	}
	if show&showRows != 0 {
		ew.printf("\nCRASHES\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tHOST\tRELEASE\tTITLE\tTOP FINDING\tSTATUS\tPATH")
		for i := range res.Results {
			r := &res.Results[i].Row
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fmtTime(r.Time), orDash(r.Host), orDash(r.Release),
				titleOf(r), orDash(r.TopLabel()), statusWord(r), r.Path)
		}
		tw.Flush()
	}
	if show&showGroups != 0 {
		writeTextGroups(ew, s)
	}
	if show&showProblems != 0 {
		writeTextProblems(ew, res)
	}
	return ew.err
}

func writeTextGroups(ew *errWriter, s crashdir.Summary) {
	ew.printf("\nBY TITLE\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COUNT\tHOSTS\tKERNELS\tFIRST SEEN\tLAST SEEN\tFLAGS\tTITLE")
	for i := range s.ByTitle {
		g := &s.ByTitle[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Count, hostsCell(g), capped(g.Kernels, kernelsShown),
			fmtDay(g.First), fmtDay(g.Last), orDash(flags(g)), g.Label)
	}
	tw.Flush()

	if len(s.ByFinding) > 0 {
		ew.printf("\nBY FINDING\n")
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COUNT\tFINDING\tHOSTS\tAFFECTED KERNELS\tFIXED KERNELS\tFIRST SEEN\tLAST SEEN")
		for i := range s.ByFinding {
			g := &s.ByFinding[i]
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Count, g.Key, hostsCell(g),
				capped(g.Affected, kernelsShown), capped(g.Fixed, kernelsShown), fmtDay(g.First), fmtDay(g.Last))
		}
		tw.Flush()
		for _, g := range s.ByFinding {
			ew.printf("  %s: %s\n", g.Key, g.Label)
		}
	}
}

func writeTextProblems(ew *errWriter, res *crashdir.FleetResult) {
	s := res.Summary
	if len(s.Broken) > 0 {
		ew.printf("\nDUMPS THAT COULD NOT BE READ\n")
		for i, r := range s.Broken {
			if i == brokenShown {
				ew.printf("  … and %d more (`ktriage history` lists them all)\n", len(s.Broken)-brokenShown)
				break
			}
			ew.printf("  %s\n    %s\n", r.Path, r.Status)
		}
	}
	if len(res.Skipped) > 0 {
		ew.printf("\nSKIPPED FILES\n")
		for _, g := range crashdir.GroupSkipped(res.Skipped) {
			ew.printf("  %s (%s)\n", g.Reason, files(len(g.Paths)))
			for i, p := range g.Paths {
				if i == skippedShown {
					ew.printf("    … and %d more\n", len(g.Paths)-skippedShown)
					break
				}
				ew.printf("    %s\n", p)
			}
		}
	}
	for _, e := range res.StoreErrors {
		ew.printf("store: %s\n", e)
	}
}

// statusWord is the status for a table cell: the class, not the whole reason
// (the broken list below the table gives that).
func statusWord(r *store.Row) string {
	switch {
	case r.Failed():
		return "failed"
	case r.Status == store.StatusInterrupted:
		return "not analyzed"
	case r.LogOnly():
		return "log-only"
	case r.Reused:
		return r.Status.String() + " (stored)"
	}
	return r.Status.String()
}

// errWriter keeps the first write error so renderers can check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// skippedShown is how many paths of one skip reason a report lists.
const skippedShown = 3

// files counts files: "1 file", "2 files".
func files(n int) string { return fmt.Sprintf("%d file%s", n, plural(n, "s")) }
