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
	if l := newLine(res); l != "" {
		ew.printf(" %s.", strings.ToUpper(l[:1])+l[1:])
	}
	ew.printf("\n")
	if show&showGroups != 0 {
		if len(s.ByHost) > 0 {
			ew.printf("\n## Hosts\n\n%d hosts crashed; the most:\n\n| Crashes | New | Host |\n|---:|---:|---|\n", s.Hosts)
			writeMDCounts(ew, s.ByHost)
		}
		if len(s.ByKernel) > 0 {
			ew.printf("\n## Kernels\n\n| Crashes | New | Kernel |\n|---:|---:|---|\n")
			writeMDCounts(ew, s.ByKernel)
		}
		ew.printf("\n## By title\n\n| Count | Title | Hosts | Kernels | First seen | Last seen | Flags |\n|---:|---|---|---|---|---|---|\n")
		for i := range s.ByTitle {
			g := &s.ByTitle[i]
			ew.printf("| %d | %s | %s | %s | %s | %s | %s |\n", g.Count, mdCell(g.Label), mdCell(hostsCell(g)),
				mdCell(capped(g.Kernels, kernelsShown)), fmtDay(g.First), fmtDay(g.Last), mdCell(flags(g)))
		}
		if len(s.ByFinding) > 0 {
			ew.printf("\n## By finding\n\n| Count | Finding | Severity | Hosts | Affected kernels | Fixed kernels | First seen | Last seen |\n" +
				"|---:|---|---|---|---|---|---|---|\n")
			for i := range s.ByFinding {
				g := &s.ByFinding[i]
				ew.printf("| %d | **%s** %s | %s | %s | %s | %s | %s | %s |\n", g.Count, mdCell(g.Key), mdCell(g.Label),
					mdCell(orDash(g.Severity)), mdCell(hostsCell(g)), mdCell(capped(g.Affected, kernelsShown)),
					mdCell(capped(g.Fixed, kernelsShown)), fmtDay(g.First), fmtDay(g.Last))
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
			for i, r := range s.Broken {
				if i == brokenShown {
					ew.printf("- … and %d more (`ktriage history` lists them all)\n", len(s.Broken)-brokenShown)
					break
				}
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

// writeMDCounts writes the first topShown counts as table rows.
func writeMDCounts(ew *errWriter, cs []crashdir.Count) {
	for i, c := range cs {
		if i == topShown {
			ew.printf("| … | | %d more |\n", len(cs)-topShown)
			break
		}
		ew.printf("| %d | %d | %s |\n", c.Count, c.New, mdCell(c.Key))
	}
}
