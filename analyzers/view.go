package analyzers

import (
	"fmt"
	"github.com/ktriage/ktriage/internal/lazyre"
	"slices"
	"strings"

	"github.com/ktriage/ktriage/incident"
)

// view is the incident as rules see it, prepared once per run: which
// reports are the crash itself, every line of text once, and the crash
// stacks with the frames an analyzer may trust.
type view struct {
	in     *incident.Incident
	kernel Kernel

	crashMessages []string
	crashKinds    map[string]bool
	crashLines    map[string]bool
	// stacks are the backtraces of the panic and of every report.
	stacks []reportStack

	lines []logLine
	// tasks are the D tasks shown to have been blocked longer than
	// hung_task_timeout_secs; hungWhy says how, per pid.
	tasks   []incident.BlockedTask
	hungWhy map[int]string
	// hungWeak: some of tasks are known to be in D state, not for how long.
	hungWeak bool
	// prevBoot holds the lines of records firmware kept from an earlier
	// boot (ACPI BERT): never evidence about this boot.
	prevBoot map[string]bool
	// escalation is the report kind the panic escalated ("hung-task" for
	// "hung_task: blocked tasks"), or "".
	escalation string
}

// reportStack is one backtrace as rules see it: the RIP function, then
// the frames an analyzer may trust, innermost first.
type reportStack struct {
	kind  string
	crash bool
	rip   string
	fns   []string
}

type logLine struct {
	text string
	line int // 1-based source line, 0 when unknown
}

// fatalKinds are report kinds that are a crash by themselves.
var fatalKinds = map[string]bool{
	incident.KindPanic: true, incident.KindOops: true, incident.KindNullDeref: true,
	incident.KindPagingRequest: true, incident.KindGPF: true, incident.KindBUG: true,
	incident.KindInvalidOpcode: true, incident.KindDoubleFault: true, incident.KindDivideError: true,
	incident.KindOOMPanic: true, incident.KindMCE: true, incident.KindSysrq: true, incident.KindKASAN: true,
}

// escalations maps a panic message to the report kind it escalated: the
// kernel panics on these only because a sysctl told it to.
var escalations = []struct {
	re   *lazyre.Regexp
	kind string
}{
	{lazyre.New(`hung_task: blocked tasks|hung_task`), incident.KindHungTask},
	{lazyre.New(`softlockup: hung tasks`), incident.KindSoftLockup},
	{lazyre.New(`(?i)hard lockup|hardlockup`), incident.KindHardLockup},
	{lazyre.New(`panic_on_warn`), incident.KindWarning},
	{lazyre.New(`Out of memory|out of memory`), incident.KindOOMKill},
	{lazyre.New(`RCU Stall|rcu_stall`), incident.KindRCUStall},
}

func newView(in *incident.Incident) *view {
	v := &view{in: in, kernel: KernelOf(in), crashKinds: map[string]bool{}, crashLines: map[string]bool{},
		prevBoot: map[string]bool{}}
	for _, h := range in.HardwareErrs {
		if previousBoot(h) {
			for _, l := range h.Lines {
				v.prevBoot[strings.TrimSpace(l)] = true
			}
		}
	}
	if p := in.Panic; p != nil {
		v.crashMessages = append(v.crashMessages, p.Message)
		v.crashLines[p.Message] = true
		// The lines of the report that stands as the crash are the crash's
		// too: "NETDEV WATCHDOG: eth0 (igb): transmit queue 0 timed out" is
		// the text of the WARNING it follows.
		for _, r := range in.Reports {
			if r.Message == p.Message {
				for _, l := range r.Lines {
					v.crashLines[l] = true
				}
			}
		}
		if p.Kind != "" {
			v.crashKinds[p.Kind] = true
		}
		for _, e := range escalations {
			if e.re.MatchString(p.Message) {
				v.escalation = e.kind
				v.crashKinds[e.kind] = true
				break
			}
		}
		v.addStack(p.Kind, true, p.RIP, incident.Faulting(p.Backtrace))
	}
	for _, r := range in.Reports {
		crash := fatalKinds[r.Kind] || (v.escalation != "" && r.Kind == v.escalation)
		v.addStack(r.Kind, crash, r.RIP, r.Backtrace)
		if !crash {
			continue
		}
		v.crashKinds[r.Kind] = true
		v.crashMessages = append(v.crashMessages, r.Message)
		v.crashLines[r.Message] = true
		for _, l := range r.Lines {
			v.crashLines[l] = true
		}
	}
	seen := map[string]bool{}
	add := func(text string, line int) {
		if text == "" || seen[text] || v.prevBoot[strings.TrimSpace(text)] {
			return
		}
		seen[text] = true
		v.lines = append(v.lines, logLine{text, line})
	}
	for _, rec := range in.Log {
		add(rec.Text, rec.Line)
	}
	for _, r := range in.Reports {
		add(r.Message, r.FirstLine)
		for _, l := range r.Lines {
			add(l, 0)
		}
	}
	if in.Panic != nil {
		add(in.Panic.Message, 0)
	}
	v.tasks, v.hungWhy, v.hungWeak = hungTasks(in)
	return v
}

// previousBoot reports whether a hardware error is a record of an earlier
// boot (firmware's Boot Error Record Table), not an error of this one.
func previousBoot(h incident.HardwareError) bool {
	return h.Source == "BERT" || h.Fields["previous_boot"] == "true"
}

// addStack records a backtrace. A frame printed with "?" is
// trusted in one case: right after a RIP at the first instructions of a
// function (offset 0 or 1, before "push %rbp" completed), the frame-pointer
// unwinder cannot vouch for the caller whose return address tops the stack,
// yet that caller is exactly the next "?" frame.
func (v *view) addStack(kind string, crash bool, rip *incident.Frame, bt []incident.Frame) {
	var fns []string
	entryRIP := false
	s := reportStack{kind: kind, crash: crash}
	if rip != nil && rip.Function != "" {
		s.rip = incident.NormalizeFunction(rip.Function)
		fns = append(fns, s.rip)
		entryRIP = rip.Offset <= 1
	}
	for i, f := range bt {
		if f.Function == "" {
			continue
		}
		fn := incident.NormalizeFunction(f.Function)
		if len(fns) > 0 && fns[len(fns)-1] == fn {
			continue // the RIP frame repeated at the top of the trace
		}
		if f.Reliable || (entryRIP && i == firstFrameIndex(bt)) {
			fns = append(fns, fn)
		}
	}
	if len(fns) > 0 {
		s.fns = fns
		v.stacks = append(v.stacks, s)
	}
}

// stacksFor returns the stacks a rule's rip and frames conditions look at:
// those of the report kinds it names, else those of the crash itself.
func (v *view) stacksFor(kinds []string) []reportStack {
	var out []reportStack
	for _, s := range v.stacks {
		switch {
		case len(kinds) == 0 && s.crash:
		case len(kinds) > 0 && (slices.Contains(kinds, s.kind) || s.crash && s.kind == "" && anyKind(v.crashKinds, kinds)):
		default:
			continue
		}
		out = append(out, s)
	}
	return out
}

func anyKind(have map[string]bool, kinds []string) bool {
	for _, k := range kinds {
		if have[k] {
			return true
		}
	}
	return false
}

func firstFrameIndex(bt []incident.Frame) int {
	for i, f := range bt {
		if f.Function != "" {
			return i
		}
	}
	return -1
}

func (l logLine) String() string {
	if l.line > 0 {
		return fmt.Sprintf("line %d: %s", l.line, strings.TrimSpace(l.text))
	}
	return strings.TrimSpace(l.text)
}
