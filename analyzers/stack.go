package analyzers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/lazyre"
)

// A double fault is not a stack overflow by itself: the CPU double-faults
// whenever delivering one exception raises another (a broken IDT, GDT or
// TSS, a bad exception stack, page tables, a hypervisor or emulator fault).
// A stack overflow is claimed only on the kernel's own words (with
// VMAP_STACK, exc_double_fault checks CR2 against the guard pages and says
// "stack guard page was hit") or when the faulting stack pointer is at or
// past the end of the task's stack, read from the dump.

// overflowLines are the kernel's own stack-overflow messages
// (arch/x86/kernel/traps.c handle_stack_overflow, irq_64.c, sched/core.c,
// older kernels' thread_info checks).
var overflowLines = lazyre.New(`BUG: stack guard page was hit|kernel stack overflow \(double-fault\)|do_IRQ: stack overflow|Thread overran stack, or stack corrupted|corrupted stack end detected inside scheduler|kernel stack overflow \(page fault\)`)

// kernelRSP is the faulting kernel stack pointer of an oops: the first
// "RSP: 0018:<address>" (the kernel's stack segment) of the report.
var kernelRSP = lazyre.New(`RSP: 0018:([0-9a-f]{16})`)

// stackEdge is how close to the bottom of its stack a faulting RSP must
// be to count as having reached the end: a frame or an exception frame.
const stackEdge = 512

const pageSize = 4096

// stackVerdict is what the evidence says about a double fault's stack.
type stackVerdict struct {
	overflow   bool
	known      bool // the evidence decides either way
	confidence incident.Confidence
	evidence   []string
	summary    string
}

func judgeStack(v *view) (stackVerdict, bool) {
	for _, l := range v.lines {
		// Every message contains "stack": the test skips the regexp
		// (backtracking over each of thousands of lines) on all others.
		if strings.Contains(l.text, "stack") && overflowLines.MatchString(l.text) {
			return stackVerdict{overflow: true, known: true, confidence: "high", evidence: []string{l.String()},
				summary: "The kernel itself reported a stack overflow (guard page hit or stack end overwritten)."}, true
		}
	}
	df := v.doubleFault()
	if df == nil {
		return stackVerdict{}, false
	}
	sv := stackVerdict{evidence: []string{"report: " + firstNonEmpty(df.Title, df.Message)}}
	rsp, haveRSP := faultingRSP(df)
	if haveRSP && rsp>>63 == 0 {
		// Kernel mode with a stack pointer in the user half (kernel
		// addresses have the top bit set, 4- or 5-level paging): the
		// pointer itself was corrupted, and any push then faults again.
		sv.known, sv.confidence = true, "medium"
		sv.evidence = append(sv.evidence, fmt.Sprintf("faulting RSP %#x is not a kernel address: the stack pointer itself was corrupted, not run off the end of its stack", rsp))
		sv.summary = fmt.Sprintf("A double fault with a corrupted stack pointer (RSP %#x, not a kernel address): not a stack overflow.", rsp)
		return sv, true
	}
	st := v.in.Panic
	if !haveRSP || st == nil || st.TaskStack == nil {
		sv.confidence = "low"
		sv.evidence = append(sv.evidence, "no stack guard page message in the log, and the task's stack bounds or faulting RSP are not known")
		sv.summary = "A double fault without the kernel's stack-guard message; its cause cannot be read from this input."
		return sv, true
	}
	lo, hi := st.TaskStack.Lo, st.TaskStack.Hi
	bounds := fmt.Sprintf("pid %s's stack %#x..%#x (%d KiB, task_struct.stack from the dump)", pidString(st.PID), lo, hi, (hi-lo)>>10)
	sv.known = true
	switch {
	case rsp < lo && lo-rsp <= pageSize:
		sv.overflow, sv.confidence = true, "high"
		sv.evidence = append(sv.evidence, fmt.Sprintf("faulting RSP %#x is %d bytes below the bottom of %s: in the guard page", rsp, lo-rsp, bounds))
	case rsp >= lo && rsp < lo+stackEdge:
		sv.overflow, sv.confidence = true, "high"
		sv.evidence = append(sv.evidence, fmt.Sprintf("faulting RSP %#x is %d bytes above the bottom of %s: at its end", rsp, rsp-lo, bounds))
	case rsp < lo || rsp >= hi:
		// Outside the task's stack: an IRQ or exception stack can be
		// legitimate, so this suggests rather than proves an overflow.
		sv.overflow, sv.confidence = true, "medium"
		sv.evidence = append(sv.evidence, fmt.Sprintf("faulting RSP %#x is outside %s (it may have been on an IRQ or exception stack)", rsp, bounds))
	default:
		sv.confidence = "medium"
		sv.evidence = append(sv.evidence, fmt.Sprintf("faulting RSP %#x is %.1f KiB above the bottom of %s: not at its end, so not a stack overflow", rsp, float64(rsp-lo)/1024, bounds))
		sv.summary = fmt.Sprintf("A double fault with the stack pointer %.1f KiB inside its %d KiB stack: not a stack overflow.", float64(rsp-lo)/1024, (hi-lo)>>10)
	}
	if cr2, ok := df.Registers["CR2"]; ok && cr2 < lo && lo-cr2 <= pageSize {
		sv.overflow, sv.confidence = true, "high"
		sv.evidence = append(sv.evidence, fmt.Sprintf("CR2 %#x lies in the guard page below %s", cr2, bounds))
	}
	return sv, true
}

// doubleFault returns the double-fault report of this boot, if any.
func (v *view) doubleFault() *incident.Report {
	for i := range v.in.Reports {
		if v.in.Reports[i].Kind == incident.KindDoubleFault {
			return &v.in.Reports[i]
		}
	}
	return nil
}

func faultingRSP(r *incident.Report) (uint64, bool) {
	for _, l := range r.Lines {
		if m := kernelRSP.FindStringSubmatch(l); m != nil {
			if a, err := strconv.ParseUint(m[1], 16, 64); err == nil {
				return a, true
			}
		}
	}
	// Without that line, the parsed registers: only a kernel address, as
	// they may hold the user-mode entry registers.
	if a, ok := r.Registers["RSP"]; ok && a>>63 == 1 {
		return a, true
	}
	return 0, false
}

func pidString(p *int) string {
	if p == nil {
		return "?"
	}
	return strconv.Itoa(*p)
}

func init() {
	registerAnalyzer("stack/overflow", "a kernel stack overflow: the kernel's guard-page or stack-end message, or a double fault whose faulting RSP is at or past the end of the task's stack (bounds from the dump)",
		nil, func(v *view) *Detection {
			sv, ok := judgeStack(v)
			if !ok || !sv.overflow {
				return nil
			}
			return &Detection{Evidence: sv.evidence, Confidence: sv.confidence, Summary: sv.summary, Crash: v.crashEvidence(sv.evidence)}
		})
	registerAnalyzer("stack/double-fault", "a double fault that the evidence does not show to be a stack overflow (RSP well inside the task's stack, or bounds unknown)",
		nil, func(v *view) *Detection {
			sv, ok := judgeStack(v)
			if !ok || sv.overflow {
				return nil
			}
			return &Detection{Evidence: sv.evidence, Confidence: sv.confidence, Summary: sv.summary, Crash: v.crashKinds[incident.KindDoubleFault]}
		})
}

// crashEvidence reports whether any quoted line is part of the crash.
func (v *view) crashEvidence(ev []string) bool {
	if v.crashKinds[incident.KindDoubleFault] {
		return true
	}
	for _, l := range v.lines {
		for _, e := range ev {
			if v.crashLines[l.text] && e == l.String() {
				return true
			}
		}
	}
	return false
}
