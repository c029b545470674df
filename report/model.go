// Package report writes an incident for people and programs: a terminal
// report laid out like crash's `sys` and `bt` (text/tabwriter), Markdown for a
// ticket, JSON (the contract in DESIGN.md) and a self-contained HTML page
// (html/template: every kernel string is escaped, nothing is fetched).
//
// Every format leads with the verdict — the incident's title and the top
// finding — then the evidence: system facts, the panic and its backtrace,
// D-state tasks grouped by stack, every finding with its fix and commands,
// and the log around the panic. The report never analyzes: it shows what
// the incident and its findings already hold.
package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/crashfmt"
)

// Options tune a report.
type Options struct {
	// Color enables ANSI colours in the text report; set it only when
	// writing to a terminal.
	Color bool
	// LogBefore and LogAfter are how many log lines around the panic to show
	// (defaults 25 and 10).
	LogBefore, LogAfter int
}

func (o Options) withDefaults() Options {
	if o.LogBefore <= 0 {
		o.LogBefore = 25
	}
	if o.LogAfter <= 0 {
		o.LogAfter = 10
	}
	return o
}

// model is what every format shows, computed once.
type model struct {
	Title    string
	Verdict  *incident.Finding
	Source   incident.Source
	System   [][2]string
	Panic    *panicView
	Groups   []groupView
	Findings []incident.Finding
	Reports  []reportView
	LogLines []logLineView
	LogNote  string
	Warnings []string
}

type panicView struct {
	Heading               string // "Panic", or "Crash report" when the log has no panic line
	Message, Title, Where string
	Frames                []frameView
}

type frameView struct {
	Index    int
	Text     string // "rb_next+0x1/0x50 [mod]"
	Reliable bool
	Context  string
}

type groupView struct {
	Count int
	Tasks string // "dd:192, dd:193"
	State string
	Stack []string
	// Waits says what the tasks wait for, as read from the source: the
	// lock and its holder, or the I/O and its device (one line per
	// distinct wait, the task named when the group's tasks differ).
	Waits []string
}

type reportView struct {
	Kind, Title string
	Line        int
}

type logLineView struct {
	Prefix string // "[  35.61]" or line number
	Text   string
	Mark   bool // the panic line
}

func newModel(in *incident.Incident, opts Options) *model {
	opts = opts.withDefaults()
	m := &model{Title: in.Title, Source: in.Source, Findings: in.Findings, Warnings: in.Warnings}
	if len(in.Findings) > 0 {
		m.Verdict = &in.Findings[0]
	}
	if m.Title == "" {
		switch {
		case in.Panic != nil && in.Panic.Title != "":
			m.Title = in.Panic.Title
		case in.Panic != nil:
			m.Title = in.Panic.Message
		case len(in.Reports) > 0:
			m.Title = firstNonEmpty(in.Reports[0].Title, in.Reports[0].Message)
		default:
			m.Title = "no crash report found"
		}
	}
	m.System = systemRows(in)
	if p := in.Panic; p != nil {
		m.Panic = &panicView{Heading: "Panic", Message: p.Message, Title: p.Title, Where: whereText(p.CPU, p.PID, p.Comm), Frames: frameViews(p.RIP, p.Backtrace)}
	} else if r := crashReport(in); r != nil && r.Kind != incident.KindHungTask {
		// Hung-task reports are shown with the blocked tasks instead.
		m.Panic = &panicView{Heading: "Crash report", Message: r.Message, Title: r.Title, Where: whereText(r.CPU, r.PID, r.Comm), Frames: frameViews(r.RIP, r.Backtrace)}
	}
	for _, g := range incident.GroupByStack(in.UninterruptibleTasks()) {
		gv := groupView{Count: len(g.Tasks), Tasks: strings.Join(g.Comms(), ", "), State: g.Tasks[0].State}
		for _, f := range g.Tasks[0].Backtrace {
			if f.Reliable {
				gv.Stack = append(gv.Stack, frameText(f))
			}
		}
		gv.Waits = groupWaits(g.Tasks)
		m.Groups = append(m.Groups, gv)
	}
	for _, r := range in.Reports {
		m.Reports = append(m.Reports, reportView{Kind: r.Kind, Title: firstNonEmpty(r.Title, r.Message), Line: r.FirstLine})
	}
	m.LogLines, m.LogNote = logAround(in, opts)
	return m
}

// whereText says where the crash ran, crash's way: CPU, PID, COMMAND.
func whereText(cpu, pid *int, comm string) string {
	var where []string
	if cpu != nil {
		where = append(where, "CPU "+strconv.Itoa(*cpu))
	}
	if pid != nil {
		where = append(where, "PID "+strconv.Itoa(*pid))
	}
	if comm != "" {
		where = append(where, "COMMAND \""+comm+"\"")
	}
	return strings.Join(where, "  ")
}

// crashReport is the report that stands for the crash when no panic was
// recorded: the last oops-like report, else the first report of any kind.
func crashReport(in *incident.Incident) *incident.Report {
	for i := len(in.Reports) - 1; i >= 0; i-- {
		switch in.Reports[i].Kind {
		case incident.KindHungTask, incident.KindWarning, incident.KindOOMKill, incident.KindHardwareError, incident.KindEPTMisconfig:
			continue
		}
		return &in.Reports[i]
	}
	if len(in.Reports) > 0 {
		return &in.Reports[0]
	}
	return nil
}

func systemRows(in *incident.Incident) [][2]string {
	var rows [][2]string
	add := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			rows = append(rows, [2]string{k, v})
		}
	}
	add("SOURCE", strings.TrimSpace(in.Source.Path+" ("+strings.Trim(in.Source.Kind.String()+", "+in.Source.Format, ", ")+")"))
	s := in.System
	if s == nil {
		return rows
	}
	add("NODENAME", s.Nodename)
	add("RELEASE", s.Release)
	add("VERSION", s.Version)
	add("MACHINE", s.Machine)
	add("HARDWARE", s.Hardware)
	if s.CPUs > 0 {
		add("CPUS", strconv.Itoa(s.CPUs))
	}
	if s.MemoryBytes > 0 {
		add("MEMORY", crashfmt.Memory(s.MemoryBytes))
	}
	if s.CrashTime != nil {
		add("DATE", s.CrashTime.UTC().Format(time.RFC3339))
	}
	if s.UptimeSeconds > 0 {
		add("UPTIME", crashfmt.Uptime(time.Duration(s.UptimeSeconds*float64(time.Second))))
	}
	if len(s.LoadAverage) > 0 {
		var la []string
		for _, l := range s.LoadAverage {
			la = append(la, strconv.FormatFloat(l, 'f', 2, 64))
		}
		add("LOAD AVERAGE", strings.Join(la, ", "))
	}
	if s.Tasks > 0 {
		add("TASKS", strconv.Itoa(s.Tasks))
	}
	add("TAINT", s.Taint)
	add("KERNEL", s.KernelSource)
	return rows
}

// frameViews leads with the stack as the kernel's own trace shows it; the
// frames kdump ran after saving the registers (which crash's bt lists
// first) follow on one line.
func frameViews(rip *incident.Frame, bt []incident.Frame) []frameView {
	var out []frameView
	if rip != nil && rip.Function != "" {
		out = append(out, frameView{Index: -1, Text: frameText(*rip), Reliable: true, Context: "RIP"})
	}
	faulting := incident.Faulting(bt)
	for i, f := range faulting {
		out = append(out, frameView{Index: i, Text: frameText(f), Reliable: f.Reliable, Context: f.Context})
	}
	if n := len(bt) - len(faulting); n > 0 {
		names := make([]string, n)
		for i, f := range bt[:n] {
			names[i] = f.Function
		}
		out = append(out, frameView{Index: kdumpPathIndex, Reliable: true,
			Text: strings.Join(names, " ← ") + " (run by kdump after it saved the registers; crash's bt lists them first)"})
	}
	return out
}

// kdumpPathIndex marks the frameView that sums up the kdump path.
const kdumpPathIndex = -2

func frameText(f incident.Frame) string {
	s := f.Function
	if s == "" {
		s = fmt.Sprintf("%#x", f.Address)
	}
	if f.Offset != 0 || f.Size != 0 {
		s += fmt.Sprintf("+%#x", f.Offset)
		if f.Size != 0 {
			s += fmt.Sprintf("/%#x", f.Size)
		}
	}
	if f.Module != "" {
		s += " [" + f.Module + "]"
	}
	if f.File != "" {
		s += fmt.Sprintf(" (%s:%d)", f.File, f.Line)
	}
	return s
}

// logAround picks the log lines before and after the panic (or the first
// crash report); without either, the tail of the log.
func logAround(in *incident.Incident, opts Options) ([]logLineView, string) {
	if len(in.Log) == 0 {
		return nil, ""
	}
	at := -1
	if in.Panic != nil && in.Panic.Message != "" {
		for i := len(in.Log) - 1; i >= 0; i-- {
			if strings.Contains(in.Log[i].Text, in.Panic.Message) {
				at = i
				break
			}
		}
	}
	if at < 0 {
		if r := crashReport(in); r != nil && r.Message != "" {
			for i, rec := range in.Log {
				if strings.Contains(rec.Text, r.Message) {
					at = i
					break
				}
			}
		}
	}
	from, to, note := 0, len(in.Log), ""
	if at >= 0 {
		from, to = max(0, at-opts.LogBefore), min(len(in.Log), at+opts.LogAfter+1)
		note = fmt.Sprintf("%d lines before and %d after the crash line, of %d", at-from, to-at-1, len(in.Log))
	} else {
		from = max(0, len(in.Log)-opts.LogBefore-opts.LogAfter)
		note = fmt.Sprintf("last %d of %d lines (no crash line found)", to-from, len(in.Log))
	}
	var out []logLineView
	for i := from; i < to; i++ {
		rec := in.Log[i]
		prefix := ""
		switch {
		case rec.Time != nil:
			prefix = fmt.Sprintf("[%12.6f]", *rec.Time)
		case rec.Line > 0:
			prefix = fmt.Sprintf("%6d:", rec.Line)
		}
		out = append(out, logLineView{Prefix: prefix, Text: rec.Text, Mark: i == at})
	}
	return out, note
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// Formats lists the formats Write accepts.
var Formats = []string{"text", "markdown", "json", "html"}

// severityRank orders severities for sorting and colour.
var severityRank = map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}

// lines are the log record as shown: its prefix and text; a record without
// prefix keeps its own indentation, and the later lines of a multi-line
// record are indented under its text, as crash's log prints them.
func (l logLineView) lines() []string {
	parts := strings.Split(strings.TrimRight(l.Text, " \t\n"), "\n")
	if l.Prefix == "" {
		return parts
	}
	indent := strings.Repeat(" ", utf8.RuneCountInString(l.Prefix)+1)
	for i := range parts {
		if i == 0 {
			parts[i] = l.Prefix + " " + parts[i]
		} else {
			parts[i] = indent + parts[i]
		}
	}
	return parts
}

func sortedKinds(rs []reportView) []string {
	count := map[string]int{}
	for _, r := range rs {
		count[r.Kind]++
	}
	var out []string
	for k, n := range count {
		out = append(out, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(out)
	return out
}

// maxGroupWaits bounds the wait lines of one group.
const maxGroupWaits = 4

// groupWaits lists what a group's tasks wait for: one line when they all
// wait for the same thing, else a line per task, each naming it.
func groupWaits(tasks []incident.BlockedTask) []string {
	var lines []string
	same := true
	for i := range tasks {
		lines = append(lines, tasks[i].WaitText())
		if lines[i] != lines[0] {
			same = false
		}
	}
	if same {
		if lines[0] == "" {
			return nil
		}
		return lines[:1]
	}
	var out []string
	for i, l := range lines {
		if l == "" {
			continue
		}
		if len(out) == maxGroupWaits {
			out = append(out, fmt.Sprintf("… and %d more", len(lines)-i))
			break
		}
		out = append(out, fmt.Sprintf("%s:%d %s", tasks[i].Comm, tasks[i].PID, l))
	}
	return out
}
