package fleet

import (
	"fmt"
	"io"
	"strings"

	"github.com/ktriage/ktriage/crashdir"
)

// mdCell escapes what would break a Markdown table cell or start markup:
// kernel strings carry pipes, backticks, asterisks and underscores.
func mdCell(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "|", "\\|", "`", "\\`", "*", "\\*", "_", "\\_",
		"<", "&lt;", ">", "&gt;", "[", "\\[", "]", "\\]", "\n", " ", "\r", " ")
	return r.Replace(s)
}

func writeMarkdown(w io.Writer, res *crashdir.FleetResult, show sections) error {
	s := res.Summary
	ew := &errWriter{w: w}
	ew.printf("# Fleet crash report\n\n%s.", headline(res))
	if p := period(s); p != "" {
		ew.printf(" Crash times %s.", p)
	}
	ew.printf("\n")
	if show&showGroups != 0 {
		ew.printf("\n## By title\n\n| Count | Title | Hosts | Kernels | First seen | Last seen |\n|---:|---|---|---|---|---|\n")
		for _, g := range s.ByTitle {
			ew.printf("| %d | %s | %s | %s | %s | %s |\n", g.Count, mdCell(g.Label), mdCell(joinOrDash(g.Hosts)),
				mdCell(joinOrDash(g.Kernels)), fmtDay(g.First), fmtDay(g.Last))
		}
		if len(s.ByFinding) > 0 {
			ew.printf("\n## By finding\n\n| Count | Finding | Severity | Hosts | Affected kernels | Fixed kernels | First seen | Last seen |\n" +
				"|---:|---|---|---|---|---|---|---|\n")
			for _, g := range s.ByFinding {
				ew.printf("| %d | **%s** %s | %s | %s | %s | %s | %s | %s |\n", g.Count, mdCell(g.Key), mdCell(g.Label),
					mdCell(orDash(g.Severity)), mdCell(joinOrDash(g.Hosts)), mdCell(joinOrDash(g.Affected)),
					mdCell(joinOrDash(g.Fixed)), fmtDay(g.First), fmtDay(g.Last))
			}
		}
	}
	if show&showRows != 0 {
		ew.printf("\n## Crashes\n\n| Time (UTC) | Host | Release | Title | Top finding | Status | Path |\n|---|---|---|---|---|---|---|\n")
		for i := range res.Results {
			r := &res.Results[i].Row
			ew.printf("| %s | %s | %s | %s | %s | %s | %s |\n", fmtTime(r.Time), mdCell(orDash(r.Host)),
				mdCell(orDash(r.Release)), mdCell(titleOf(r)), mdCell(orDash(r.TopLabel())), mdCell(statusWord(r)),
				mdCell(r.Path))
		}
	}
	if show&showProblems != 0 {
		if len(s.Broken) > 0 {
			ew.printf("\n## Dumps that could not be read\n\n")
			for _, r := range s.Broken {
				ew.printf("- %s: %s\n", mdCell(r.Path), mdCell(r.Status.String()))
			}
		}
		if len(res.Skipped) > 0 {
			ew.printf("\n## Skipped files\n\n")
			for _, g := range crashdir.GroupSkipped(res.Skipped) {
				shown := g.Paths[:min(len(g.Paths), skippedShown)]
				more := ""
				if len(g.Paths) > len(shown) {
					more = fmt.Sprintf(" and %d more", len(g.Paths)-len(shown))
				}
				ew.printf("- %s (%s): %s%s\n", mdCell(g.Reason), files(len(g.Paths)), mdCell(strings.Join(shown, ", ")), more)
			}
		}
	}
	return ew.err
}
