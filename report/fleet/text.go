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
	fmt.Fprintln(tw, "COUNT\tHOSTS\tKERNELS\tFIRST SEEN\tLAST SEEN\tTITLE")
	for _, g := range s.ByTitle {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", g.Count, joinOrDash(g.Hosts), joinOrDash(g.Kernels),
			fmtDay(g.First), fmtDay(g.Last), g.Label)
	}
	tw.Flush()

	if len(s.ByFinding) > 0 {
		ew.printf("\nBY FINDING\n")
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COUNT\tFINDING\tHOSTS\tAFFECTED KERNELS\tFIXED KERNELS\tFIRST SEEN\tLAST SEEN")
		for _, g := range s.ByFinding {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Count, g.Key, joinOrDash(g.Hosts),
				joinOrDash(g.Affected), joinOrDash(g.Fixed), fmtDay(g.First), fmtDay(g.Last))
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
		for _, r := range s.Broken {
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
