package textlog

import (
	"fmt"
	"github.com/ktriage/ktriage/internal/lazyre"
	"sort"
	"strings"

	"github.com/ktriage/ktriage/incident"
)

// Limits that keep memory bounded whatever the size of the log.
const (
	// TailRecords is how many of the last records an incident keeps.
	TailRecords = 5000
	// contextRecords is how many records before each report are kept.
	contextRecords = 20
	// maxPinned bounds the records kept around reports.
	maxPinned = 50000
	// maxReports bounds the reports kept; later ones are only counted.
	maxReports = 2000
	// maxOpenLines closes a report that grew this long without ending.
	maxOpenLines = 4000
	// borrowLines is how far a report without a stack follows the panic
	// that came after it, looking for the stack they share.
	borrowLines = 120
	// gapSeconds closes reports when the log falls silent this long.
	gapSeconds = 30.0
)

// finding is one finished report with where it came from.
type finding struct {
	rep     incident.Report
	family  string
	boot    int
	seq     int
	blocked *incident.BlockedTask
	dump    bool // a D-state task dump, not a report
}

// extractor finds reports in a stream of records. It holds the reports in
// progress, a ring of recent records and what it has finished.
type extractor struct {
	open   map[string][]*builder
	hw     map[string]*hwBuilder
	done   []finding
	hwDone []hwFinding
	// bert marks hosts whose next [Hardware Error] block follows "BERT:
	// Error records from previous boot": a record of an earlier boot.
	bert       map[string]bool
	dropped    int
	seq        int
	boot       int
	lastTime   map[string]float64
	ring       []incident.LogRecord // the last TailRecords records, at seq % TailRecords
	pinned     []incident.LogRecord
	pinnedSeqs []int
	pinnedTo   int // records with seq < pinnedTo were considered for pinning
	system     incident.System
	hosts      map[string]bool
	// last is the report that took the previous line, for a wrapped line.
	last *builder
}

func newExtractor() *extractor {
	return &extractor{open: map[string][]*builder{}, hw: map[string]*hwBuilder{},
		lastTime: map[string]float64{}, hosts: map[string]bool{}, bert: map[string]bool{}}
}

var (
	bannerRe = lazyre.New(`^Linux version (\S+) .*?(#\S+.*)$`)
	dmiRe    = lazyre.New(`^DMI: (.+?)\s*$`)
)

// feed takes the next decoded line.
func (x *extractor) feed(l *line) {
	if l.foreign {
		return
	}
	seq := x.seq
	x.seq++
	x.remember(l.rec, seq)
	// Console noise is kept in the log, never in a report; but the boot
	// loader's "Booting the kernel." is how a console shows a reboot.
	if l.bare && !strings.HasPrefix(l.rec.Text, "Booting the kernel.") && !x.strayHeader(l) && !x.traceGoesOn(l) {
		x.joinWrapped(l)
		return
	}
	x.last = nil
	text := l.rec.Text
	host := l.rec.Host
	if host != "" {
		x.hosts[host] = true
	}
	x.readSystem(text, host)
	if l.rec.Time != nil {
		if last, ok := x.lastTime[host]; ok {
			// A restart begins again near zero; other steps back are
			// interleaved output from another CPU.
			if *l.rec.Time < 1 && last > 10 {
				x.newBoot(host)
			} else if *l.rec.Time-last > gapSeconds {
				x.closeHost(host)
			}
		}
		x.lastTime[host] = *l.rec.Time
	}

	if x.feedHardware(l, seq) {
		return
	}
	key := host + "\x00" + l.rec.Caller
	fam := headerFamily(text)
	open := x.open[key]
	if len(open) == 0 && host != "" {
		// A report whose first line came without a host (a stray header)
		// goes on under the host of the lines that follow it.
		if orphan := x.open["\x00"+l.rec.Caller]; len(orphan) > 0 {
			for _, b := range orphan {
				b.host, b.rep.Host, b.key = host, host, key
			}
			delete(x.open, "\x00"+l.rec.Caller)
			open = orphan
			x.open[key] = open
		}
	}
	if fam != "" && x.continues(fam, text, open) {
		fam = ""
	}
	if fam == "" && isTaskDumpLine(text) && !x.hungOpen(open) {
		fam = "task dump"
	}
	if fam != "" {
		var keep []*builder
		for _, b := range open {
			// A report still waiting for its stack shares the stack of
			// what its task prints next: the panic of panic_on_warn, or
			// (with caller ids) the oops the same task ran into.
			sameTask := strings.HasPrefix(b.caller, "T") && b.caller == l.rec.Caller
			if (fam == "Kernel panic" || sameTask) && !b.hasCallTrace() && b.family != "Kernel panic" && !b.taskDump {
				b.borrow = true
				keep = append(keep, b)
				continue
			}
			x.finish(b)
		}
		nb := newBuilder(fam, l, seq, x.boot)
		nb.key = key
		nb.taskDump = fam == "task dump"
		x.last = nb
		x.pin(seq)
		x.open[key] = append(keep, nb)
		return
	}
	if len(open) == 0 {
		return
	}
	keep := open[:0]
	for _, b := range open {
		if b.taskDump && !taskDumpContinues(text) {
			x.finish(b)
			continue
		}
		b.add(l)
		x.last = b
		x.pin(seq)
		if endTraceRe.MatchString(text) || b.lines > maxOpenLines || b.borrow && b.lines > borrowLines || b.stale() {
			x.finish(b)
			continue
		}
		keep = append(keep, b)
	}
	x.open[key] = keep
}

// joinWrapped glues a bare line to the report line before it when that
// line was cut by a mail or a terminal: the kernel never ends a CPU or
// Pid line before its release ("... Tainted: G" / "WC O 4.12.0 #1"), nor
// any line with a comma ("order:0," / "mode:0x14210d2(...)").
func (x *extractor) joinWrapped(l *line) {
	b := x.last
	x.last = nil
	if b == nil || b.closed || len(b.rt.lines) == 0 || len(b.rt.lines) >= maxTitleLines {
		return
	}
	prev := b.rt.lines[len(b.rt.lines)-1]
	cont := strings.TrimSpace(l.rec.Text)
	cut := strings.HasSuffix(prev, ",") ||
		(cpuLineLooseRe.MatchString(prev) || strings.Contains(prev, "Pid: ")) && !strings.Contains(prev, " #")
	// A wrapped line comes back in a few pieces; console noise after a
	// cut line must not grow it without end.
	if !cut || cont == "" || b.joins >= maxJoins || len(prev)+len(cont) > maxJoinedBytes {
		return
	}
	b.joins++
	joined := prev + " " + cont
	b.rt.lines[len(b.rt.lines)-1] = joined
	if n := len(b.rep.Lines); n > 0 && b.rep.Lines[n-1] == prev {
		b.rep.Lines[n-1] = joined
	}
	if len(b.rt.lines) == 1 {
		b.rep.Message = strings.TrimSpace(joined)
	}
	b.readFacts(joined)
	x.last = b
}

// maxJoins and maxJoinedBytes bound the pieces and length of a wrapped line.
const (
	maxJoins       = 3
	maxJoinedBytes = 1024
)

// strayHeader reports whether a bare line in a stamped log is a report's
// first line that lost its stamp: the first line of a paste ("BUG: unable
// to handle kernel paging request at ...") or a header the syslog daemon
// wrote without its prefix ("java: page allocation failure: order:0").
// Only headers that cannot be a program's own output qualify.
// traceGoesOn: a line without a stamp that is a stack frame, right after a
// report's call trace heading or frame, is that trace going on — a paste
// that kept the stamps of the first lines only. It joins the report.
func (x *extractor) traceGoesOn(l *line) bool {
	b := x.last
	if b == nil || b.closed || len(b.rt.lines) == 0 {
		return false
	}
	if _, _, ok := parseFrame(l.rec.Text); !ok {
		return false
	}
	prev := b.rt.lines[len(b.rt.lines)-1]
	if _, _, ok := parseFrame(prev); !ok && !callTraceName.MatchString(strings.TrimSpace(prev)) {
		return false
	}
	l.rec.Host, l.rec.Caller = b.host, b.caller
	return true
}

func (x *extractor) strayHeader(l *line) bool {
	t := l.rec.Text
	if !strings.Contains(t, "unable to handle") && !strings.Contains(t, "page allocation failure") {
		return false
	}
	return strayHeaderRe.MatchString(t)
}

var strayHeaderRe = lazyre.New(`^\s*(?:BUG: unable to handle (?:kernel|page fault)|\S+: page allocation failure: order:\d+, mode:)`)

// continues reports whether a header belongs to a report in progress.
func (x *extractor) continues(fam, text string, open []*builder) bool {
	if len(open) == 0 {
		return false
	}
	b := open[len(open)-1]
	if within, ok := followUps[fam]; ok && b.lines <= within {
		return true
	}
	switch fam {
	case "Out of memory":
		return b.family == "oom-killer"
	}
	return false
}

func (x *extractor) hungOpen(open []*builder) bool {
	for _, b := range open {
		if b.family == "INFO:" && b.blocked != nil && b.blocked.State == "D" && !b.hasStack() {
			return true
		}
	}
	return false
}

// isTaskDumpLine matches the line sched_show_task prints for a task in D
// state (sysrq-w, or the messages file of a hung-task report).
func isTaskDumpLine(text string) bool {
	if !strings.Contains(text, " D ") && !strings.Contains(text, "state:D") {
		return false
	}
	if m := oldTaskLineRe.FindStringSubmatch(text); m != nil {
		return m[2] == "D"
	}
	if m := newTaskLineRe.FindStringSubmatch(text); m != nil {
		return strings.HasPrefix(m[2], "D")
	}
	return false
}

// taskDumpContinues: a task dump goes on through its raw stack words, its
// call trace and register lines; anything else ends it.
func taskDumpContinues(text string) bool {
	if isTaskDumpLine(text) {
		return false
	}
	if _, m, ok := parseFrame(text); ok || m != "" {
		return true
	}
	t := strings.TrimSpace(text)
	return stackStartRe.MatchString(text) || ripRe.MatchString(text) || regLineRe.MatchString(text) ||
		codeLineRe.MatchString(text) || stackWordsRe.MatchString(t) || t == ""
}

var stackWordsRe = lazyre.New(`^(?:[0-9a-f]{16}\s*)+$`)

func (x *extractor) readSystem(text, host string) {
	switch {
	case strings.HasPrefix(text, "Linux version "):
		if m := bannerRe.FindStringSubmatch(text); m != nil {
			x.system.Release, x.system.Version = m[1], m[2]
		}
		if x.seq > 1 {
			x.newBoot(host)
		}
	case strings.HasPrefix(text, "DMI: "):
		if m := dmiRe.FindStringSubmatch(text); m != nil {
			x.system.Hardware = m[1]
		}
	}
}

// newBoot closes everything in progress: the kernel restarted (a kdump
// capture kernel, a reboot).
func (x *extractor) newBoot(host string) {
	x.closeHost(host)
	x.boot++
	delete(x.lastTime, host)
}

func (x *extractor) closeHost(host string) {
	for key, open := range x.open {
		if !strings.HasPrefix(key, host+"\x00") {
			continue
		}
		for _, b := range open {
			x.finish(b)
		}
		delete(x.open, key)
	}
	if h := x.hw[host]; h != nil {
		x.finishHardware(host)
	}
}

func (x *extractor) finish(b *builder) {
	if b.closed {
		return
	}
	b.closed = true
	if len(x.done) >= maxReports {
		x.dropped++
		return
	}
	f := finding{family: b.family, boot: b.boot, seq: b.seq, blocked: b.blocked, dump: b.taskDump}
	f.rep = b.finish()
	if b.blocked != nil {
		b.blocked.Backtrace = b.primaryTrace()
	}
	x.done = append(x.done, f)
}

// end closes every report in progress.
func (x *extractor) end() {
	for _, open := range x.open {
		for _, b := range open {
			x.finish(b)
		}
	}
	x.open = map[string][]*builder{}
	for host := range x.hw {
		x.finishHardware(host)
	}
	sortFindings(x.done)
}

func sortFindings(fs []finding) {
	// Reports finish out of order when several are open; restore log order.
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].seq < fs[j-1].seq; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// remember keeps the record in the tail ring, at its sequence number
// modulo the ring size.
func (x *extractor) remember(r incident.LogRecord, seq int) {
	if x.ring == nil {
		x.ring = make([]incident.LogRecord, TailRecords)
	}
	x.ring[seq%TailRecords] = r
}

// pin keeps the records of a report, and those just before it, beyond
// the tail ring.
func (x *extractor) pin(seq int) {
	from := seq - contextRecords
	if from < x.pinnedTo {
		from = x.pinnedTo
	}
	if oldest := x.seq - TailRecords; from < oldest {
		from = oldest
	}
	for s := from; s <= seq && len(x.pinned) < maxPinned; s++ {
		x.pinned = append(x.pinned, x.ring[s%TailRecords])
		x.pinnedSeqs = append(x.pinnedSeqs, s)
	}
	if seq+1 > x.pinnedTo {
		x.pinnedTo = seq + 1
	}
}

// log returns the kept records in log order: those around reports and
// the tail, each once.
func (x *extractor) log() []incident.LogRecord {
	out := append([]incident.LogRecord(nil), x.pinned...)
	from := x.seq - TailRecords
	if from < 0 {
		from = 0
	}
	for s := from; s < x.seq; s++ {
		if s >= x.pinnedTo || !x.pinnedSeq(s) {
			out = append(out, x.ring[s%TailRecords])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// pinnedSeq reports whether record seq was pinned (pinnedSeqs is sorted).
func (x *extractor) pinnedSeq(seq int) bool {
	i := sort.SearchInts(x.pinnedSeqs, seq)
	return i < len(x.pinnedSeqs) && x.pinnedSeqs[i] == seq
}

func (x *extractor) warnings() []string {
	var w []string
	if x.dropped > 0 {
		w = append(w, fmt.Sprintf("%d more reports were found but not kept (limit %d)", x.dropped, maxReports))
	}
	return w
}
