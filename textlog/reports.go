package textlog

import (
	"github.com/ktriage/ktriage/internal/lazyre"
	"strconv"
	"strings"
	"sync"

	"github.com/ktriage/ktriage/incident"
)

// family is one kind of report header: a substring that starts a report
// wherever it appears in a kernel message, minus lines that only look
// like one.
type family struct {
	key     string // the name titleRules uses
	match   matcher
	ignores []*lazyre.Regexp
}

// matcher finds a header: needle is a substring every header of the family
// holds (its first two bytes prefilter lines, see bigrams), re a pattern
// checked after it when the substring alone says too little.
type matcher struct {
	needle string
	re     *lazyre.Regexp
}

func (m matcher) match(s string) bool {
	return strings.Contains(s, m.needle) && (m.re == nil || m.re.MatchString(s))
}

func contains(sub string) matcher { return matcher{needle: sub} }

// containsThen checks a cheap substring before the regular expression.
func containsThen(sub string, re *lazyre.Regexp) matcher { return matcher{needle: sub, re: re} }

// bigrams is a set of the byte pairs of one line, hashed to 1024 bits. A
// line holds a family's needle only if it holds the needle's first pair,
// so one pass over the line spares most of the families' substring
// searches (a log is mostly lines that open no report).
type bigrams [16]uint64

func bigramBit(a, b byte) uint { return (uint(a)*131 + uint(b)) & 1023 }

func (g *bigrams) fill(s string) {
	*g = bigrams{}
	for i := 0; i+1 < len(s); i++ {
		h := bigramBit(s[i], s[i+1])
		g[h>>6] |= 1 << (h & 63)
	}
}

func (g *bigrams) has(needle string) bool {
	if len(needle) < 2 {
		return true
	}
	h := bigramBit(needle[0], needle[1])
	return g[h>>6]&(1<<(h&63)) != 0
}

func res(pats ...string) []*lazyre.Regexp {
	out := make([]*lazyre.Regexp, len(pats))
	for i, p := range pats {
		out[i] = lazyre.New(p)
	}
	return out
}

// families are checked in order; the first that matches names the header.
// They are built on first use: their patterns cost allocations at start-up
// that commands reading no text log should not pay.
var families = sync.OnceValue(func() []family {
	return []family{
		{key: "BUG:", match: contains("BUG:"), ignores: res(`ODEBUG:`, `Boot_DEBUG:`, `xlog_status:`, `DEBUG:`, `BUG: no syscalls can create resource`)},
		{key: "WARNING:", match: contains("WARNING:"), ignores: res(
			`WARNING: /etc/ssh/moduli does not exist, using fixed modulus`,
			`WARNING: workqueue cpumask: online intersect > possible intersect`,
			`WARNING: [Tt]he mand mount option`,
			`WARNING: Unsupported flag value\(s\) of 0x%x in DT_FLAGS_1`,
			`WARNING: Unprivileged eBPF is enabled with eIBRS`,
			`WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size`,
			`WARNING: See https.* for mitigation options.`,
			`WARNING: kernel not compiled with CPU_SRSO`,
			`EXT4-[Ff][Ss](?: \(.*\))?:`,
			`(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)`,
			`XFS \(\w+\): WARNING`)},
		{key: "INFO:", match: contains("INFO:"), ignores: res(
			`INFO: lockdep is turned off`, `INFO: Stall ended before state dump start`, `INFO: NMI handler`,
			`INFO: recovery required on readonly filesystem`, `(handler|interrupt).*took too long`,
			`INFO: sys_.* is not present in /proc/kallsyms`, `INFO: no syscalls can create resource`,
			`rmt_storage:INFO:`, `_INFO:`)},
		{key: "Unable to handle kernel", match: contains("Unable to handle kernel")},
		{key: "general protection fault", match: contains("general protection fault"), ignores: res(`general protection fault .* error:\d+ in `)},
		{key: "stack segment: ", match: contains("stack segment: ")},
		{key: "Kernel panic", match: contains("Kernel panic"), ignores: res(`"Kernel panic`)}, // quoted: crash's sys output
		{key: "PANIC: double fault", match: contains("PANIC: double fault")},
		{key: "kernel BUG", match: contains("kernel BUG")},
		{key: "Kernel BUG", match: contains("Kernel BUG")},
		{key: "BUG kmalloc-", match: contains("BUG kmalloc-")},
		{key: "divide error:", match: contains("divide error:")},
		{key: "divide_error:", match: contains("divide_error:")},
		{key: "invalid opcode:", match: contains("invalid opcode:")},
		{key: "UBSAN:", match: contains("UBSAN:")},
		{key: "Booting the kernel.", match: contains("Booting the kernel."), ignores: res(`Parsing ELF|Decompressing Linux|Unknown parameter '`)},
		{key: "unregister_netdevice: waiting for", match: contains("unregister_netdevice: waiting for")},
		{key: "VFS: Close: file count is 0", match: contains("VFS: Close: file count is 0")},
		{key: "VFS: Busy inodes after unmount", match: contains("VFS: Busy inodes after unmount")},
		{key: "XFS: Internal error", match: containsThen("XFS", xfsInternalRe)},
		{key: "Internal error:", match: contains("Internal error:")},
		{key: "Unhandled fault:", match: contains("Unhandled fault:")},
		{key: "Alignment trap:", match: contains("Alignment trap:")},
		{key: "trusty: panic", match: contains("trusty: panic")},
		{key: "Watchdog detected hard LOCKUP", match: containsThen("ard LOCKUP", hardLockupHeaderRe)},
		{key: "oom-killer", match: contains("invoked oom-killer")},
		{key: "Out of memory", match: containsThen("of memory: Kill", lazyre.New(`(?:^|: )(?:Out of memory|Memory cgroup out of memory): Kill`))},
		{key: "EPT: Misconfiguration", match: contains("EPT: Misconfiguration")},
		{key: "Oops:", match: containsThen("Oops: ", lazyre.New(`(?:^|\s)Oops: `))},
		{key: "page allocation failure", match: containsThen("failure: order:", allocFailureRe)},
		{key: "EXT4-fs error", match: containsThen("EXT4-fs error", ext4ErrorRe)},
	}
})

// headerFamily returns the family a kernel message opens, or "".
func headerFamily(text string) string {
	fams := families()
	var g bigrams
	g.fill(text)
	for i := range fams {
		f := &fams[i]
		if !g.has(f.match.needle) || !f.match.match(text) {
			continue
		}
		ignored := false
		for _, re := range f.ignores {
			if re.MatchString(text) {
				ignored = true
				break
			}
		}
		if !ignored {
			return f.key
		}
	}
	return ""
}

// followUps are headers that continue the report in progress rather than
// open a new one, when they come soon after its start: the kernel prints
// "kernel BUG at" then "invalid opcode:", "BUG: unable to handle" then
// "Oops:", "list_del corruption" then "kernel BUG at lib/list_debug.c".
var followUps = map[string]int{
	"invalid opcode:":                   30,
	"Oops:":                             30,
	"PANIC: double fault":               30,
	"unregister_netdevice: waiting for": 30,
	"Internal error:":                   30,
}

var (
	hungHeaderRe = lazyre.New(`INFO: task (.+):(\d+) (?:blocked (?:in I/O wait )?for more than (\d+) seconds|can't die for more than (\d+) seconds)`)
	// sched_show_task before 4.14: the saved PC, or "running" for the task
	// on the CPU (3.x); 4.x prints "running task" or nothing there.
	oldTaskLineRe = lazyre.New(`^(\S.{0,15}?)\s+([RSDTtZXxKWPIN])\s+(?:[0-9a-f]{8,16}\s+|running(?: task)?\s+)?\d+\s+(\d+)\s+(\d+)\s+0x[0-9a-f]+\s*$`)
	newTaskLineRe = lazyre.New(`^\s*task:(.+?)\s+state:(\S+)\s+stack:\s*\d+\s+pid:\s*(\d+)\s+(?:tgid:\s*\d+\s+)?ppid:\s*(\d+)`)
	softLockupRe  = lazyre.New(`soft lockup - CPU#(\d+) stuck for (\d+)s! \[(.+):(\d+)\]`)
	// The NMI watchdog's "Watchdog detected hard LOCKUP on cpu 3"; powerpc's
	// own watchdog prints "Watchdog CPU:59 Hard LOCKUP" (4.13-5.x) or
	// "watchdog: CPU 19 self-detected hard LOCKUP @ func+0x60/0x100", and,
	// for CPUs another one found stuck, "Watchdog CPU:3 detected Hard LOCKUP
	// other CPUS:8-11" / "CPU 3 detected hard LOCKUP on other CPUs 8-11".
	hardLockupHeaderRe = lazyre.New(`Watchdog detected hard LOCKUP|Watchdog CPU:\d+ (?:detected )?Hard LOCKUP|CPU \d+ (?:self-)?detected hard LOCKUP`)
	// The stuck CPU: only the self-detected shapes name it (the others name
	// the CPU that noticed).
	hardLockupRe = lazyre.New(`hard LOCKUP on cpu (\d+)|Watchdog CPU:(\d+) Hard LOCKUP|CPU (\d+) self-detected hard LOCKUP`)
	panicMsgRe   = lazyre.New(`Kernel panic - not syncing: ?(.*)$`)
	killedRe     = lazyre.New(`Kill(?:ed)? process (\d+) \((.*?)\)`)
	oomInvokedRe = lazyre.New(`^(.+?) invoked oom-killer:`)
	faultAddrRe  = lazyre.New(`(?:dereference|paging request|fault for address|address)(?: at|:)? (?:0x)?([0-9a-f]{6,16})\b`)
	nonCanonRe   = lazyre.New(`(?:for|non-canonical) address (0x[0-9a-f]+)`)
	bugAtRe      = lazyre.New(`kernel BUG at (\S+?)!?$`)
	warnAtRe     = lazyre.New(`WARNING: CPU: (\d+) PID: (\d+) at (\S+)`)
	// The banner since 6.19: "WARNING: lib/refcount.c:28 at
	// refcount_warn_saturate+0xf4/0x144, CPU#0: kworker/u16:1/440" (without a
	// file: "WARNING: at func+0x1/0x2, CPU#0: comm/pid").
	warnAtNewRe = lazyre.New(`WARNING: (?:(\S+:\d+) )?at \S+, CPU#(\d+): (.+)/(\d+)\s*$`)
	atomicRe    = lazyre.New(`scheduling while atomic: (.+)/(\d+)/0x[0-9a-f]+`)
	eptGPARe    = lazyre.New(`EPT: GPA: (0x[0-9a-f]+)`)
	eptSpteRe   = lazyre.New(`spte (0x[0-9a-f]+) level (\d)`)
	cr2Re       = lazyre.New(`^\s*CR2: ([0-9a-f]+)`)
	regLineRe   = lazyre.New(`^\s*(?:R(?:AX|BX|CX|DX|SI|DI|BP|SP|\d{1,2})|E(?:AX|BX|CX|DX|SI|DI|BP|SP|FLAGS)|[CDEFGS]S|CR[0-4]|DR[0-7]|ORIG_RAX)\s*:`)
	endTraceRe  = lazyre.New(`---\[ end (?:trace|Kernel panic)`)
	codeLineRe  = lazyre.New(`^\s*Code: `)
	// "java: page allocation failure: order:0, mode:0x20" (warn_alloc).
	allocFailureRe = lazyre.New(`^(.+?): page allocation failure: order:(\d+)`)
	// "XFS: Internal error XFS_WANT_CORRUPTED_RETURN at line 342 of file
	// fs/xfs/xfs_alloc.c.  Caller 0xffffffffa01e76c2" (xfs_error_report);
	// newer kernels name the device and print the caller symbolically.
	xfsInternalRe = lazyre.New(`XFS(?: \([^)]*\))?: Internal error \S+ at line \d+ of file`)
	// "EXT4-fs error (device sda1): ext4_find_entry:1465: inode #2: comm ls: ..."
	ext4ErrorRe = lazyre.New(`EXT4-fs error \(device [^)]*\): [A-Za-z0-9_]+:`)
	ext4CommRe  = lazyre.New(`EXT4-fs error \(device [^)]*\): .*?: comm (.{1,16}?): `)
	// "Process modprobe (pid: 8227, threadinfo=d7568000 task=f4ea99b0)":
	// the task of i386 and 32-bit ARM oopses.
	processLineRe = lazyre.New(`^\s*Process (.{1,16}?) \(pid: (\d+),`)
	// A CPU line cut short by the paste: "CPU: 67 PID: 0 Comm: swapper".
	cpuLineLooseRe = lazyre.New(`^\s*CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (\S+)`)
	// "Read of size 8 at addr ffff88801 by task syz-executor.0/4321" (KASAN and friends).
	byTaskRe = lazyre.New(`\bby task (\S+)/(\d+)`)
	// __might_resched: "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 7578, name: dd".
	inAtomicRe = lazyre.New(`^in_atomic\(\): \d+, irqs_disabled\(\): \d+,.*\bpid: (\d+), name: (.{1,16})$`)
)

// maxReportLines bounds the text one report keeps; maxTitleLines bounds
// what its title is computed from (a recursion overflowing the stack
// prints thousands of frames before the one that names it).
const (
	maxReportLines = 600
	maxTitleLines  = 4000
)

// builder accumulates one report as its lines arrive.
type builder struct {
	family   string
	key      string
	host     string
	caller   string
	first    int // line in the input
	seq      int // record index when it started
	time     *float64
	boot     int
	rt       reportText
	rep      incident.Report
	ctx      string // current stack context
	cur      int    // index of the current section, -1 if none
	blocked  *incident.BlockedTask
	taskDump bool // a D-state task dump outside a hung-task report
	lines    int
	joins    int // wrapped pieces glued to the last line (joinWrapped)
	idle     int // lines since the last one that looked like part of a report
	// borrow: the report had no stack when a panic followed it; the
	// panic's stack is its stack (panic_on_warn, hung_task_panic).
	borrow bool
	closed bool
	// userRegs: the last RIP line was user mode (the syscall entry regs
	// printed after the kernel stack); its register lines are not the
	// faulting kernel context and stay out of rep.Registers.
	userRegs bool
}

func newBuilder(fam string, l *line, seq, boot int) *builder {
	b := &builder{family: fam, host: l.rec.Host, caller: l.rec.Caller, first: l.rec.Line, seq: seq,
		time: l.rec.Time, boot: boot, cur: -1}
	b.rep.Host = l.rec.Host
	b.rep.Time = l.rec.Time
	b.rep.FirstLine = l.rec.Line
	b.rep.Message = strings.TrimSpace(l.rec.Text)
	b.add(l)
	return b
}

func (b *builder) addField(k, v string) {
	if b.rep.Fields == nil {
		b.rep.Fields = map[string]string{}
	}
	if _, ok := b.rep.Fields[k]; !ok {
		b.rep.Fields[k] = v
	}
}

func intp(s string) *int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil
	}
	return &n
}

// add appends one kernel message to the report and reads what it says.
func (b *builder) add(l *line) {
	text := l.rec.Text
	b.lines++
	b.joins = 0
	if len(b.rt.lines) >= maxTitleLines {
		return
	}
	idx := len(b.rt.lines)
	b.rt.lines = append(b.rt.lines, text)
	if len(b.rep.Lines) < maxReportLines {
		b.rep.Lines = append(b.rep.Lines, text)
	}

	b.idle++
	if f, marker, ok := parseFrame(text); ok || marker != "" {
		b.idle = 0
		if marker != "" {
			b.ctx = contextOf(marker)
		}
		if ok {
			f.Context = b.ctx
			if b.cur < 0 {
				b.rt.sections = append(b.rt.sections, section{at: idx})
				b.cur = len(b.rt.sections) - 1
			}
			s := &b.rt.sections[b.cur]
			s.frames = append(s.frames, f)
			s.lineOf = append(s.lineOf, idx)
		}
		return
	}
	if m := stackStart(text); m != nil {
		b.idle = 0
		b.rt.sections = append(b.rt.sections, section{name: m[1], at: idx})
		b.cur = len(b.rt.sections) - 1
		b.ctx = ""
		return
	}
	if fr, user, ok := parseRIP(text); ok {
		b.idle = 0
		b.userRegs = user
		b.rt.rips = append(b.rt.rips, ripEvent{frame: fr, at: idx})
		if fr != nil && b.rep.RIP == nil {
			b.rep.RIP = fr
		}
		return
	}
	if strings.IndexByte(text, ':') >= 0 && regLineRe.MatchString(text) {
		b.idle = 0
		if !b.userRegs {
			b.rep.Registers = parseRegisters(text, b.rep.Registers)
		}
		if m := cr2Re.FindStringSubmatch(text); m != nil {
			b.addField("cr2", "0x"+strings.TrimLeft(m[1], "0"))
		}
		return
	}
	if strings.Contains(text, "Code: ") || strings.Contains(text, "---[ end") {
		b.idle = 0
		return
	}
	if b.readFacts(text) {
		b.idle = 0
	}
}

// stackStart matches a stack heading ("Call Trace:", "Allocated by task
// 12:", kmemleak's "backtrace:"); m[1] names it.
func stackStart(text string) []string {
	if !strings.Contains(text, "race") && !strings.Contains(text, "by task") && !strings.Contains(text, "llocated") &&
		!strings.Contains(text, "Freed") && !strings.Contains(text, "Uninit") && !strings.Contains(text, "created at") &&
		!strings.Contains(text, "work creation") {
		return nil
	}
	if m := stackStartRe.FindStringSubmatch(text); m != nil {
		return m
	}
	if kmemleakBtRe.MatchString(text) {
		return []string{"", "backtrace"}
	}
	return nil
}

// idleLines closes a report once its stack was printed and this many lines
// in a row said nothing a report says.
const idleLines = 40

// stale reports whether the report has gone quiet.
func (b *builder) stale() bool { return b.idle > idleLines && b.hasStack() }

// factRule reads one kind of fact line; has is a cheap substring test that
// must pass before the regular expression runs.
type factRule struct {
	has  string
	re   *lazyre.Regexp
	read func(b *builder, m []string)
}

var factRules = []factRule{
	{"CPU: ", cpuLineRe, func(b *builder, m []string) {
		r := &b.rep
		if r.CPU == nil {
			r.CPU = intp(m[1])
		}
		if r.PID == nil {
			r.PID = intp(m[2])
		}
		if r.Comm == "" {
			r.Comm = strings.TrimSpace(m[3])
		}
		if r.Release == "" {
			r.Taint, r.Release = taintLetters(m[5]), m[6]
		}
	}},
	{"CPU: ", cpuLineLooseRe, func(b *builder, m []string) {
		r := &b.rep
		if r.CPU == nil {
			r.CPU = intp(m[1])
		}
		if r.PID == nil {
			r.PID = intp(m[2])
		}
		if r.Comm == "" {
			r.Comm = m[3]
		}
	}},
	{"Process ", processLineRe, func(b *builder, m []string) {
		if b.rep.PID == nil {
			b.rep.PID = intp(m[2])
		}
		if b.rep.Comm == "" {
			b.rep.Comm = m[1]
		}
	}},
	{"in_atomic(): ", inAtomicRe, func(b *builder, m []string) {
		if b.rep.PID == nil && b.rep.Comm == "" {
			b.rep.Comm, b.rep.PID = strings.TrimSpace(m[2]), intp(m[1])
		}
	}},
	{"by task ", byTaskRe, func(b *builder, m []string) {
		if b.rep.PID == nil && b.rep.Comm == "" {
			b.rep.Comm, b.rep.PID = m[1], intp(m[2])
		}
	}},
	{"EXT4-fs error", ext4CommRe, func(b *builder, m []string) {
		if b.rep.Comm == "" {
			b.rep.Comm = m[1]
		}
	}},
	{"page allocation failure", allocFailureRe, func(b *builder, m []string) {
		if b.rep.Comm == "" {
			b.rep.Comm = strings.TrimSpace(m[1])
		}
		b.addField("order", m[2])
	}},
	{"Pid: ", oldPidLineRe, func(b *builder, m []string) {
		r := &b.rep
		if r.PID == nil {
			r.PID, r.Comm = intp(m[1]), strings.TrimSpace(m[2])
		}
		if r.Release == "" {
			r.Taint, r.Release = taintLetters(m[4]), m[5]
		}
	}},
	{"ainted", taintLineRe, func(b *builder, m []string) {
		if b.rep.Release == "" {
			b.rep.Taint, b.rep.Release = taintLetters(m[2]), m[3]
		}
	}},
	{"Hardware name:", hwNameRe, func(b *builder, m []string) {
		if b.rep.Hardware == "" {
			b.rep.Hardware = m[1]
		}
	}},
	{"Modules linked in:", modulesRe, func(b *builder, m []string) {
		if b.rep.Modules == nil {
			b.rep.Modules = strings.Fields(m[1])
			if b.rep.Modules == nil {
				b.rep.Modules = []string{}
			}
		}
	}},
	{"INFO: task ", hungHeaderRe, func(b *builder, m []string) {
		if b.blocked != nil {
			return
		}
		b.blocked = &incident.BlockedTask{Comm: m[1], State: "D"}
		if p := intp(m[2]); p != nil {
			b.blocked.PID = *p
		}
		secs := m[3] + m[4]
		if v, err := strconv.ParseFloat(secs, 64); err == nil {
			b.blocked.BlockedSeconds = &v
			b.addField("blocked_seconds", secs)
		}
		b.rep.Comm, b.rep.PID = m[1], intp(m[2])
	}},
	{" 0x", oldTaskLineRe, func(b *builder, m []string) { b.taskLine(strings.TrimSpace(m[1]), m[2], m[3], m[4]) }},
	{"task:", newTaskLineRe, func(b *builder, m []string) { b.taskLine(strings.TrimSpace(m[1]), m[2], m[3], m[4]) }},
	{"soft lockup", softLockupRe, func(b *builder, m []string) {
		b.rep.CPU, b.rep.Comm, b.rep.PID = intp(m[1]), m[3], intp(m[4])
		b.addField("stuck_seconds", m[2])
	}},
	{"ard LOCKUP", hardLockupRe, func(b *builder, m []string) {
		if b.rep.CPU == nil {
			b.rep.CPU = intp(m[1] + m[2] + m[3])
		}
	}},
	{"Kernel panic", panicMsgRe, func(b *builder, m []string) {
		if b.family == "Kernel panic" {
			b.addField("panic", m[1])
		}
	}},
	{"WARNING: CPU:", warnAtRe, func(b *builder, m []string) {
		if b.rep.CPU == nil {
			b.rep.CPU, b.rep.PID = intp(m[1]), intp(m[2])
		}
		b.addField("location", m[3])
	}},
	{", CPU#", warnAtNewRe, func(b *builder, m []string) {
		if b.rep.CPU == nil {
			b.rep.CPU, b.rep.Comm, b.rep.PID = intp(m[2]), m[3], intp(m[4])
		}
		if m[1] != "" {
			b.addField("location", m[1])
		}
	}},
	{"kernel BUG at", bugAtRe, func(b *builder, m []string) { b.addField("location", m[1]) }},
	{"scheduling while atomic", atomicRe, func(b *builder, m []string) { b.rep.Comm, b.rep.PID = m[1], intp(m[2]) }},
	{"process ", killedRe, func(b *builder, m []string) {
		b.addField("victim_pid", m[1])
		b.addField("victim", m[2])
	}},
	{"invoked oom-killer", oomInvokedRe, func(b *builder, m []string) { b.rep.Comm = strings.TrimSpace(m[1]) }},
	{"EPT: GPA", eptGPARe, func(b *builder, m []string) { b.addField("gpa", m[1]) }},
	{"spte ", eptSpteRe, func(b *builder, m []string) { b.addField("spte_level_"+m[2], m[1]) }},
	{"address", nonCanonRe, func(b *builder, m []string) {
		if b.family == "general protection fault" {
			b.addField("address", m[1])
		}
	}},
	{"", faultAddrRe, func(b *builder, m []string) {
		if b.family == "BUG:" || b.family == "Unable to handle kernel" {
			addr := "0x" + strings.TrimLeft(m[1], "0")
			if addr == "0x" {
				addr = "0x0"
			}
			b.addField("address", addr)
		}
	}},
}

// readFacts picks the task, taint, release and kind-specific fields out of
// the report's other lines. It reports whether the line said anything.
func (b *builder) readFacts(text string) bool {
	for i := range factRules {
		f := &factRules[i]
		if f.has == "" {
			if !strings.Contains(text, "dereference") && !strings.Contains(text, "paging request") &&
				!strings.Contains(text, "address") {
				continue
			}
		} else if !strings.Contains(text, f.has) {
			continue
		}
		if m := f.re.FindStringSubmatch(text); m != nil {
			f.read(b, m)
			return true
		}
	}
	return false
}

func (b *builder) taskLine(comm, state, pid, ppid string) {
	if b.blocked == nil {
		b.blocked = &incident.BlockedTask{Comm: comm}
	}
	if b.blocked.State == "" || b.blocked.State == "D" {
		b.blocked.State = state
	}
	if b.blocked.PID == 0 {
		if p := intp(pid); p != nil {
			b.blocked.PID = *p
		}
	}
	b.addField("ppid", ppid)
	if b.rep.Comm == "" {
		b.rep.Comm = comm
		b.rep.PID = intp(pid)
	}
}

// hasStack reports whether the report already holds a call trace.
func (b *builder) hasStack() bool {
	for _, s := range b.rt.sections {
		if len(s.frames) > 0 {
			return true
		}
	}
	return false
}

// hasCallTrace reports whether a "Call Trace:" heading was printed.
func (b *builder) hasCallTrace() bool {
	for _, s := range b.rt.sections {
		if callTraceName.MatchString(s.name) {
			return true
		}
	}
	return false
}

// primaryTrace is the report's call trace: the first "Call Trace" section,
// else the first stack printed.
func (b *builder) primaryTrace() []incident.Frame {
	if f, _, ok := b.rt.sectionNamed(callTraceName, 0); ok && len(f) > 0 {
		return f
	}
	for _, s := range b.rt.sections {
		if len(s.frames) > 0 {
			return s.frames
		}
	}
	return nil
}

// finish computes the title and fills the report.
func (b *builder) finish() incident.Report {
	r := b.rep
	t := makeTitle(b.family, &b.rt)
	r.Title, r.Culprit, r.Kind = t.title, t.culprit, t.kind
	if t.corrupted {
		b.addField("corrupted", "true")
	}
	if t.fromHeader {
		// No stack came with the report: the culprit is only what its
		// header line names, and the report says so.
		b.addField("culprit_from", "header")
	}
	if t.module != "" {
		b.addField("culprit_module", t.module)
	}
	r.Fields = b.rep.Fields
	r.Backtrace = b.primaryTrace()
	if b.family == "Kernel panic" {
		r.Kind = panicKind(r.Message)
	}
	// CONFIG_DEBUG_LIST reports through a WARNING or a BUG in list_debug.c.
	if strings.Contains(r.Fields["location"], "list_debug.c") {
		r.Kind = incident.KindListCorrupt
	}
	return r
}

// panicKind classifies a panic by its message.
func panicKind(msg string) string {
	switch {
	case strings.Contains(msg, "Out of memory") || strings.Contains(msg, "panic_on_oom") || strings.Contains(msg, "out of memory"):
		return incident.KindOOMPanic
	case strings.Contains(msg, "sysrq triggered crash"):
		return incident.KindSysrq
	case strings.Contains(msg, "hard LOCKUP") || strings.Contains(msg, "Hard LOCKUP"):
		return incident.KindHardLockup
	case strings.Contains(msg, "softlockup"):
		return incident.KindSoftLockup
	case strings.Contains(msg, "hung_task"):
		return incident.KindHungTask
	case strings.Contains(msg, "hardware error") || strings.Contains(msg, "machine check") || strings.Contains(msg, "Machine check"):
		return incident.KindHardwareError
	case strings.Contains(msg, "panic forced after error") || strings.Contains(msg, "EXT4-fs") || strings.Contains(msg, "XFS"):
		return incident.KindFilesystemError
	}
	return incident.KindPanic
}
