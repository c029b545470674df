package textlog

import (
	"fmt"
	"github.com/ktriage/ktriage/internal/lazyre"
	"strconv"
	"strings"
	"sync"

	"github.com/ktriage/ktriage/incident"
)

// reportText is what a title is computed from: the report's lines from its
// header on, its call trace sections and the instruction pointers it shows.
type reportText struct {
	lines    []string
	sections []section
	rips     []ripEvent
}

type section struct {
	name   string // "Call Trace", "Allocated by task 12", "" for frames without a heading
	at     int    // index in lines of the heading (or first frame)
	frames []incident.Frame
	lineOf []int // index in lines of each frame
}

type ripEvent struct {
	frame *incident.Frame // nil for a user-space or unnamed address
	at    int
}

func (rt *reportText) joined() string { return strings.Join(rt.lines, "\n") }

// framesFrom returns the frames printed on lines at or after at; with
// stopAtHeading it ends where the next stack heading begins.
func (rt *reportText) framesFrom(at int, stopAtHeading bool) []incident.Frame {
	var out []incident.Frame
	for _, s := range rt.sections {
		if stopAtHeading && len(out) > 0 && s.name != "" && s.at >= at {
			return out
		}
		for i, f := range s.frames {
			if s.lineOf[i] >= at {
				out = append(out, f)
			}
		}
	}
	return out
}

// framesUntilHeading returns the frames printed from line at up to the
// next stack heading.
func (rt *reportText) framesUntilHeading(at int) []incident.Frame {
	end := len(rt.lines)
	for _, s := range rt.sections {
		if s.name != "" && s.at >= at && s.at < end {
			end = s.at
		}
	}
	var out []incident.Frame
	for _, s := range rt.sections {
		for i, f := range s.frames {
			if s.lineOf[i] >= at && s.lineOf[i] < end {
				out = append(out, f)
			}
		}
	}
	return out
}

// sectionNamed returns the frames of the first section whose heading
// matches re and starts at or after line at.
func (rt *reportText) sectionNamed(re *lazyre.Regexp, at int) ([]incident.Frame, int, bool) {
	for _, s := range rt.sections {
		if s.at >= at && s.name != "" && re.MatchString(s.name) {
			return s.frames, s.at, true
		}
	}
	return nil, 0, false
}

// firstRIP returns the first instruction pointer line at or after at.
func (rt *reportText) firstRIP(at int) (ripEvent, bool) {
	for _, r := range rt.rips {
		if r.at >= at {
			return r, true
		}
	}
	return ripEvent{}, false
}

// beforeFaultInjection cuts the report at the first frame of a fault
// injection backtrace: the lines after it interleave two stacks and no
// culprit can be trusted there.
func (rt *reportText) beforeFaultInjection() *reportText {
	cut := -1
	for _, s := range rt.sections {
		for i, f := range s.frames {
			if f.Reliable && faultInjection.MatchString(incident.NormalizeFunction(f.Function)) &&
				(cut < 0 || s.lineOf[i] < cut) {
				cut = s.lineOf[i]
			}
		}
	}
	if cut <= 0 {
		return rt
	}
	out := &reportText{lines: rt.lines[:cut]}
	for _, s := range rt.sections {
		if s.at >= cut {
			continue
		}
		t := section{name: s.name, at: s.at}
		for i, f := range s.frames {
			if s.lineOf[i] < cut {
				t.frames = append(t.frames, f)
				t.lineOf = append(t.lineOf, s.lineOf[i])
			}
		}
		out.sections = append(out.sections, t)
	}
	for _, r := range rt.rips {
		if r.at < cut {
			out.rips = append(out.rips, r)
		}
	}
	return out
}

// ripAndTrace returns the first faulting function and the call trace
// printed after it.
func (rt *reportText) ripAndTrace() ([]incident.Frame, *incident.Frame) {
	at := 0
	var rip *incident.Frame
	if r, ok := rt.firstRIP(0); ok {
		rip, at = r.frame, r.at
	}
	return rt.traceFrom(at), rip
}

// traceFrom returns the call trace printed at or after line at: the first
// "Call Trace" section, else the first frames printed without a heading
// (32-bit ARM, MIPS and pasted excerpts print none).
func (rt *reportText) traceFrom(at int) []incident.Frame {
	if f, _, ok := rt.sectionNamed(callTraceName, at); ok && len(f) > 0 {
		return f
	}
	for _, s := range rt.sections {
		if s.name == "" && s.at >= at && len(s.frames) > 0 {
			return s.frames
		}
	}
	return nil
}

var callTraceName = lazyre.New(`^(Call Trace|Call trace|Backtrace)`)

// culpritFn picks the function a title names. ok is false when the report
// holds no usable frame; the title then says "corrupted", as the kernel
// community's tools do for damaged reports.
type culpritFn func(rt *reportText, args []string) (string, bool)

// faultInjection frames mean the stack printed is fault injection's own
// backtrace mixed into the report; nothing after it belongs to the bug.
var faultInjection = lazyre.New(`^should_fail(slab)?$`)

func pick(frames []incident.Frame, rip *incident.Frame, skip []string) (string, bool) {
	for i, f := range frames {
		if f.Reliable && faultInjection.MatchString(incident.NormalizeFunction(f.Function)) {
			frames = frames[:i]
			break
		}
	}
	c := incident.CulpritWith(frames, rip, incident.CulpritOptions{Skip: skip})
	return incident.StripSyscallPrefix(c), c != ""
}

// pickLast is pick for the last try of a culprit rule, when the strict
// choice found nothing:
//   - a trace whose every frame is "?" and carries its address
//     ("[<ffffffff81104029>] ? walk_component+0x1f4/0x406") was printed by
//     the stack scanner of a kernel without frame pointers, which marks
//     every frame so: its frames are the trace. (Without addresses, an
//     all-"?" trace is the ORC unwinder giving up: stale words, not a
//     trace.)
//   - with no trace at all, the faulting function names the report even
//     when it is a helper: "in strcmp" says more than "corrupted".
func pickLast(frames []incident.Frame, rip *incident.Frame, skip []string) (string, bool) {
	if c, ok := pick(frames, rip, skip); ok {
		return c, true
	}
	if scannedTrace(frames) {
		c := incident.CulpritWith(frames, rip, incident.CulpritOptions{Skip: skip, IncludeUnreliable: true})
		if c != "" {
			return incident.StripSyscallPrefix(c), true
		}
	}
	if len(frames) == 0 && rip != nil && rip.Function != "" {
		return incident.StripSyscallPrefix(incident.NormalizeFunction(rip.Function)), true
	}
	return "", false
}

// scannedTrace reports whether every frame is a "?" frame printed with its
// address: the whole trace of a kernel built without frame pointers.
func scannedTrace(frames []incident.Frame) bool {
	for _, f := range frames {
		if f.Reliable || f.Address == 0 {
			return false
		}
	}
	return len(frames) > 0
}

// ripThenTrace: the faulting function, else the first call trace frame
// after it (oopses, general protection faults, kernel BUG, warnings).
func ripThenTrace(skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		frames, rip := rt.ripAndTrace()
		if c, ok := pickLast(frames, rip, skip); ok {
			return c, true
		}
		return rt.workqueueHint()
	}
}

var workqueueRe = lazyre.New(`^\s*Workqueue: \S* ?([A-Za-z_][A-Za-z0-9_.]*)`)

// workqueueHint: a worker that faulted with nothing usable on its stack
// (a jump through a bad pointer leaves no frame of its own) still ran the
// work function its "Workqueue: events foo_work_fn" line names.
func (rt *reportText) workqueueHint() (string, bool) {
	for _, l := range rt.lines {
		if strings.Contains(l, "Workqueue:") {
			if m := workqueueRe.FindStringSubmatch(l); m != nil {
				return incident.NormalizeFunction(m[1]), true
			}
		}
	}
	return "", false
}

// warning: the function that warned and the frames printed right after
// its RIP line (panic_on_warn prints the stack there); else the call trace.
func warning(skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		if r, ok := rt.firstRIP(0); ok {
			if c, ok := pick(rt.framesUntilHeading(r.at+1), r.frame, skip); ok {
				return c, true
			}
		}
		// A warning printed without any stack is a cut report: the
		// function on its header line alone is not trusted to name it.
		return pick(rt.traceFrom(0), nil, skip)
	}
}

// orHeader: the rule's culprit, else the function the header captured in
// group.
func orHeader(fn culpritFn, group int) culpritFn {
	return func(rt *reportText, args []string) (string, bool) {
		if c, ok := fn(rt, args); ok {
			return c, true
		}
		if group <= len(args) && args[group-1] != "" {
			return incident.NormalizeFunction(args[group-1]), true
		}
		return "", false
	}
}

// ripOnly: traps reported with the faulting instruction alone.
func ripOnly(skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		r, ok := rt.firstRIP(0)
		if !ok {
			return "", false
		}
		return pick(nil, r.frame, skip)
	}
}

// callTrace: the first call trace.
func callTrace(skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		return pick(rt.traceFrom(0), nil, skip)
	}
}

// headerThenTrace: the function the header names (sanitizer reports),
// else the first call trace frame.
func headerThenTrace(group int, skip ...string) culpritFn {
	return func(rt *reportText, args []string) (string, bool) {
		var hdr *incident.Frame
		if group <= len(args) && args[group-1] != "" {
			hdr = &incident.Frame{Function: args[group-1], Reliable: true}
		}
		frames, _, _ := rt.sectionNamed(callTraceName, 0)
		return pick(frames, hdr, skip)
	}
}

// firstStack: the frames printed right after the header, with or without
// a heading (KMSAN, KFENCE).
func firstStack(group int, skip ...string) culpritFn {
	return func(rt *reportText, args []string) (string, bool) {
		var hdr *incident.Frame
		if group > 0 && group <= len(args) && args[group-1] != "" {
			hdr = &incident.Frame{Function: args[group-1], Reliable: true}
		}
		var frames []incident.Frame
		if len(rt.sections) > 0 {
			frames = rt.sections[0].frames
		}
		return pick(frames, hdr, skip)
	}
}

// stackAfter: the stack printed after a line matching re.
func stackAfter(re *lazyre.Regexp, skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		for i, l := range rt.lines {
			if re.MatchString(l) {
				return pick(rt.framesFrom(i+1, true), nil, skip)
			}
		}
		return "", false
	}
}

// funcOnLine: a function named on a line matching re (group 1), such as
// lockdep's "at: [<...>] foo+0x12/0x40".
func funcOnLine(after, re *lazyre.Regexp) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		start := 0
		if after != nil {
			start = -1
			for i, l := range rt.lines {
				if after.MatchString(l) {
					start = i
					break
				}
			}
			if start < 0 {
				return "", false
			}
		}
		for _, l := range rt.lines[start:] {
			if m := re.FindStringSubmatch(l); m != nil {
				return incident.NormalizeFunction(m[1]), true
			}
		}
		return "", false
	}
}

// lineThenTrace: a function named on a line after one matching after,
// then the call trace, skipping machinery in both.
func lineThenTrace(after, re *lazyre.Regexp, skip ...string) culpritFn {
	named := funcOnLine(after, re)
	return func(rt *reportText, args []string) (string, bool) {
		var first *incident.Frame
		if c, ok := named(rt, args); ok {
			first = &incident.Frame{Function: c, Reliable: true}
		}
		frames, _, _ := rt.sectionNamed(callTraceName, 0)
		return pick(frames, first, skip)
	}
}

// stallAnchors are the dispatch points of a looping CPU: system call entry,
// workqueues, softirqs, timers, kthreads, and the file, socket and fault
// entry points that tell one driver's loop from another's. A stall is
// named after the frame just above the first anchor, so one stuck loop
// gets one title however deep in it the interrupt landed.
var stallAnchors = lazyre.New(`process_one_work|do_syscall_|do_fast_syscall_|sysenter_dispatch|tracesys_phase2|` +
	`el0_svc_handler|invoke_syscall|ret_fast_syscall|netif_receive_skb|do_softirq|call_timer_fn|_run_timers|` +
	`run_timer_softirq|hrtimer_run|run_ksoftirqd|smpboot_thread_fn|^kthread$|start_secondary|cpu_startup_entry|` +
	`ret_from_fork|vfs_write|vfs_read|^proc_reg_|vfs_iter_read|vfs_iter_write|do_iter_read|do_iter_write|call_read_iter|` +
	`call_write_iter|new_sync_read|new_sync_write|vfs_ioctl|ksys_ioctl|compat_ioctl|compat_sys_ioctl|` +
	`blkdev_driver_ioctl|blkdev_ioctl|do_iter_readv_writev|^call_mmap|mmap_region|do_mmap|do_dentry_open|` +
	`vfs_open|^sock_sendmsg|^sock_recvmsg|^sock_release|^__sock_release|^setsockopt$|kernel_setsockopt|` +
	`sock_common_setsockopt|^listen$|kernel_listen|sk_common_release|^sock_mmap|^accept$|kernel_accept|` +
	`^sock_do_ioctl|^sock_ioctl|^compat_sock_ioctl|^nfnetlink_rcv_msg|^rtnetlink_rcv_msg|^netlink_dump|` +
	`^(sys_)?(socketpair|connect|ioctl)|__do_fault|do_page_fault|^page_fault$|__fput|task_work_run|` +
	`exit_to_usermode|smp_call_function|tasklet_action|tasklet_hi_action`)

func stallPick(cands []string) (string, bool) {
	if len(cands) == 0 {
		return "", false
	}
	prev := cands[0]
	for _, c := range cands {
		s := incident.StripSyscallPrefix(c)
		if stallAnchors.MatchString(s) {
			if strings.Contains(c, "smp_call_function") {
				prev = "smp_call_function"
			}
			return incident.StripSyscallPrefix(prev), true
		}
		prev = c
	}
	return "", false
}

// stallTrace: like stall, over the call trace alone (the RIP printed
// inside it belongs to an interrupted frame).
func stallTrace(skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		frames, _, _ := rt.sectionNamed(callTraceName, 0)
		return stallPick(incident.Candidates(frames, nil, incident.CulpritOptions{Skip: skip, KeepDispatch: true}))
	}
}

// stall: lockups and stack overflows, named by stallPick over the faulting
// function and the call trace.
func stall(skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		frames, rip := rt.ripAndTrace()
		return stallPick(incident.Candidates(frames, rip, incident.CulpritOptions{Skip: skip, KeepDispatch: true}))
	}
}

// lockupReporters are the watchdog's own frames in a lockup report: the
// timer or NMI that noticed the stuck CPU, never the code that was stuck.
var lockupReporters = []string{`^watchdog`, `^__?perf_event_overflow`, `^perf_prepare_sample`, `_pmu_handle_irq`,
	`^perf_event_nmi_handler`, `^perf_ibs_nmi_handler`, `^nmi_`, `^arch_trigger_cpumask_backtrace`,
	`^nmi_trigger_cpumask_backtrace`, `^__hrtimer_run_queues$`, `^hrtimer_interrupt$`, `^is_softlockup`}

// lockup: soft and hard lockups. The CPU spins in the first function of
// the stack that is not machinery; when that code, or code above it short
// of the dispatch point, belongs to a module, the module's function is
// named: the reader can act on it, and its loop is the suspect. Otherwise
// the frame above the dispatch point names the loop, as for stalls.
func lockup(skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		frames, rip := rt.ripAndTrace()
		if len(frames) == 0 && rip == nil {
			frames = rt.traceFrom(0)
		}
		opt := incident.CulpritOptions{Skip: append(append([]string{}, lockupReporters...), skip...), KeepDispatch: true}
		kept := keptFrames(frames, rip, opt)
		if len(kept) == 0 {
			opt.IncludeUnreliable = true
			kept = keptFrames(frames, rip, opt)
		}
		// A CPU caught spinning on a lock (the NMI or timer found it in
		// the lock's slow path) is stuck in the function that takes the
		// lock, not in the loop that called that function.
		if spinning(frames, rip) && len(kept) > 0 {
			name := incident.StripSyscallPrefix(incident.NormalizeFunction(kept[0].Function))
			if !stallAnchors.MatchString(name) {
				return name, true
			}
		}
		for _, f := range kept {
			name := incident.NormalizeFunction(f.Function)
			if stallAnchors.MatchString(incident.StripSyscallPrefix(name)) {
				break
			}
			if f.Module != "" {
				return name, true
			}
		}
		names := make([]string, len(kept))
		for i, f := range kept {
			names[i] = incident.NormalizeFunction(f.Function)
		}
		if c, ok := stallPick(names); ok {
			return c, true
		}
		if len(names) > 0 { // no dispatch point printed: the spinning function
			return incident.StripSyscallPrefix(names[0]), true
		}
		if len(frames) == 0 && rip != nil && rip.Function != "" {
			// No trace: where the CPU spun, even in machinery.
			return incident.StripSyscallPrefix(incident.NormalizeFunction(rip.Function)), true
		}
		return "", false
	}
}

// spinLockRe is the spinning part of the lock code: the slow paths a CPU
// loops in while another holds the lock.
var spinLockRe = lazyre.New(`queued_spin_lock_slowpath|queued_(?:read|write)_lock_slowpath|^__pv_queued_spin|` +
	`^do_raw_spin_lock|^_raw_spin_lock|^__raw_spin_lock|^raw_spin_lock|^arch_spin_lock|^__ticket_spin_lock|^_spin_lock`)

// spinning reports whether the faulting function, or else the first
// reliable frame, is a lock's spinning loop.
func spinning(frames []incident.Frame, rip *incident.Frame) bool {
	if rip != nil && rip.Function != "" {
		return spinLockRe.MatchString(incident.NormalizeFunction(rip.Function))
	}
	for _, f := range frames {
		if f.Reliable {
			return spinLockRe.MatchString(incident.NormalizeFunction(f.Function))
		}
	}
	return false
}

// keptFrames returns the faulting frame and the trace's frames that the
// options let name a culprit, in stack order.
func keptFrames(frames []incident.Frame, rip *incident.Frame, opt incident.CulpritOptions) []incident.Frame {
	var out []incident.Frame
	add := func(f *incident.Frame) {
		if f != nil && len(incident.Candidates([]incident.Frame{*f}, nil, opt)) > 0 {
			out = append(out, *f)
		}
	}
	add(rip)
	for i := range frames {
		add(&frames[i])
	}
	return out
}

var timerInterruptRe = lazyre.New(`apic_timer_interrupt|Exception stack|el1h_64_irq`)

// rcuStall: the code the timer interrupt found running: the frames after
// the interrupt entry (and its RIP line, when printed).
func rcuStall(rt *reportText, _ []string) (string, bool) {
	skip := []string{"apic_timer_interrupt", "rcu"}
	for i, l := range rt.lines {
		if !timerInterruptRe.MatchString(l) {
			continue
		}
		var rip *incident.Frame
		from := i + 1
		if r, ok := rt.firstRIP(i); ok && r.at <= i+3 {
			rip, from = r.frame, r.at+1
		}
		cands := incident.Candidates(rt.framesFrom(from, true), rip,
			incident.CulpritOptions{Skip: skip, KeepDispatch: true})
		if c, ok := stallPick(cands); ok {
			return c, true
		}
	}
	// Kernels before 4.x (and some later arches) print no interrupt
	// frame: "Task dump for CPU 0:" and the stalled CPU's task with its
	// stack. The CPU was running that stack's first frame that is not
	// machinery; the dispatch point above it names the loop when printed.
	for i, l := range rt.lines {
		if !strings.Contains(l, "Task dump for CPU") {
			continue
		}
		cands := incident.Candidates(rt.framesFrom(i+1, true), nil,
			incident.CulpritOptions{Skip: skip, KeepDispatch: true})
		if c, ok := stallPick(cands); ok {
			return c, true
		}
		if len(cands) > 0 {
			return incident.StripSyscallPrefix(cands[0]), true
		}
	}
	return "", false
}

// hangSkip is the scheduler, lock and wait machinery a blocked task sleeps
// in. The generic waiting primitives are named rather than matched by
// "wait" anywhere: a subsystem's own wait (jbd2_log_wait_commit,
// rq_qos_wait, zio_wait) is where the task waits, and says for what.
var hangSkip = lazyre.New(`sched|_lock|_slowlock|down|rwsem|completion|kthread|synchronize|` +
	`context_switch|__switch_to|cancel_delayed_work|rcu_barrier|` +
	`^_*(?:prepare_to_wait|finish_wait|wait_woken|wait_event|wait_for_|do_wait_for|wait_on_bit|` +
	`out_of_line_wait_on|bit_wait|wait_on_buffer|sleep_on_buffer|sleep_on_page|wait_on_page|folio_wait|` +
	`wait_var_event|wait_bit|wake_up|autoremove_wake|default_wake|` +
	// The Solaris porting layer's condition variables (ZFS) are waits too.
	`cv_wait|cv_timedwait)`)

// hungTask: hung tasks are victims; they are grouped by what they wait
// for. Waits for RCU and for the RTNL lock are common enough to get their
// own buckets; otherwise the first frame that is not waiting machinery.
func hungTask(rt *reportText, _ []string) (string, bool) {
	frames := rt.traceFrom(0)
	cands := incident.Candidates(frames, nil, incident.CulpritOptions{})
	if len(cands) == 0 && scannedTrace(frames) {
		cands = incident.Candidates(frames, nil, incident.CulpritOptions{IncludeUnreliable: true})
	}
	for _, c := range cands {
		switch {
		case strings.Contains(c, "rtnl_lock"):
			return c, true
		case strings.Contains(c, "synchronize_rcu"), strings.Contains(c, "synchronize_srcu"),
			strings.Contains(c, "synchronize_net"), strings.Contains(c, "synchronize_sched"):
			return "synchronize_rcu", true
		}
	}
	for _, c := range cands {
		if !hangSkip.MatchString(c) {
			return incident.StripSyscallPrefix(c), true
		}
	}
	return "", false
}

// titleRule turns one shape of report into a title.
type titleRule struct {
	title     *lazyre.Regexp // matched against the header line; captures are arguments
	report    *lazyre.Regexp // when set, matched against the whole report; its captures replace the header's
	format    string         // fmt verbs %[n]v; the culprit is the argument after the captures
	culprit   culpritFn
	kind      string
	corrupted bool // the shape itself means the report was damaged
	// orElse is the format used when the culprit cannot be found and the
	// report is whole all the same (an allocation failure printed
	// without the caller's frames).
	orElse string
	// header is the argument naming the function the header line itself
	// prints ("WARNING: ... at net/core/stream.c:212 sk_stream_kill_queues+0xc5/0xd2").
	// When no stack names a culprit the title still says "corrupted", as
	// the kernel community's tools title a cut report, but the incident
	// keeps the header's function as its culprit, marked as read from the
	// header alone.
	header int
}

// Placeholders shared by the patterns below, expanded by rx.
var rxReplacer = strings.NewReplacer(
	"{{PC}}", `\[<?(?:0x)?[0-9a-f]+>?\]`,
	"{{FUNC}}", `([a-zA-Z0-9_]+)(?:\.|\+)`,
	"{{SRC}}", `([a-zA-Z0-9-_/.]+\.[a-z]+:[0-9]+)`,
)

func rx(s string) *lazyre.Regexp { return lazyre.New(rxReplacer.Replace(s)) }

var (
	atFuncRe      = rx(`at: (?:{{PC}} +)?{{FUNC}}`)
	pcFuncRe      = rx(`{{PC}} +{{FUNC}}`)
	warningSkip   = []string{}
	warnRIPTrace  = func(skip ...string) culpritFn { return warning(append(warningSkip, skip...)...) }
	isTryingLock  = rx(`is trying to acquire lock`)
	justChanged   = rx(`just changed the state of lock`)
	isTryingRel   = rx(`is trying to release lock`)
	takesRe       = rx(`takes`)
	leavingKernel = rx(`leaving the kernel with locks still held`)
	// listCheckRIP: the fault is in CONFIG_DEBUG_LIST's checker, whose
	// BUG() is the list-corruption report even when the paste lost the
	// "list_del corruption" and "kernel BUG at lib/list_debug.c" lines.
	listCheckRIP = rx(`(?m)^\s*(?:RIP: (?:[0-9a-f]{4}:)?(?:\[<[0-9a-f]+>\]\s+)*|PC is at |pc : (?:\[<[0-9a-f]+>\]\s*)?)__list_(?:add|del_entry)_valid`)
)

// titleRules are tried in order for the header's family; the first rule
// whose patterns match names the report.
var titleRules = sync.OnceValue(func() map[string][]titleRule {
	return map[string][]titleRule{
		"BUG:": {
			{title: rx(`BUG: KASAN: ([a-z\-]+) in {{FUNC}}`), report: rx(`BUG: KASAN: ([a-z\-]+) in {{FUNC}}(?:.*\n)+?.*(Read|Write) (?:of size|at addr) (?:[0-9a-f]+)`),
				format: "KASAN: %[1]v %[3]v in %[4]v", culprit: headerThenTrace(2, "kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"), kind: incident.KindKASAN},
			{title: rx(`BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}`),
				format: "KASAN: invalid-free in %[2]v", culprit: headerThenTrace(1, "slab_", "kfree", "vunmap", "vfree"), kind: incident.KindKASAN},
			{title: rx(`BUG: KASAN: ([a-z\-]+) on address`), report: rx(`BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?.*(Read|Write) of size ([0-9]+)`),
				format: "KASAN: %[1]v %[2]v", kind: incident.KindKASAN},
			{title: rx(`BUG: KASAN: (.*)`), format: "KASAN: %[1]v", kind: incident.KindKASAN, corrupted: true},
			{title: rx(`BUG: KMSAN: kernel-usb-infoleak in {{FUNC}}`), format: "KMSAN: kernel-usb-infoleak in %[2]v",
				culprit: firstStack(0, "alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg"), kind: incident.KindKMSAN},
			{title: rx(`BUG: KMSAN: ([a-z\-]+) in {{FUNC}}`), format: "KMSAN: %[1]v in %[3]v",
				culprit: firstStack(0, "alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$", "^(?:crypto|cipher|drbg|rng)_"), kind: incident.KindKMSAN},
			{title: rx(`BUG: KCSAN: (.*)`), format: "KCSAN: %[1]v", kind: incident.KindKCSAN},
			{title: rx(`BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in {{FUNC}}`), format: "KFENCE: %[1]v %[2]v in %[4]v", culprit: firstStack(3), kind: incident.KindKFENCE},
			{title: rx(`BUG: KFENCE: invalid free in {{FUNC}}`), format: "KFENCE: invalid free in %[2]v", culprit: firstStack(1), kind: incident.KindKFENCE},
			{title: rx(`BUG: KFENCE: invalid (read|write) in {{FUNC}}`), format: "KFENCE: invalid %[1]v in %[3]v", culprit: firstStack(2), kind: incident.KindKFENCE},
			{title: rx(`BUG: KFENCE: memory corruption in {{FUNC}}`), format: "KFENCE: memory corruption in %[2]v", culprit: firstStack(1), kind: incident.KindKFENCE},
			{title: rx(`BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|Unable to handle kernel data access)`),
				format: "BUG: unable to handle kernel paging request in %[1]v", culprit: ripThenTrace(), kind: incident.KindPagingRequest},
			{title: rx(`BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|Kernel NULL pointer dereference)`),
				format: "BUG: unable to handle kernel NULL pointer dereference in %[1]v", culprit: ripThenTrace(), kind: incident.KindNullDeref},
			{title: rx(`BUG: (?:unable to handle kernel|Unable to handle kernel)`), format: "BUG: unable to handle kernel", kind: incident.KindPagingRequest, corrupted: true},
			{title: rx(`BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic|wrong owner|wrong CPU|trylock failure on UP)`),
				format: "BUG: %[1]v %[2]v in %[3]v", culprit: callTrace(spinlockSkip...), kind: incident.KindBUG},
			{title: rx(`BUG: soft lockup`), format: "BUG: soft lockup in %[1]v", culprit: lockup(), kind: incident.KindSoftLockup},
			{title: rx(`BUG: .*still has locks held!`), format: "BUG: still has locks held in %[1]v", culprit: funcOnLine(nil, pcFuncRe), kind: incident.KindLockdep},
			{title: rx(`BUG: scheduling while atomic`), format: "BUG: scheduling while atomic in %[1]v", culprit: callTrace("schedule"), kind: incident.KindAtomicSleep},
			{title: rx(`BUG: lock held when returning to user space`), format: "BUG: lock held when returning to user space in %[1]v",
				culprit: funcOnLine(leavingKernel, atFuncRe), kind: incident.KindLockdep},
			{title: rx(`BUG: bad unlock balance detected!`), format: "BUG: bad unlock balance in %[1]v",
				culprit: lineThenTrace(isTryingRel, pcFuncRe), kind: incident.KindLockdep},
			{title: rx(`BUG: held lock freed!`), format: "BUG: held lock freed in %[1]v", culprit: funcOnLine(nil, pcFuncRe), kind: incident.KindLockdep},
			{title: rx(`BUG: Bad rss-counter state`), format: "BUG: Bad rss-counter state", kind: incident.KindBUG},
			{title: rx(`BUG: non-zero nr_ptes on freeing mm`), format: "BUG: non-zero nr_ptes on freeing mm", kind: incident.KindBUG},
			{title: rx(`BUG: non-zero nr_pmds on freeing mm`), format: "BUG: non-zero nr_pmds on freeing mm", kind: incident.KindBUG},
			{title: rx(`BUG: Dentry .* still in use \([0-9]+\) \[(unmount) of`), format: "BUG: Dentry still in use in %[1]v", kind: incident.KindBUG},
			{title: rx(`BUG: Bad page (state|cache)`), format: "BUG: Bad page %[1]v in %[2]v",
				culprit: stackAfter(rx(`page last allocated`), "(free|put|get|update|release)_page", "free_unref", "^_*folio", "truncate_inode_pages",
					"page_frag_free", "alloc", "vmap", "page_owner"), kind: incident.KindBUG},
			{title: rx(`BUG: Bad page map`), format: "BUG: Bad page map", kind: incident.KindBUG},
			{title: rx(`BUG: workqueue lockup`), format: "BUG: workqueue lockup", kind: incident.KindSoftLockup},
			{title: rx(`BUG: sleeping function called from invalid context at (.*)`), format: "BUG: sleeping function called from invalid context in %[2]v",
				culprit: callTrace(), kind: incident.KindAtomicSleep},
			{title: rx(`BUG: using ([a-z_]+)\(\) in preemptible`), format: "BUG: using %[1]v() in preemptible code in %[2]v",
				culprit: callTrace("dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu"), kind: incident.KindAtomicSleep},
			{title: rx(`BUG: workqueue leaked lock or atomic`), report: rx(`BUG: workqueue leaked lock or atomic(?:.*\n)+?.*last function: ([a-zA-Z0-9_]+)\n`),
				format: "BUG: workqueue leaked lock or atomic in %[1]v", kind: incident.KindLockdep},
			{title: rx(`BUG: memory leak`), format: "memory leak in %[1]v",
				culprit: stackAfter(rx(`backtrace(?: \(crc [0-9a-f]*\))?:`), "kmemleak", "mmap", "kmem", "slab", "alloc", "create_object",
					"idr_get", "list_lru_init", "kasprintf", "kvasprintf", "pcpu_create", "strdup", "strndup", "memdup"), kind: incident.KindMemoryLeak},
			{title: rx(`BUG: .*stack guard page was hit at`), format: "BUG: stack guard page was hit in %[1]v", culprit: stall(), kind: incident.KindStackOverflow},
			{title: rx(`BUG: Invalid wait context`), format: "WARNING: locking bug in %[1]v", culprit: callTrace("lock_sock", "release_sock"), kind: incident.KindLockdep},
			{title: rx(`BUG:\s*$`), format: "BUG: corrupted", kind: incident.KindBUG, corrupted: true},
		},
		"WARNING:": {
			{title: rx(`WARNING: .*lib/debugobjects\.c.* (?:debug_print|debug_check|at)`), format: "WARNING: ODEBUG bug in %[1]v",
				culprit: warnRIPTrace("debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_", "vunmap", "vfree", "__free_", "debug_check", "kobject_"), kind: incident.KindWarning},
			{title: rx(`WARNING: .*mm/usercopy\.c.* (?:usercopy_warn|at)`), format: "WARNING: bad usercopy in %[1]v", culprit: warnRIPTrace("usercopy", "__check"), kind: incident.KindWarning},
			{title: rx(`WARNING: .*lib/kobject\.c.* (?:kobject_|at)`), format: "WARNING: kobject bug in %[1]v", culprit: warnRIPTrace("kobject_"), kind: incident.KindWarning},
			{title: rx(`WARNING: .*fs/proc/generic\.c.* (?:proc_register|at)`), format: "WARNING: proc registration bug in %[1]v", culprit: warnRIPTrace("proc_"), kind: incident.KindWarning},
			{title: rx(`WARNING: .*lib/refcount\.c.* (?:refcount_|at)`), format: "WARNING: refcount bug in %[1]v", culprit: warnRIPTrace("refcount", "kobject_"), kind: incident.KindWarning},
			{title: rx(`WARNING: .*kernel/locking/lockdep\.c.*lock_`), format: "WARNING: locking bug in %[1]v", culprit: warnRIPTrace("lock_sock", "release_sock"), kind: incident.KindLockdep},
			{title: rx(`WARNING: .*still has locks held!`), format: "WARNING: still has locks held in %[1]v", culprit: funcOnLine(nil, rx(`at: {{FUNC}}`)), kind: incident.KindLockdep},
			{title: rx(`WARNING: Nested lock was not taken`), format: "WARNING: nested lock was not taken in %[1]v", culprit: warnRIPTrace(), kind: incident.KindLockdep},
			{title: rx(`WARNING: lock held when returning to user space`), format: "WARNING: lock held when returning to user space in %[1]v",
				culprit: funcOnLine(leavingKernel, atFuncRe), kind: incident.KindLockdep},
			{title: rx(`WARNING: .*mm/.*\.c.* k?.?malloc`), format: "WARNING: kmalloc bug in %[1]v", culprit: warnRIPTrace("kmalloc", "krealloc", "slab", "kmem"), kind: incident.KindWarning},
			{title: rx(`WARNING: .*mm/vmalloc.c.*__vmalloc_node`), format: "WARNING: zero-size vmalloc in %[1]v", culprit: warnRIPTrace(), kind: incident.KindWarning},
			{title: rx(`WARNING: .* usb_submit_urb`), format: "WARNING in %[1]v/usb_submit_urb",
				culprit: warnRIPTrace("usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg"), kind: incident.KindWarning},
			// A kernel without kallsyms prints the caller's address alone:
			// "WARNING: CPU: 0 PID: 0 at net/sched/sch_generic.c:320 0x8038b2f0".
			{title: rx(`WARNING: {{SRC}} at 0x[0-9a-f]+, CPU#\d+`), format: "WARNING in %[2]v", culprit: warnRIPTrace(), kind: incident.KindWarning},
			{title: rx(`WARNING: .* at {{SRC}} 0x[0-9a-f]+\s*$`), format: "WARNING in %[2]v", culprit: warnRIPTrace(), kind: incident.KindWarning},
			// Before 3.16: "WARNING: at net/ipv4/tcp_input.c:2776 tcp_fastretrans_alert+0xc7a/0xd10()".
			// Its header is the caller's address printed by symbol, and the
			// stacks of that time often went to the console alone: the
			// header's function stands when no stack came with it.
			{title: rx(`WARNING: at {{SRC}} (?:0x[0-9a-f]+ )?{{FUNC}}`), format: "WARNING in %[3]v", culprit: orHeader(warnRIPTrace(), 2), kind: incident.KindWarning},
			{title: rx(`WARNING: .* at {{SRC}} {{FUNC}}`), format: "WARNING in %[3]v", culprit: warnRIPTrace(), header: 2, kind: incident.KindWarning},
			{title: rx(`WARNING: {{SRC}} at {{FUNC}}`), format: "WARNING in %[3]v", culprit: warnRIPTrace(), header: 2, kind: incident.KindWarning},
			{title: rx(`WARNING: \[.*\] {{SRC}} at {{FUNC}}.*`), format: "WARNING in %[3]v", culprit: warnRIPTrace(), header: 2, kind: incident.KindWarning},
			{title: rx(`WARNING: possible circular locking dependency detected`), report: rx(`WARNING: possible circular locking dependency detected(?:.*\n)+?.*is trying to acquire lock`),
				format: "possible deadlock in %[1]v", culprit: lockdepChain("process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue"), kind: incident.KindLockdep},
			{title: rx(`WARNING: possible irq lock inversion dependency detected`), format: "possible deadlock in %[1]v", culprit: funcOnLine(justChanged, atFuncRe), kind: incident.KindLockdep},
			{title: rx(`WARNING: .*-safe -> .*-unsafe lock order detected`), format: "possible deadlock in %[1]v", culprit: stackAfter(rx(`which became (?:.*) at:`)), kind: incident.KindLockdep},
			{title: rx(`WARNING: possible recursive locking detected`), format: "possible deadlock in %[1]v", culprit: funcOnLine(isTryingLock, atFuncRe), kind: incident.KindLockdep},
			{title: rx(`WARNING: inconsistent lock state`), report: rx(`WARNING: inconsistent lock state(?:.*\n)+?.*takes(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}`),
				format: "inconsistent lock state in %[2]v", culprit: callTrace(), kind: incident.KindLockdep},
			{title: rx(`WARNING: suspicious RCU usage`), report: rx(`WARNING: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}`),
				format: "WARNING: suspicious RCU usage in %[2]v", culprit: callTrace("rcu", "kmem", "slab"), kind: incident.KindLockdep},
			{title: rx(`WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value`), format: "WARNING: kernel stack regs has bad '%[1]v' value", kind: incident.KindWarning},
			{title: rx(`WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value`), format: "WARNING: kernel stack frame pointer has bad value", kind: incident.KindWarning},
			{title: rx(`WARNING: bad unlock balance detected!`), format: "WARNING: bad unlock balance in %[1]v",
				culprit: lineThenTrace(isTryingRel, pcFuncRe), kind: incident.KindLockdep},
			{title: rx(`WARNING: held lock freed!`), format: "WARNING: held lock freed in %[1]v", culprit: funcOnLine(nil, rx(`at:(?: {{PC}})? +{{FUNC}}`)), kind: incident.KindLockdep},
			{title: rx(`WARNING: kernel stack regs .* has bad 'bp' value`), format: "WARNING: kernel stack regs has bad value", kind: incident.KindWarning},
			{title: rx(`WARNING: kernel stack frame pointer .* has bad value`), format: "WARNING: kernel stack regs has bad value", kind: incident.KindWarning},
			{title: rx(`WARNING:\s*$`), format: "WARNING: corrupted", kind: incident.KindWarning, corrupted: true},
		},
		"INFO:": {
			{title: rx(`INFO: possible circular locking dependency detected`), format: "possible deadlock in %[1]v", culprit: funcOnLine(isTryingLock, rx(`at: {{PC}} +{{FUNC}}`)), kind: incident.KindLockdep},
			{title: rx(`INFO: possible irq lock inversion dependency detected`), format: "possible deadlock in %[1]v", culprit: funcOnLine(justChanged, rx(`at: {{PC}} +{{FUNC}}`)), kind: incident.KindLockdep},
			{title: rx(`INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected`), format: "possible deadlock in %[1]v", culprit: funcOnLine(rx(`is trying to acquire`), rx(`at: {{PC}} +{{FUNC}}`)), kind: incident.KindLockdep},
			{title: rx(`INFO: possible recursive locking detected`), format: "possible deadlock in %[1]v", culprit: funcOnLine(isTryingLock, rx(`at: {{PC}} +{{FUNC}}`)), kind: incident.KindLockdep},
			{title: rx(`INFO: inconsistent lock state`), format: "inconsistent lock state in %[1]v", culprit: funcOnLine(takesRe, rx(`at: {{PC}} +{{FUNC}}`)), kind: incident.KindLockdep},
			{title: rx(`INFO: rcu_(?:preempt|sched|bh) (?:self-)?detected(?: expedited)? stall`), format: "INFO: rcu detected stall in %[1]v", culprit: rcuStall, kind: incident.KindRCUStall},
			{title: rx(`INFO: trying to register non-static key`), format: "INFO: trying to register non-static key in %[1]v", culprit: callTrace("stack", "lock", "IRQ"), kind: incident.KindLockdep},
			{title: rx(`INFO: suspicious RCU usage`), report: rx(`INFO: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}`),
				format: "INFO: suspicious RCU usage in %[2]v", culprit: callTrace("rcu", "kmem", "slab"), kind: incident.KindLockdep},
			{title: rx(`INFO: task .* blocked (?:in I/O wait )?for more than [0-9]+ seconds`), format: "INFO: task hung in %[1]v", culprit: hungTask, kind: incident.KindHungTask},
			{title: rx(`INFO: task .* can't die for more than .* seconds`), format: "INFO: task can't die in %[1]v", culprit: callTrace("schedule"), kind: incident.KindHungTask},
			{title: rx(`INFO: (Freed|Allocated) in (.*)`), format: "INFO: %[1]v in %[2]v", kind: incident.KindKASAN, corrupted: true},
			{title: rx(`INFO:\s*$`), format: "INFO: corrupted", kind: incident.KindOther, corrupted: true},
		},
		"Unable to handle kernel": {
			{title: rx(`Unable to handle kernel (NULL pointer dereference)`), format: "BUG: unable to handle kernel %[1]v in %[2]v",
				culprit: ripThenTrace(), kind: incident.KindNullDeref},
			{title: rx(`Unable to handle kernel (paging request|access to user memory)`), format: "BUG: unable to handle kernel %[1]v in %[2]v",
				culprit: ripThenTrace(), kind: incident.KindPagingRequest},
		},
		"general protection fault": {
			{title: rx(`general protection fault.*:`), format: "general protection fault in %[1]v", culprit: ripThenTrace(), kind: incident.KindGPF},
		},
		"stack segment: ": {
			{title: rx(`stack segment: `), format: "stack segment fault in %[1]v", culprit: ripThenTrace(), kind: incident.KindGPF},
		},
		"Kernel panic": {
			{title: rx(`Kernel panic - not syncing: stack-protector:`), report: rx(`Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {{FUNC}}`),
				format: "kernel panic: stack is corrupted in %[1]v", kind: incident.KindStackOverflow},
			{title: rx(`Kernel panic - not syncing: stack-protector:`), format: "kernel panic: stack is corrupted in %[1]v", culprit: callTrace("stack_chk"), kind: incident.KindStackOverflow},
			{title: rx(`Kernel panic - not syncing: corrupted stack end`), format: "kernel panic: corrupted stack end in %[1]v", culprit: stallTrace("schedule", "retint_kernel"), kind: incident.KindStackOverflow},
			{title: rx(`Kernel panic - not syncing: kernel stack overflow`), format: "kernel stack overflow in %[1]v", culprit: stallTrace("bad_stack"), kind: incident.KindStackOverflow},
			{title: rx(`Kernel panic - not syncing: Attempted to kill init!`), format: "kernel panic: Attempted to kill init!", kind: incident.KindPanic},
			{title: rx(`Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+`), format: "kernel panic: Couldn't open N_TTY ldisc", kind: incident.KindPanic},
			{title: rx(`Kernel panic - not syncing: Fatal exception`), format: "kernel panic: Fatal exception", kind: incident.KindPanic, corrupted: true},
			{title: rx(`Kernel panic - not syncing: panic_on_warn set`), format: "kernel panic: panic_on_warn set", kind: incident.KindPanic, corrupted: true},
			{title: rx(`Kernel panic - not syncing: hung_task: blocked tasks`), format: "kernel panic: hung_task: blocked tasks", kind: incident.KindPanic, corrupted: true},
			{title: rx(`Kernel panic - not syncing: (.*)`), format: "kernel panic: %[1]v", kind: incident.KindPanic},
			{title: rx(`Kernel panic: (.*)`), format: "kernel panic: %[1]v", kind: incident.KindPanic},
		},
		"PANIC: double fault": {
			{title: rx(`PANIC: double fault`), format: "PANIC: double fault in %[1]v", culprit: ripThenTrace(), kind: incident.KindDoubleFault},
		},
		"kernel BUG": {
			{title: rx(`kernel BUG at mm/usercopy.c`), format: "BUG: bad usercopy in %[1]v", culprit: callTrace("usercopy", "__check"), kind: incident.KindBUG},
			{title: rx(`kernel BUG at lib/list_debug.c`), format: "BUG: corrupted list in %[1]v", culprit: callTrace(), kind: incident.KindListCorrupt},
			{title: rx(`kernel BUG at (.*)`), format: "kernel BUG in %[2]v", culprit: ripThenTrace("^skb_"), kind: incident.KindBUG},
		},
		"Kernel BUG": {
			{title: rx(`Kernel BUG (.*)`), format: "kernel BUG %[1]v", kind: incident.KindBUG},
		},
		"BUG kmalloc-": {
			{title: rx(`BUG kmalloc-.*: Object already free`), format: "BUG: Object already free", kind: incident.KindBUG},
		},
		"divide error:": {
			{title: rx(`divide error: `), format: "divide error in %[1]v", culprit: ripOnly(), kind: incident.KindDivideError},
		},
		"divide_error:": {
			{title: rx(`divide_error: `), format: "divide error in %[1]v", culprit: ripOnly(), kind: incident.KindDivideError},
		},
		"invalid opcode:": {
			{title: rx(`invalid opcode: `), report: listCheckRIP, format: "BUG: corrupted list in %[1]v", culprit: callTrace(), kind: incident.KindListCorrupt},
			{title: rx(`invalid opcode: `), format: "invalid opcode in %[1]v", culprit: ripOnly(), kind: incident.KindInvalidOpcode},
		},
		"UBSAN:": {
			{title: rx(`UBSAN: Undefined behaviour in`), format: "UBSAN: undefined-behaviour in %[1]v", culprit: callTrace("ubsan", "overflow"), kind: incident.KindUBSAN},
			{title: rx(`UBSAN: array-index-out-of-bounds in`), format: "UBSAN: array-index-out-of-bounds in %[1]v", culprit: callTrace("ubsan", "overflow"), kind: incident.KindUBSAN},
			{title: rx(`UBSAN: (.*?) in`), format: "UBSAN: %[1]v in %[2]v", culprit: callTrace("ubsan", "overflow"), kind: incident.KindUBSAN},
		},
		"Booting the kernel.": {
			{title: rx(`^Booting the kernel`), format: "unexpected kernel reboot", kind: incident.KindReboot},
		},
		"unregister_netdevice: waiting for": {
			{title: rx(`unregister_netdevice: waiting for (?:.*) to become free`), format: "unregister_netdevice: waiting for DEV to become free", kind: incident.KindOther},
		},
		"VFS: Close: file count is 0": {
			{title: rx(`VFS: Close: file count is 0`), format: "VFS: Close: file count is zero (use-after-free)", kind: incident.KindBUG},
		},
		"VFS: Busy inodes after unmount": {
			{title: rx(`VFS: Busy inodes after unmount`), format: "VFS: Busy inodes after unmount (use-after-free)", kind: incident.KindBUG},
		},
		"Internal error:": {
			{title: rx(`Internal error:`), report: listCheckRIP, format: "BUG: corrupted list in %[1]v", culprit: callTrace(), kind: incident.KindListCorrupt},
			{title: rx(`Internal error:`), format: "Internal error in %[1]v", culprit: ripThenTrace(), kind: incident.KindOops},
		},
		"Unhandled fault:": {
			{title: rx(`Unhandled fault:`), format: "Unhandled fault in %[1]v", culprit: ripThenTrace(), kind: incident.KindOops},
		},
		"Alignment trap:": {
			{title: rx(`Alignment trap:`), format: "Alignment trap in %[1]v", culprit: ripThenTrace(), kind: incident.KindOops},
		},
		"trusty: panic": {
			{title: rx(`trusty: panic.* ASSERT FAILED`), report: rx(`trusty: panic \(.*?\):(?: DEBUG)? ASSERT FAILED at \(.*?\): (.+)`), format: "trusty: ASSERT FAILED: %[1]v", kind: incident.KindPanic},
			{title: rx(`trusty: panic.* ASSERT FAILED.*: *(.*)`), format: "trusty: ASSERT FAILED: %[1]v", kind: incident.KindPanic, corrupted: true},
			{title: rx(`trusty: panic \(.*?\): (.+)`), format: "trusty: panic: %[1]v", kind: incident.KindPanic},
		},
		// ktriage's own families: reports the kernel prints that carry no
		// "BUG:"/"WARNING:" prefix.
		"Oops:": {
			{title: rx(`Oops: `), format: "Oops in %[1]v", culprit: ripThenTrace(), kind: incident.KindOops},
		},
		"Watchdog detected hard LOCKUP": {
			{title: rx(`self-detected hard LOCKUP @ {{FUNC}}`), format: "BUG: hard lockup in %[2]v", culprit: orHeader(lockup(), 1), kind: incident.KindHardLockup},
			{title: rx(`(?:Watchdog detected hard|Watchdog CPU:\d+ (?:detected )?Hard|CPU \d+ detected hard) LOCKUP`), format: "BUG: hard lockup in %[1]v", culprit: lockup(), kind: incident.KindHardLockup},
		},
		"oom-killer": {
			{title: rx(`invoked oom-killer`), report: rx(`(?:Out of memory|Memory cgroup out of memory): Kill(?:ed)? process \d+ \((.*?)\)`),
				format: "Out of memory: Killed process %[1]v", kind: incident.KindOOMKill},
			{title: rx(`invoked oom-killer`), format: "Out of memory: invoked oom-killer in %[1]v", culprit: callTrace("oom", "out_of_memory", "alloc", "page", "dump_header"), kind: incident.KindOOMKill},
		},
		"Out of memory": {
			{title: rx(`(?:Out of memory|Memory cgroup out of memory): Kill(?:ed)? process \d+ \((.*?)\)`), format: "Out of memory: Killed process %[1]v", kind: incident.KindOOMKill},
		},
		"page allocation failure": {
			{title: rx(`page allocation failure: order:(\d+)`), format: "page allocation failure: order:%[1]v in %[2]v",
				culprit: allocCaller, orElse: "page allocation failure: order:%[1]v", kind: incident.KindAllocFailure},
		},
		"XFS: Internal error": {
			{title: rx(`Internal error (\S+) at line \d+ of file`), format: "XFS: Internal error %[1]v in %[2]v",
				culprit: xfsCaller, orElse: "XFS: Internal error %[1]v", kind: incident.KindFilesystemError},
		},
		"EXT4-fs error": {
			{title: rx(`EXT4-fs error \(device [^)]*\): ([A-Za-z0-9_]+):`), format: "EXT4-fs error in %[1]v", kind: incident.KindFilesystemError},
		},
		"EPT: Misconfiguration": {
			{title: rx(`EPT: Misconfiguration`), format: "EPT: Misconfiguration", kind: incident.KindEPTMisconfig},
		},
	}
})

// spinlockSkip is the spinlock code a spinlock BUG's stack runs through,
// matched as whole words of the name so that a driver's own
// "crashtest_spin_forever" or "dev_lockup_check" is never taken for it.
var spinlockSkip = []string{`(?:^|_)(?:raw_)?(?:spin|read|write)_(?:un)?(?:try)?lock(?:_|$)`, `(?:^|_)do_raw_(?:spin|read|write)_`,
	`(?:^|_)spin_(?:bug|dump)(?:_|$)`, `_(?:un)?lock$`}

// lockdepChain: lockdep prints the lock being taken ("at: foo") and the
// one held; the first usable of them, then the stack, names the deadlock.
func lockdepChain(skip ...string) culpritFn {
	return func(rt *reportText, _ []string) (string, bool) {
		var cands []incident.Frame
		start := -1
		for i, l := range rt.lines {
			if isTryingLock.MatchString(l) {
				start = i
				break
			}
		}
		if start < 0 {
			return "", false
		}
		n := 0
		for _, l := range rt.lines[start:] {
			if m := atFuncRe.FindStringSubmatch(l); m != nil {
				cands = append(cands, incident.Frame{Function: m[1], Reliable: true})
				if n++; n == 2 {
					break
				}
			}
		}
		return pick(cands, nil, skip)
	}
}

// Title sanitising, so one bug gets one title: addresses, numbers, line
// numbers and offsets vary from one occurrence to the next.
var titleReplacements = []struct {
	re  *lazyre.Regexp
	rep string
}{
	{lazyre.New(`syz-executor\.?[0-9]+((/|:)[0-9]+)?`), "syz-executor"},
	{lazyre.New(`syzkaller[0-9]+((/|:)[0-9]+)?`), "syzkaller"},
	{lazyre.New(`([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}`), "${1}ADDR"},
	{lazyre.New(`([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})`), "IP"},
	{lazyre.New(`(\.\w+)(:[0-9]+)+`), "${1}:LINE"},
	{lazyre.New(`([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+`), "${1}"},
	{lazyre.New(`CPU#[0-9]+`), "CPU"},
	{lazyre.New(`(\W)(\d+)(\W|$)`), "${1}NUM${3}"},
	{lazyre.New(`(\d+){7,}`), "NUM"},
}

func sanitizeTitle(t string) string {
	for _, r := range titleReplacements {
		for {
			n := r.re.ReplaceAllString(t, r.rep)
			if n == t {
				break
			}
			t = n
		}
	}
	var b strings.Builder
	prev := byte(' ')
	for i := 0; i < len(t) && i < 120; i++ {
		c := t[i]
		if c == '\t' {
			c = ' '
		}
		if c < 0x20 || c >= 0x7f || c == ' ' && prev == ' ' {
			continue
		}
		b.WriteByte(c)
		prev = c
	}
	return strings.TrimSpace(b.String())
}

// titled is a report's title and what it was made from.
type titled struct {
	title     string
	culprit   string
	module    string // the culprit's module, when the log names one
	kind      string
	corrupted bool
	// fromHeader: the culprit is the function the header line names; no
	// stack in the report confirmed it.
	fromHeader bool
}

// makeTitle names a report from its header family and text. It returns
// the header line itself, cleaned, when no rule fits.
func makeTitle(family string, rt *reportText) titled {
	rt = rt.beforeFaultInjection()
	header := rt.lines[0]
	text := ""
	for _, rule := range titleRules()[family] {
		m := rule.title.FindStringSubmatch(header)
		if m == nil {
			continue
		}
		args := m[1:]
		if rule.report != nil {
			if text == "" {
				text = rt.joined() + "\n"
			}
			rm := rule.report.FindStringSubmatch(text)
			if rm == nil {
				continue
			}
			args = rm[1:]
		}
		t := titled{kind: rule.kind, corrupted: rule.corrupted}
		vals := make([]any, 0, len(args)+1)
		for _, a := range args {
			vals = append(vals, a)
		}
		if rule.culprit != nil {
			c, ok := rule.culprit(rt, args)
			switch {
			case ok:
				t.culprit = c
			case rule.orElse != "":
				t.title = sanitizeTitle(fmt.Sprintf(rule.orElse, vals...))
				return t
			default:
				c, t.corrupted = "corrupted", true
				// A header naming a helper (the list or refcount checker
				// that WARNs on its caller's behalf) names no culprit.
				if k := rule.header; k > 0 && k <= len(args) && identRe.MatchString(args[k-1]) {
					if h := incident.CulpritWith(nil, &incident.Frame{Function: args[k-1], Reliable: true}, incident.CulpritOptions{}); h != "" {
						t.culprit, t.fromHeader = h, true
					}
				}
			}
			vals = append(vals, c)
		} else if k := culpritArg(rule.format); k > 0 && k <= len(args) && identRe.MatchString(args[k-1]) {
			// The header itself names the function ("last function: od_dbs_timer").
			t.culprit = args[k-1]
		}
		if t.culprit != "" {
			t.module = culpritModule(rt, t.culprit)
		}
		t.title = sanitizeTitle(fmt.Sprintf(rule.format, vals...))
		return t
	}
	if i := strings.Index(header, family); i > 0 {
		header = header[i:]
	}
	return titled{title: sanitizeTitle(header), kind: incident.KindOther, corrupted: true}
}

var (
	identRe        = lazyre.New(`^[A-Za-z_][A-Za-z0-9_.]*$`)
	culpritArgRe   = lazyre.New(` in %\[(\d+)\]v$`)
	moduleSuffixRe = lazyre.New(`^(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\s*\[([A-Za-z0-9_.-]+)\]`)
)

// culpritArg returns the argument a format names the culprit with when it
// ends in " in %[n]v", else 0.
func culpritArg(format string) int {
	if m := culpritArgRe.FindStringSubmatch(format); m != nil {
		return atoi(m[1])
	}
	return 0
}

// culpritModule returns the module the log prints beside the culprit's
// frame or instruction pointer ("foo+0x12/0x40 [mod]"), or "".
func culpritModule(rt *reportText, culprit string) string {
	same := func(fn string) bool {
		n := incident.NormalizeFunction(fn)
		return n == culprit || incident.StripSyscallPrefix(n) == culprit
	}
	for _, r := range rt.rips {
		if r.frame != nil && same(r.frame.Function) {
			return r.frame.Module
		}
	}
	for _, s := range rt.sections {
		for _, f := range s.frames {
			if same(f.Function) {
				return f.Module
			}
		}
	}
	// A line that names the function: the header ("WARNING: at f.c:1
	// foo+0x4/0x8 [mod]()"), the Workqueue line ("events foo_work [mod]").
	for _, h := range rt.lines[:min(len(rt.lines), 100)] {
		for i := strings.Index(h, culprit); i >= 0; {
			if m := moduleSuffixRe.FindStringSubmatch(h[i+len(culprit):]); m != nil {
				return m[1]
			}
			j := strings.Index(h[i+len(culprit):], culprit)
			if j < 0 {
				break
			}
			i += len(culprit) + j
		}
	}
	return ""
}

// allocSkip are the allocator's own layers between warn_alloc and the
// code that asked for memory: page and slab allocators, vmalloc, page
// fragments, socket buffers, DMA and bounce-buffer allocation.
var allocSkip = []string{`^warn_alloc`, `^_*alloc_pages`, `^__get_free_pages`, `^get_zeroed_page`, `new_slab`,
	`allocate_slab`, `slab_alloc`, `^_*kmem_cache_alloc`, `^_*kmalloc`, `^_*vmalloc`, `^kvmalloc`, `page_frag`,
	`^_*alloc_page_frag`, `^_*netdev_alloc_`, `^_*napi_alloc_`, `^_*alloc_skb`, `^kmalloc_reserve`, `swiotlb_alloc`,
	`^dma_.*alloc`, `^dma_common_`, `^dma_direct_`, `^_*dma_alloc`, `^_*page_cache_alloc`, `^alloc_pages_vma`}

// allocCaller: the function that asked for the memory an allocation
// failure could not find: the first frame past the allocator.
func allocCaller(rt *reportText, _ []string) (string, bool) {
	c := incident.CulpritWith(rt.traceFrom(0), nil, incident.CulpritOptions{Skip: allocSkip})
	if c == "" {
		c = incident.CulpritWith(rt.traceFrom(0), nil, incident.CulpritOptions{Skip: allocSkip, IncludeUnreliable: true})
	}
	return incident.StripSyscallPrefix(c), c != ""
}

var xfsCallerRe = lazyre.New(`Caller (?:0x([0-9a-f]+)|([A-Za-z_][A-Za-z0-9_.]*)\+0x)`)

// xfsCaller: the function XFS names as the caller of its error report, by
// symbol or by an address the trace resolves; else the trace.
func xfsCaller(rt *reportText, _ []string) (string, bool) {
	if m := xfsCallerRe.FindStringSubmatch(rt.lines[0]); m != nil {
		if m[2] != "" {
			return incident.NormalizeFunction(m[2]), true
		}
		addr, err := strconv.ParseUint(m[1], 16, 64)
		for _, s := range rt.sections {
			for _, f := range s.frames {
				if err == nil && f.Address == addr && f.Function != "" {
					return incident.NormalizeFunction(f.Function), true
				}
			}
		}
	}
	return pick(rt.traceFrom(0), nil, []string{`^xfs_error_report`, `^xfs_corruption_error`, `^xfs_verifier_error`})
}
