package textlog

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/vmcore"
)

// Options tune parsing.
type Options struct {
	// Year completes syslog stamps that carry none ("Sep 12 11:38:25").
	// 0 leaves their wall time unset.
	Year int
}

// ParseFile reads a kernel log file (plain, gzip, xz or zstd) and returns
// the incident it describes. Year-less syslog stamps take the year of the
// file's modification time.
func ParseFile(path string) (*incident.Incident, error) {
	incs, err := ParseFileHosts(path)
	if err != nil {
		return nil, err
	}
	return pickHost(incs), nil
}

// ParseFileHosts is ParseFile for logs that gather several machines: one
// incident per host, most severe first.
func ParseFileHosts(path string) ([]*incident.Incident, error) {
	// Only a regular file, opened without blocking (a FIFO named
	// messages must not hang the run).
	f, err := vmcore.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opt := Options{}
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			return nil, fmt.Errorf("%s: is a directory, not a log file", path)
		}
		opt.Year = st.ModTime().Year()
	}
	return ParseHostsWith(f, path, opt)
}

// ParseHostsWith reads a kernel log and returns one incident per host
// found in it (one incident when the log names no host), the most severe
// first.
func ParseHostsWith(r io.Reader, name string, opt Options) ([]*incident.Incident, error) {
	plain, compression, closeFn, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer closeFn()
	plain, err = checkText(plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	rs := newRecordStream(plain, opt.Year)
	x := newExtractor()
	for {
		l, ok := rs.next()
		if !ok {
			break
		}
		x.feed(&l)
	}
	if rs.lr.err != nil {
		return nil, fmt.Errorf("%s: reading line %d: %w", name, rs.lr.n+1, rs.lr.err)
	}
	x.end()
	format := string(rs.format)
	if rs.format == FormatDmesg || rs.format == FormatVmcoreDmesg || rs.format == FormatConsole {
		base := filepath.Base(name)
		if strings.Contains(base, "console") || strings.Contains(base, "serial") || strings.Contains(base, "ttyS") {
			format = string(FormatConsole)
		}
		if strings.Contains(base, "vmcore-dmesg") {
			format = string(FormatVmcoreDmesg)
		} else if strings.Contains(base, "dmesg.makedumpfile") || strings.HasPrefix(base, "dmesg.") && len(base) > 12 {
			format = "makedumpfile --dump-dmesg"
		}
	}
	if compression != "" {
		format += " (" + compression + ")"
	}
	src := incident.Source{Path: name, Kind: incident.SourceLog, Format: format}
	incs := x.incidents(src)
	for _, in := range incs {
		if in.System != nil && in.System.CrashTime != nil {
			if note := rs.stampNote(*in.System.CrashTime); note != "" {
				in.Warn(note)
			}
		}
	}
	if rs.lr.nuls > 0 {
		for _, in := range incs {
			in.Warn(fmt.Sprintf("%s: %d NUL bytes skipped (the zeros a machine that lost power leaves in a log it was writing)", name, rs.lr.nuls))
		}
	}
	return incs, nil
}

// Extracted is what FromRecords finds in log records.
type Extracted struct {
	Reports      []incident.Report
	HardwareErrs []incident.HardwareError
	BlockedTasks []incident.BlockedTask
	Panic        *incident.Panic
	Title        string
}

// FromRecords finds the reports in log records decoded elsewhere — the
// printk buffer of a vmcore — with the same rules as for text logs.
func FromRecords(records []incident.LogRecord) Extracted {
	x := newExtractor()
	for i, r := range records {
		l := line{rec: r, format: FormatDmesg}
		if l.rec.Line == 0 {
			l.rec.Line = i + 1
		}
		// A record may hold several lines (continuations, dictionaries).
		for _, part := range strings.Split(r.Text, "\n") {
			l.rec.Text = part
			x.feed(&l)
		}
	}
	x.end()
	in := &incident.Incident{}
	x.fill(in, "")
	return Extracted{Reports: in.Reports, HardwareErrs: in.HardwareErrs, BlockedTasks: in.BlockedTasks,
		Panic: in.Panic, Title: in.Title}
}

// incidents builds one incident per host.
func (x *extractor) incidents(src incident.Source) []*incident.Incident {
	hosts := []string{""}
	if len(x.hosts) > 0 {
		hosts = hosts[:0]
		for h := range x.hosts {
			hosts = append(hosts, h)
		}
		sort.Strings(hosts)
	}
	logRecs := x.log()
	var out []*incident.Incident
	for _, h := range hosts {
		in := &incident.Incident{Source: src}
		in.Source.Host = h
		x.fill(in, h)
		for _, r := range logRecs {
			if len(hosts) == 1 || r.Host == h {
				in.Log = append(in.Log, r)
			}
		}
		sys := x.system
		if h != "" {
			sys.Nodename = h
		}
		for _, r := range in.Reports {
			if sys.Release == "" && r.Release != "" {
				sys.Release = r.Release
			}
			if sys.Hardware == "" && r.Hardware != "" {
				sys.Hardware = r.Hardware
			}
			if sys.Taint == "" && r.Taint != "" {
				sys.Taint = r.Taint
			}
		}
		if in.Panic != nil {
			for _, r := range logRecs {
				if r.WallTime != nil && (len(hosts) == 1 || r.Host == h) && in.Log != nil && r.Line >= x.panicLine(in) {
					t := *r.WallTime
					sys.CrashTime = &t
					break
				}
			}
		}
		if sys.Release != "" || sys.Hardware != "" || sys.Nodename != "" || sys.Taint != "" || sys.CrashTime != nil {
			in.System = &sys
		}
		in.Warnings = append(in.Warnings, x.warnings()...)
		if len(hosts) > 1 {
			in.Warn(fmt.Sprintf("the log holds %d hosts (%s); this incident is %s's", len(hosts), strings.Join(hosts, ", "), h))
		}
		out = append(out, in)
	}
	sort.SliceStable(out, func(i, j int) bool { return severity(out[i]) > severity(out[j]) })
	return out
}

func (x *extractor) panicLine(in *incident.Incident) int {
	for _, r := range in.Reports {
		if r.Message == in.Panic.Message {
			return r.FirstLine
		}
	}
	return 0
}

func pickHost(incs []*incident.Incident) *incident.Incident {
	if len(incs) == 0 {
		return &incident.Incident{}
	}
	return incs[0]
}

// severity ranks incidents: a panic, then oopses and hangs, then the rest.
func severity(in *incident.Incident) int {
	s := 0
	if in.Panic != nil {
		s += 1000
	}
	for _, r := range in.Reports {
		if significant(r.Kind) {
			s += 10
		} else {
			s++
		}
	}
	return s
}

// significant kinds can explain a crash or a hang on their own.
func significant(kind string) bool {
	switch kind {
	case incident.KindWarning, incident.KindOther, incident.KindReboot, incident.KindLockdep, incident.KindOOMKill:
		return false
	}
	return true
}

// fill sets the incident's reports, hardware errors, blocked tasks, panic
// and title from what was found for one host.
func (x *extractor) fill(in *incident.Incident, host string) {
	type item struct {
		rep    incident.Report
		family string
		boot   int
		seq    int
	}
	var items []item
	for _, f := range x.done {
		if f.rep.Host != host && host != "" && f.rep.Host != "" {
			continue
		}
		if f.blocked != nil && (f.dump || f.rep.Kind == incident.KindHungTask) {
			in.BlockedTasks = append(in.BlockedTasks, *f.blocked)
		}
		if f.dump {
			continue
		}
		items = append(items, item{f.rep, f.family, f.boot, f.seq})
	}
	for _, h := range x.hwDone {
		if h.host != host && host != "" {
			continue
		}
		in.HardwareErrs = append(in.HardwareErrs, h.he)
		if h.rep != nil {
			items = append(items, item{*h.rep, "hardware", h.boot, h.seq})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].seq < items[j].seq })
	for _, it := range items {
		in.Reports = append(in.Reports, it.rep)
	}

	// The panic: the last "Kernel panic" report; its cause, the report
	// just before it in the same boot.
	pi := -1
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].family == "Kernel panic" {
			pi = i
			break
		}
	}
	if len(items) == 0 && len(in.HardwareErrs) > 0 {
		// Only records with no report of their own (a previous boot's, or
		// corrected errors): the first names the incident.
		in.Title = hardwareTitle(&in.HardwareErrs[0])
		return
	}
	if pi < 0 {
		// No panic: the most severe report stands for the crash, the first
		// significant one names the incident.
		best, bestRank := -1, 0
		named := -1
		for i, it := range items {
			if r := kindRank(it.rep); r > bestRank {
				best, bestRank = i, r
			}
			if named < 0 && significant(it.rep.Kind) {
				named = i
			}
		}
		if named >= 0 {
			named = wholeOfBurst(items[named].rep, named, func(i int) (incident.Report, bool) {
				if i >= len(items) {
					return incident.Report{}, false
				}
				return items[i].rep, true
			})
			in.Title = items[named].rep.Title
		}
		if in.Title == "" && len(items) > 0 {
			in.Title = items[0].rep.Title
		}
		if best >= 0 {
			c := items[best].rep
			msg := crashPanicMessage(c.Lines)
			if msg == "" {
				msg = c.Message
			}
			in.Panic = &incident.Panic{Message: msg, Title: c.Title, Kind: c.Kind, CPU: c.CPU, PID: c.PID,
				Comm: c.Comm, RIP: c.RIP, Backtrace: c.Backtrace}
		}
		return
	}
	p := items[pi].rep
	cause := -1
	for i := pi - 1; i >= 0; i-- {
		if items[i].boot != items[pi].boot || items[i].family == "Kernel panic" {
			break
		}
		if items[pi].seq-items[i].seq > 3000 {
			break
		}
		cause = i
		if significant(items[i].rep.Kind) {
			break
		}
	}
	panicRep := &incident.Panic{Message: p.Message, Title: p.Title, Kind: p.Kind,
		CPU: p.CPU, PID: p.PID, Comm: p.Comm, RIP: p.RIP, Backtrace: p.Backtrace}
	in.Title = p.Title
	if cause >= 0 {
		// The first report of the burst that led to the panic names it:
		// the first of several hung tasks, the oops before "Fatal exception".
		first := cause
		for first > 0 && items[first-1].boot == items[pi].boot && items[first-1].rep.Kind == items[cause].rep.Kind &&
			items[first-1].family != "Kernel panic" && items[cause].seq-items[first-1].seq < 500 {
			first--
		}
		first = wholeOfBurst(items[first].rep, first, func(i int) (incident.Report, bool) {
			if i >= pi {
				return incident.Report{}, false
			}
			return items[i].rep, true
		})
		c := items[first].rep
		panicRep.Title, panicRep.Kind = c.Title, c.Kind
		in.Title = c.Title
		switch {
		case c.RIP != nil || oopsKind(c.Kind):
			panicRep.CPU, panicRep.PID, panicRep.Comm, panicRep.RIP = c.CPU, c.PID, c.Comm, c.RIP
			if len(c.Backtrace) > 0 {
				panicRep.Backtrace = c.Backtrace
			}
		case panicRep.Comm == "" && c.Comm != "":
			panicRep.PID, panicRep.Comm = c.PID, c.Comm
		}
		var lines []string
		for i := first; i <= pi; i++ {
			lines = append(lines, items[i].rep.Lines...)
		}
		if msg := crashPanicMessage(lines); msg != "" {
			panicRep.Message = msg
		}
	}
	in.Panic = panicRep
}

// wholeOfBurst: when the report that names an incident was cut short
// ("corrupted") and the same kind of report starts right after it — two
// CPUs faulting at once, a header printed twice — the whole one names it.
func wholeOfBurst(r incident.Report, i int, at func(int) (incident.Report, bool)) int {
	if r.Fields["corrupted"] != "true" {
		return i
	}
	for j := i + 1; ; j++ {
		n, ok := at(j)
		if !ok || n.Kind != r.Kind || n.FirstLine-r.FirstLine > 50 {
			return i
		}
		if n.Fields["corrupted"] != "true" {
			return j
		}
	}
}

// kindRank orders reports by how surely they explain a crash.
func kindRank(r incident.Report) int {
	kind := r.Kind
	switch {
	case kind == incident.KindHardwareError && r.Fields["severity"] == "corrected":
		return 1 // a corrected error explains no crash
	case kind == incident.KindAllocFailure || kind == incident.KindFilesystemError:
		return 2
	case kind == incident.KindHardwareError || kind == incident.KindMCE:
		return 7
	case oopsKind(kind) && kind != incident.KindWarning && kind != incident.KindSoftLockup && kind != incident.KindHardLockup:
		return 6
	case kind == incident.KindHardLockup || kind == incident.KindSoftLockup:
		return 5
	case kind == incident.KindRCUStall || kind == incident.KindEPTMisconfig:
		return 4
	case kind == incident.KindHungTask || kind == incident.KindOOMPanic:
		return 3
	case kind == incident.KindAtomicSleep || kind == incident.KindOOMKill:
		return 2
	case kind == incident.KindWarning:
		return 1
	}
	return 0
}

func oopsKind(kind string) bool {
	switch kind {
	case incident.KindOops, incident.KindNullDeref, incident.KindPagingRequest, incident.KindGPF, incident.KindBUG,
		incident.KindInvalidOpcode, incident.KindDoubleFault, incident.KindDivideError, incident.KindListCorrupt,
		incident.KindKASAN, incident.KindSoftLockup, incident.KindHardLockup, incident.KindWarning, incident.KindUBSAN,
		incident.KindKFENCE, incident.KindStackOverflow:
		return true
	}
	return false
}

// crashPanicMessage finds the line crash's "sys" shows as PANIC: the
// first line holding the highest-priority panic string.
func crashPanicMessage(lines []string) string {
	for _, s := range crashPanicStrings {
		for _, l := range lines {
			if strings.Contains(l, s) {
				return strings.TrimSpace(l)
			}
		}
	}
	return ""
}

// crashPanicStrings are the strings crash searches the log for to fill
// sys's PANIC line (task.c, panic_msg[]).
var crashPanicStrings = []string{
	"SysRq : Crash", "SysRq : Trigger a crash", "SysRq : Netdump", "Kernel panic: ", "Kernel panic - ",
	"Kernel BUG at", "kernel BUG at", "Unable to handle kernel paging request",
	"Unable to handle kernel NULL pointer dereference", "BUG: unable to handle kernel ",
	"general protection fault: ", "double fault: ", "divide error: ", "stack segment: ",
	"[Hardware Error]: ", "Bad mode in ", "Oops: ",
}
