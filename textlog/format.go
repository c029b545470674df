package textlog

import (
	"encoding/json"
	"github.com/ktriage/ktriage/internal/lazyre"
	"strconv"
	"strings"
	"time"

	"github.com/ktriage/ktriage/incident"
)

// Format names one layout of kernel log lines. A file is described by its
// dominant format; every line is still decoded on its own, so files that
// mix formats (a console capture with syslog pasted in) keep working.
type Format string

const (
	FormatDmesg         Format = "dmesg"                 // [ts] msg, optional <lvl> and [T123]/[C1]
	FormatDmesgWall     Format = "dmesg -T"              // [Mon Sep 12 11:38:25 2017] msg
	FormatVmcoreDmesg   Format = "vmcore-dmesg"          // dmesg written by kexec-tools or makedumpfile
	FormatSyslog        Format = "syslog"                // Mon dd hh:mm:ss host kernel: msg (also journalctl short)
	FormatSyslogISO     Format = "syslog-rfc3339"        // 2017-06-30T16:25:43.012+08:00 host kernel: msg
	FormatSyslogLevel   Format = "syslog-level"          // 2017-06-30 16:25:43.012 err kernel: msg
	FormatJournalPrecis Format = "journal-short-precise" // Mon dd hh:mm:ss.uuuuuu host kernel: msg
	FormatJournalJSON   Format = "journal-json"          // journalctl -o json
	FormatLogread       Format = "logread"               // Tue Aug 12 16:40:43 2025 kern.crit kernel: msg (OpenWrt)
	FormatConsole       Format = "console"               // dmesg lines among other serial output
	FormatPlain         Format = "plain"                 // kernel messages without any prefix
)

// line is one decoded input line.
type line struct {
	rec    incident.LogRecord
	format Format
	// foreign is a syslog or journal line from another program: counted for
	// format detection, never a kernel record.
	foreign bool
	// asKernel is how a foreign line with a bare ISO stamp reads if the
	// log turns out to be a collector's capture of the console, where
	// "2017-12-05 07:00:50 NMI watchdog: ..." is the kernel's own text.
	asKernel *line
	raw      string // the input line, kept only while asKernel is decided
	// kernelIdent: a syslog or journal line that names the kernel as its
	// program.
	kernelIdent bool
	// bare is a line without any kernel prefix (console noise, or a log
	// that carries no stamps at all).
	bare bool
	// stamp is the raw wall-clock stamp when it lacks a year (BSD syslog).
	month, day int
	clock      string
	// zoneless: a wall stamp with a date but no time zone (an ISO stamp
	// without Z or an offset), read as UTC.
	zoneless bool
}

var (
	// <4>[   12.345678][  T123] msg — every part optional but the stamp.
	// A caller id of digits alone ("[0]") is the CPU some vendor kernels print.
	dmesgRe = lazyre.New(`^(?:<(\d{1,3})>)?\[\s*(\d+\.\d+)\](?:\[\s*([TC]?\d+)\])?(?: ?<([0-7])>)? ?(.*)$`)
	// <0>msg — vmcore-dmesg of kernels before 3.5 and crash's log -m.
	levelOnlyRe = lazyre.New(`^<([0-7])>(.*)$`)
	cutStampRe  = lazyre.New(`^\s*(\d{1,8}\.\d{6})\] ?(.*)$`)
	dmesgWallRe = lazyre.New(`^\[((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4})\](?:\[\s*([TC]\d+)\])? ?(.*)$`)
	// The month is whatever the writer's locale abbreviates it to ("Jul",
	// "juil.", "июл", "heinä"); the host may be absent ("Jul 19 21:58:29
	// kernel: ..."), and some collectors print the facility.level between
	// host and program ("fritz kern.warn kernel: ...").
	bsdRe = lazyre.New(`^(\pL{2,10}\.?) +(\d{1,2}),? (\d\d:\d\d:\d\d)(\.\d+)?\s+(?:(kernel|vmunix):|(\S+)\s+(?:([a-z]+)\.([a-z]+)\s+)?([^\s:\[]+)(?:\[\d+\])?:) ?(.*)$`)
	// OpenWrt's logread: a ctime stamp with the year, facility.level, then
	// the program ("Tue Aug 12 16:40:43 2025 kern.crit kernel: [ 1.0] msg").
	logreadRe = lazyre.New(`^((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}) [a-z0-9]+\.([a-z]+) ([^\s:\[]+)(?:\[\d+\])?: ?(.*)$`)
	isoRe     = lazyre.New(`^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)? (\S+) ([^\s:\[]+)(?:\[\d+\])?: ?(.*)$`)
	isoBareRe = lazyre.New(`^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?\s+(.*)$`)
	ansiRe    = lazyre.New(`\x1b\[[0-9;?]*[A-Za-z]`)
)

// months maps the month abbreviations strftime's %b prints in common
// locales (lower-cased, without a trailing dot) to month numbers. A name
// not listed still reads as a stamp, without a date.
var months = func() map[string]int {
	m := map[string]int{}
	for i, names := range [12]string{
		"jan janv ene gen sty tammi янв",
		"feb févr fev lut helmi фев",
		"mar mars mär mrt maalis мар",
		"apr avr avril abr kwi huhti апр",
		"may mai mag maj mei touko мая май",
		"jun juin giu cze kesä июн",
		"jul juil lug lip heinä июл",
		"aug août ago sie elo авг",
		"sep sept set wrz syys сен",
		"oct okt ott out paź loka окт",
		"nov lis marras ноя",
		"dec déc dez dic gru joulu дек",
	} {
		for _, n := range strings.Fields(names) {
			m[n] = i + 1
		}
	}
	return m
}()

func monthNumber(name string) int {
	return months[strings.ToLower(strings.TrimSuffix(name, "."))]
}

// syslogSeverity maps the severity words some collectors print in place of
// the host ("2017-06-30 16:25:43.012 err kernel: ...") to printk levels.
var syslogSeverity = map[string]int{"emerg": 0, "panic": 0, "alert": 1, "crit": 2, "err": 3, "error": 3,
	"warning": 4, "warn": 4, "notice": 5, "info": 6, "debug": 7}

// decodeLine splits one input line into its prefix fields and the kernel
// message. It never fails: a line it does not recognise is a bare message.
func decodeLine(s string) line {
	l := decodeLineAs(s)
	if l.bare {
		// A log pasted into a bug thread or a mail carries the paste's own
		// prefix before each line: quote marks, indentation, markdown,
		// line numbers from grep -n or an editor.
		if rest, ok := cutPastePrefix(s); ok {
			if l2 := decodeLineAs(rest); !l2.bare {
				return l2
			}
		}
	}
	return l
}

// cutPastePrefix removes what a paste puts before a log line: ">" quote
// marks, the opening '"' of a log quoted inside a sentence, "|", markdown
// "*" and "`", blanks, then a line number ("123:", "123-", "123 ").
func cutPastePrefix(s string) (string, bool) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t>|*`\"", s[i]) >= 0 {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j > i && j < len(s) && (s[j] == ':' || s[j] == '-' || s[j] == ' ') {
		i = j + 1
	}
	return s[i:], i > 0 && i < len(s)
}

func decodeLineAs(s string) line {
	s = strings.TrimRight(s, "\r\n")
	// Typography of web pages: "+0×83/0xd7" (× is 0xc3 0x97 in UTF-8;
	// looking for its rare first byte keeps plain lines fast).
	if strings.IndexByte(s, 0xc3) >= 0 && strings.Contains(s, "0×") {
		s = strings.ReplaceAll(s, "0×", "0x")
	}
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansiRe.ReplaceAllString(s, "")
	}
	if strings.IndexByte(s, '\r') >= 0 { // console redraws: keep what was shown last
		s = s[strings.LastIndexByte(s, '\r')+1:]
	}
	var l line
	l.rec.Level = -1
	if strings.HasPrefix(s, "{") && strings.Contains(s, `"MESSAGE"`) {
		if decodeJournalJSON(s, &l) {
			return l
		}
	}
	c0 := byte(0)
	if s != "" {
		c0 = s[0]
	}
	if c0 >= 'A' && c0 <= 'Z' || c0 >= 'a' && c0 <= 'z' || c0 >= 0x80 {
		if m := bsdRe.FindStringSubmatch(s); m != nil {
			return decodeBSD(l, m)
		}
		if m := logreadRe.FindStringSubmatch(s); m != nil {
			return decodeLogread(l, m)
		}
	}
	if c0 >= '0' && c0 <= '9' {
		if m := isoRe.FindStringSubmatch(s); m != nil {
			l.raw = s
			return decodeISO(l, m)
		}
		// A collector's own stamp before the kernel's text, with no host or
		// program: "2017-12-05 07:00:50 NMI watchdog: ..." (netconsole and
		// serial loggers).
		if m := isoBareRe.FindStringSubmatch(s); m != nil {
			return decodeISOBare(l, m)
		}
	}
	if c0 == '[' && len(s) > 1 && s[1] >= 'A' && s[1] <= 'Z' {
		if m := dmesgWallRe.FindStringSubmatch(s); m != nil {
			l.format = FormatDmesgWall
			if t, err := time.Parse("Mon Jan _2 15:04:05 2006", m[1]); err == nil {
				l.rec.WallTime = &t
			}
			l.rec.Caller = m[2]
			l.rec.Text = m[3]
			return l
		}
	}
	l.format = FormatDmesg
	decodeKernelMessage(s, &l)
	return l
}

func decodeBSD(l line, m []string) line {
	l.format = FormatSyslog
	if m[4] != "" {
		l.format = FormatJournalPrecis
	}
	l.month, l.day, l.clock = monthNumber(m[1]), atoi(m[2]), m[3]+m[4]
	if l.month == 0 {
		l.day = 0 // a locale we do not know: the clock alone
	}
	if lvl, ok := syslogSeverity[m[8]]; ok && m[7] != "" {
		l.rec.Level = lvl
	}
	if m[5] != "" { // no host: "Jul 19 21:58:29 kernel: ..."
		return decodeSyslogBody(l, "", m[5], m[10])
	}
	return decodeSyslogBody(l, m[6], m[9], m[10])
}

func decodeLogread(l line, m []string) line {
	l.format = FormatLogread
	if t, err := time.Parse("Mon Jan _2 15:04:05 2006", m[1]); err == nil {
		l.rec.WallTime = &t
	}
	if lvl, ok := syslogSeverity[m[2]]; ok {
		l.rec.Level = lvl
	}
	return decodeSyslogBody(l, "", m[3], m[4])
}

func decodeISO(l line, m []string) line {
	{
		l.format = FormatSyslogISO
		host := m[5]
		if lvl, ok := syslogSeverity[strings.ToLower(host)]; ok {
			l.format = FormatSyslogLevel
			l.rec.Level = lvl
			host = ""
		}
		if t, ok := parseISO(m[1], m[2], m[3], m[4]); ok {
			l.rec.WallTime, l.zoneless = &t, m[4] == ""
		}
		out := decodeSyslogBody(l, host, m[6], m[7])
		if out.foreign {
			if b := isoBareRe.FindStringSubmatch(out.raw); b != nil {
				k := decodeISOBare(line{rec: incident.LogRecord{Level: -1}}, b)
				out.asKernel = &k
			}
		}
		return out
	}
}

// decodeISOBare reads a line whose ISO stamp is followed by the kernel's
// text with no host or program.
func decodeISOBare(l line, m []string) line {
	if t, ok := parseISO(m[1], m[2], m[3], m[4]); ok {
		l.rec.WallTime, l.zoneless = &t, m[4] == ""
	}
	decodeKernelMessage(m[5], &l)
	l.bare, l.format = false, FormatSyslogISO // the collector's stamp is the line's layout
	return l
}

// decodeSyslogBody fills a syslog line's host and, for kernel lines, the
// kernel message that follows "kernel:".
func decodeSyslogBody(l line, host, ident, msg string) line {
	l.rec.Host = host
	if ident != "kernel" && ident != "vmunix" {
		l.foreign = true
		l.rec.Text = msg
		return l
	}
	lvl := l.rec.Level
	f := l.format
	l.kernelIdent = true
	decodeKernelMessage(msg, &l)
	l.format = f
	l.bare = false
	if l.rec.Level < 0 {
		l.rec.Level = lvl
	}
	return l
}

// decodeKernelMessage reads the dmesg prefix of a kernel message: level,
// seconds since boot and caller id.
func decodeKernelMessage(s string, l *line) {
	if ts, rest, ok := fastStamp(s); ok {
		l.rec.Time = &ts
		l.rec.Text = rest
		cutMessagePrefix(l)
		return
	}
	if m := dmesgRe.FindStringSubmatch(s); m != nil {
		if m[1] != "" {
			l.rec.Level = atoi(m[1]) & 7
		} else if m[4] != "" {
			l.rec.Level = atoi(m[4])
		}
		if ts, err := strconv.ParseFloat(m[2], 64); err == nil {
			l.rec.Time = &ts
		}
		l.rec.Caller = m[3]
		if c := m[3]; c != "" && c[0] >= '0' && c[0] <= '9' {
			l.rec.Caller = "C" + c
		}
		l.rec.Text = m[5]
		cutMessagePrefix(l)
		return
	}
	// dmesg -H: "[Mar 8 17:07] msg" opens a minute, "[  +0.000005] msg"
	// continues it; neither gives seconds since boot.
	if m := humanStampRe.FindStringSubmatch(s); m != nil {
		l.rec.Text = m[1]
		cutMessagePrefix(l)
		return
	}
	if m := levelOnlyRe.FindStringSubmatch(s); m != nil {
		l.rec.Level = atoi(m[1])
		l.rec.Text = m[2]
		l.format = FormatVmcoreDmesg
		return
	}
	// A paste whose selection began a character late: "22734.139015] msg".
	// Only the kernel's six-digit precision is taken for a stamp.
	if m := cutStampRe.FindStringSubmatch(s); m != nil {
		if ts, err := strconv.ParseFloat(m[1], 64); err == nil {
			l.rec.Time = &ts
		}
		l.rec.Text = m[2]
		cutMessagePrefix(l)
		return
	}
	// A console interleaves other programs' output with the kernel's on
	// the same line ("el.service [0m.[  288.56][T21583] WARNING: ...");
	// the kernel message starts at its stamp.
	if loc := embeddedStampRe.FindStringIndex(s); loc != nil && loc[0] > 0 {
		decodeKernelMessage(s[loc[0]:], l)
		return
	}
	// journalctl -o cat without the date, or a paste that lost it:
	// "kernel: msg".
	if rest, ok := strings.CutPrefix(s, "kernel: "); ok {
		l.format = FormatSyslog
		l.rec.Text = rest
		return
	}
	l.bare = true
	l.format = FormatPlain
	l.rec.Text = s
}

var (
	humanStampRe = lazyre.New(`^\[(?:\s*\+\d+\.\d+|[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d(?::\d\d)?)\] ?(.*)$`)
	// Qualcomm's printk prefix after the stamp: "c3   2869 msg" (CPU, pid).
	msmPrefixRe = lazyre.New(`^c\d{1,3} +(\d{1,7}) `)
)

// cutMessagePrefix removes what some writers put between the stamp and
// the message: the "kernel: " of journalctl -o short-monotonic without a
// host, Qualcomm's CPU and pid.
func cutMessagePrefix(l *line) {
	t := l.rec.Text
	if rest, ok := strings.CutPrefix(t, "kernel: "); ok {
		l.rec.Text = rest
		return
	}
	if len(t) > 3 && t[0] == 'c' && t[1] >= '0' && t[1] <= '9' {
		if m := msmPrefixRe.FindStringSubmatch(t); m != nil {
			l.rec.Text = t[len(m[0]):]
			if l.rec.Caller == "" {
				l.rec.Caller = "T" + m[1]
			}
		}
	}
}

// embeddedStampRe finds a dmesg stamp (microsecond precision, as the
// kernel prints it) inside a line.
var embeddedStampRe = lazyre.New(`\[\s*\d+\.\d{6}\](?:\[\s*[TC]\d+\])? `)

// journalEntry is the subset of journalctl -o json fields we read.
type journalEntry struct {
	Message    json.RawMessage `json:"MESSAGE"`
	Realtime   string          `json:"__REALTIME_TIMESTAMP"`
	Monotonic  string          `json:"_SOURCE_MONOTONIC_TIMESTAMP"`
	Host       string          `json:"_HOSTNAME"`
	Priority   string          `json:"PRIORITY"`
	Transport  string          `json:"_TRANSPORT"`
	Identifier string          `json:"SYSLOG_IDENTIFIER"`
}

func decodeJournalJSON(s string, l *line) bool {
	var e journalEntry
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return false
	}
	l.format = FormatJournalJSON
	l.rec.Host = e.Host
	var msg string
	if err := json.Unmarshal(e.Message, &msg); err != nil {
		// Messages that are not valid UTF-8 are exported as byte arrays.
		var raw []byte
		var nums []int
		if json.Unmarshal(e.Message, &nums) == nil {
			for _, n := range nums {
				raw = append(raw, byte(n))
			}
		}
		msg = string(raw)
	}
	l.rec.Text = strings.TrimRight(msg, "\n")
	if p, err := strconv.Atoi(e.Priority); err == nil {
		l.rec.Level = p
	}
	if us, err := strconv.ParseInt(e.Realtime, 10, 64); err == nil {
		t := time.UnixMicro(us).UTC()
		l.rec.WallTime = &t
	}
	if us, err := strconv.ParseInt(e.Monotonic, 10, 64); err == nil {
		ts := float64(us) / 1e6
		l.rec.Time = &ts
	}
	l.foreign = e.Transport != "kernel" && e.Identifier != "kernel"
	return true
}

func parseISO(date, clock, frac, zone string) (time.Time, bool) {
	layout := "2006-01-02 15:04:05"
	v := date + " " + clock
	if frac != "" {
		layout += frac[:1] + strings.Repeat("9", len(frac)-1)
		v += frac
	}
	switch {
	case zone == "Z":
		layout += "Z07:00"
		v += zone
	case len(zone) == 5: // +0800
		layout += "-0700"
		v += zone
	case zone != "":
		layout += "-07:00"
		v += zone
	}
	t, err := time.Parse(layout, v)
	return t, err == nil
}

// fastStamp decodes the common "[  12.345678] msg" prefix without a
// regular expression; anything unusual goes the slow way.
func fastStamp(s string) (float64, string, bool) {
	if len(s) < 3 || s[0] != '[' {
		return 0, "", false
	}
	end := strings.IndexByte(s, ']')
	if end < 2 || end+1 < len(s) && s[end+1] == '[' {
		return 0, "", false // caller id follows: slow path
	}
	num := strings.TrimLeft(s[1:end], " ")
	if num == "" || strings.IndexFunc(num, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }) >= 0 ||
		strings.IndexByte(num, '.') < 0 {
		return 0, "", false
	}
	ts, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, "", false
	}
	rest := s[end+1:]
	if strings.HasPrefix(rest, " <") {
		return 0, "", false // "[ts] <4> msg": level after the stamp
	}
	return ts, strings.TrimPrefix(rest, " "), true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
