package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ktriage/ktriage/internal/termsafe"
)

// ANSI colours, used only when Options.Color is set.
const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
	ansiRed   = "\x1b[31m"
	ansiYel   = "\x1b[33m"
	ansiCyan  = "\x1b[36m"
	ansiGreen = "\x1b[32m"
)

type textWriter struct {
	w     *bufio.Writer
	color bool
}

// painted is text already made terminal-safe (and perhaps coloured): printf
// passes it through, while every plain string argument — which may hold a log
// line, a task name or a path — goes through termsafe first.
type painted string

func (t *textWriter) paint(code, s string) painted {
	s = termsafe.Line(s)
	if !t.color || s == "" {
		return painted(s)
	}
	return painted(code + s + ansiReset)
}

func (t *textWriter) severity(s string) painted {
	label := strings.ToUpper(s)
	switch s {
	case "critical", "high":
		return t.paint(ansiBold+ansiRed, label)
	case "medium":
		return t.paint(ansiYel, label)
	case "info":
		return t.paint(ansiCyan, label)
	}
	return painted(termsafe.Line(label))
}

func (t *textWriter) heading(s string) {
	fmt.Fprintf(t.w, "\n%s\n", t.paint(ansiBold, s))
}

// printf writes our own format with the arguments made terminal-safe.
func (t *textWriter) printf(format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = termsafe.Line(s)
		}
	}
	fmt.Fprintf(t.w, format, args...)
}

// table writes borderless key/value or column tables, crash-style, with
// text/tabwriter: tablewriter, used before, allocated ~0.7 MB in its
// package init, which every command paid for at start-up (ktriage dmesg
// included) to lay out one table here.
func (t *textWriter) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	for _, r := range append([][]string{header}, rows...) {
		if len(r) > 0 {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = termsafe.Line(c)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	return tw.Flush()
}

func writeText(out io.Writer, m *model, opts Options) error {
	t := &textWriter{w: bufio.NewWriter(out), color: opts.Color}
	t.printf("%s %s\n", t.paint(ansiBold, "CRASH:"), m.Title)
	if v := m.Verdict; v != nil {
		t.printf("%s [%s] %s\n", t.paint(ansiBold, "VERDICT:"), t.severity(v.Severity.String()), t.paint(ansiBold, v.Title))
		if v.Summary != "" {
			t.printf("         %s\n", v.Summary)
		}
		if v.Applies != "" {
			t.printf("         kernel %s: %s\n", appliesWord(t, v.Applies), v.AppliesNote)
		}
		if v.Fix != "" {
			t.printf("%s %s\n", t.paint(ansiBold, "FIX:"), v.Fix)
		}
	} else {
		t.printf("%s no rule matched; read the panic and the stacks below\n", t.paint(ansiBold, "VERDICT:"))
	}

	if len(m.System) > 0 {
		t.heading("SYSTEM")
		rows := make([][]string, 0, len(m.System))
		for _, kv := range m.System {
			rows = append(rows, []string{"  " + kv[0] + ":", kv[1]})
		}
		if err := t.table(nil, rows); err != nil {
			return err
		}
	}

	if p := m.Panic; p != nil {
		t.heading(strings.ToUpper(p.Heading))
		t.printf("  %s\n", p.Message)
		if p.Title != "" && p.Title != p.Message {
			t.printf("  title: %s\n", p.Title)
		}
		if p.Where != "" {
			t.printf("  %s\n", p.Where)
		}
		for _, f := range p.Frames {
			t.printf("  %s\n", frameLine(t, f))
		}
	}

	if len(m.Groups) > 0 {
		t.heading("BLOCKED TASKS (D state, grouped by stack)")
		for _, g := range m.Groups {
			t.printf("  %d× %s\n", g.Count, g.Tasks)
			for i, fn := range g.Stack {
				t.printf("     #%-2d %s\n", i, fn)
			}
			if len(g.Stack) == 0 {
				t.printf("     (no stack in the source)\n")
			}
			for _, w := range g.Waits {
				t.printf("     → %s\n", w)
			}
		}
	}

	if len(m.Findings) > 0 {
		t.heading(fmt.Sprintf("FINDINGS (%d)", len(m.Findings)))
		for i, f := range m.Findings {
			t.printf("\n  %d. [%s] %s  %s\n", i+1, t.severity(f.Severity.String()), t.paint(ansiBold, f.Title), t.paint(ansiDim, "("+f.ID+", confidence "+f.Confidence.String()+")"))
			if f.Applies != "" {
				t.printf("     kernel %s: %s\n", appliesWord(t, f.Applies), f.AppliesNote)
			}
			section(t, "cause", f.Cause)
			section(t, "fix", f.Fix)
			list(t, "confirm with", f.Commands, "$ ")
			list(t, "evidence", f.Evidence, "")
			list(t, "references", f.References, "")
		}
	}

	if len(m.Reports) > 1 {
		t.heading("REPORTS IN THE LOG")
		t.printf("  %s\n", strings.Join(sortedKinds(m.Reports), ", "))
	}

	if len(m.LogLines) > 0 {
		t.heading("LOG (" + m.LogNote + ")")
		for _, l := range m.LogLines {
			for i, line := range l.lines() {
				if l.Mark && i == 0 {
					t.printf("%s\n", t.paint(ansiBold+ansiRed, "> "+line))
				} else {
					t.printf("  %s\n", line)
				}
			}
		}
	}
	if len(m.Warnings) > 0 {
		t.heading("WARNINGS")
		for _, w := range m.Warnings {
			t.printf("  - %s\n", w)
		}
	}
	return t.w.Flush()
}

func appliesWord(t *textWriter, a string) painted {
	switch a {
	case "affected":
		return t.paint(ansiBold+ansiRed, "AFFECTED")
	case "fixed":
		return t.paint(ansiGreen, "FIXED")
	}
	return painted(termsafe.Line(strings.ToUpper(a)))
}

func frameLine(t *textWriter, f frameView) painted {
	idx := fmt.Sprintf("#%d", f.Index)
	switch f.Index {
	case -1:
		idx = "RIP"
	case kdumpPathIndex:
		idx = "kdump"
	}
	mark := " "
	if !f.Reliable {
		mark = "?"
	}
	ctx := ""
	if f.Context != "" && f.Context != "RIP" {
		ctx = " <" + f.Context + ">"
	}
	line := fmt.Sprintf("%4s %s %s%s", idx, mark, f.Text, ctx)
	if !f.Reliable {
		return t.paint(ansiDim, line)
	}
	return painted(termsafe.Line(line))
}

func section(t *textWriter, label, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	t.printf("     %s:\n", label)
	for _, l := range wrap(text, 96) {
		t.printf("       %s\n", l)
	}
}

func list(t *textWriter, label string, items []string, prefix string) {
	if len(items) == 0 {
		return
	}
	t.printf("     %s:\n", label)
	for _, it := range items {
		t.printf("       %s%s\n", prefix, it)
	}
}

// wrap breaks prose at word boundaries for an 80-100 column terminal.
func wrap(s string, width int) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		cur := ""
		for _, w := range words {
			if cur != "" && len(cur)+1+len(w) > width {
				lines = append(lines, cur)
				cur = w
				continue
			}
			if cur == "" {
				cur = w
			} else {
				cur += " " + w
			}
		}
		if cur != "" {
			lines = append(lines, cur)
		}
	}
	return lines
}
