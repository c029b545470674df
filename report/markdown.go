package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// writeMarkdown writes a report to paste into a ticket: GitHub-flavoured
// Markdown, kernel text inside code fences so nothing in it is markup.
func writeMarkdown(out io.Writer, m *model) error {
	w := bufio.NewWriter(out)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# %s\n\n", mdInline(m.Title))
	if v := m.Verdict; v != nil {
		p("**Verdict:** %s — **%s** (confidence %s)\n\n", mdInline(v.Title), strings.ToUpper(v.Severity.String()), v.Confidence)
		if v.Summary != "" {
			p("%s\n\n", mdProse(v.Summary))
		}
		if v.Applies != "" {
			p("**Kernel %s:** %s\n\n", v.Applies, mdInline(v.AppliesNote))
		}
		if v.Fix != "" {
			p("**Fix:** %s\n\n", mdProse(v.Fix))
		}
	} else {
		p("**Verdict:** no rule matched; see the panic and stacks below.\n\n")
	}

	if len(m.System) > 0 {
		p("## System\n\n")
		rows := make([][]string, 0, len(m.System))
		for _, kv := range m.System {
			rows = append(rows, []string{kv[0], mdCell(kv[1])})
		}
		mdTable(w, []string{"fact", "value"}, rows)
		p("\n")
	}

	if pv := m.Panic; pv != nil {
		p("## %s\n\n", pv.Heading)
		var b strings.Builder
		b.WriteString(pv.Message + "\n")
		if pv.Where != "" {
			b.WriteString(pv.Where + "\n")
		}
		for _, f := range pv.Frames {
			b.WriteString(string(frameLine(&textWriter{}, f)) + "\n")
		}
		fence(w, b.String())
	}

	if len(m.Groups) > 0 {
		p("## Blocked tasks (D state), grouped by stack\n\n")
		for _, g := range m.Groups {
			p("**%d×** %s\n\n", g.Count, mdInline(g.Tasks))
			fence(w, strings.Join(g.Stack, "\n"))
			for _, wt := range g.Waits {
				p("- %s\n", mdInline(wt))
			}
			if len(g.Waits) > 0 {
				p("\n")
			}
		}
	}

	if len(m.Findings) > 0 {
		p("## Findings\n\n")
		for i, f := range m.Findings {
			p("### %d. %s\n\n", i+1, mdInline(f.Title))
			p("`%s` · severity **%s** · confidence %s", f.ID, f.Severity, f.Confidence)
			if f.Applies != "" {
				p(" · kernel **%s**: %s", f.Applies, mdInline(f.AppliesNote))
			}
			p("\n\n")
			if f.Cause != "" {
				p("**Cause.** %s\n\n", mdProse(f.Cause))
			}
			if f.Fix != "" {
				p("**Fix.** %s\n\n", mdProse(f.Fix))
			}
			if len(f.Commands) > 0 {
				p("**Confirm with:**\n\n")
				fence(w, strings.Join(f.Commands, "\n"))
			}
			if len(f.Evidence) > 0 {
				p("**Evidence:**\n\n")
				fence(w, strings.Join(f.Evidence, "\n"))
			}
			if len(f.References) > 0 {
				p("**References:**\n\n")
				for _, r := range f.References {
					p("- %s\n", mdProse(r))
				}
				p("\n")
			}
		}
	}

	if len(m.Reports) > 1 {
		p("## Reports in the log\n\n%s\n\n", mdInline(strings.Join(sortedKinds(m.Reports), ", ")))
	}

	if len(m.LogLines) > 0 {
		p("## Log (%s)\n\n", m.LogNote)
		var b strings.Builder
		for _, l := range m.LogLines {
			for i, line := range l.lines() {
				mark := "  "
				if l.Mark && i == 0 {
					mark = "> "
				}
				b.WriteString(mark + line + "\n")
			}
		}
		fence(w, b.String())
	}
	if len(m.Warnings) > 0 {
		p("## Warnings\n\n")
		for _, wn := range m.Warnings {
			p("- %s\n", mdInline(wn))
		}
	}
	return w.Flush()
}

// fence writes text in a code fence longer than any run of backticks in it.
func fence(w io.Writer, text string) {
	ticks := "```"
	for strings.Contains(text, ticks) {
		ticks += "`"
	}
	fmt.Fprintf(w, "%s\n%s\n%s\n\n", ticks, strings.TrimRight(text, "\n"), ticks)
}

// mdInline escapes the characters that would turn kernel text into markup
// (or raw HTML) outside a code fence.
var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "<", `\<`, ">", `\>`, "[", `\[`, "]", `\]`, "|", `\|`, "#", `\#`)

func mdInline(s string) string { return mdEscaper.Replace(strings.TrimSpace(s)) }

// mdProse renders rule text: `code` spans kept as code, URLs as autolinks,
// the rest escaped.
func mdProse(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for s != "" {
		loc := codeSpanRe.FindStringIndex(s)
		u := urlRe.FindStringIndex(s)
		switch {
		case loc == nil && u == nil:
			b.WriteString(mdEscaper.Replace(s))
			s = ""
		case loc != nil && (u == nil || loc[0] <= u[0]):
			b.WriteString(mdEscaper.Replace(s[:loc[0]]))
			b.WriteString(s[loc[0]:loc[1]])
			s = s[loc[1]:]
		default:
			b.WriteString(mdEscaper.Replace(s[:u[0]]))
			b.WriteString("<" + s[u[0]:u[1]] + ">")
			s = s[u[1]:]
		}
	}
	return b.String()
}

func mdCell(s string) string { return mdInline(strings.ReplaceAll(s, "\n", " ")) }

// mdTable writes a Markdown table with its columns padded, so the source
// reads as a table too. Cells must already be escaped (mdCell).
func mdTable(w io.Writer, header []string, rows [][]string) {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i := range min(len(r), len(widths)) {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]), 3)
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, wd := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + c + strings.Repeat(" ", wd-utf8.RuneCountInString(c)) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(header)
	sep := make([]string, len(widths))
	for i, wd := range widths {
		sep[i] = ":" + strings.Repeat("-", wd-1)
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}
