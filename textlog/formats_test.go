package textlog

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/ktriage/ktriage/incident"
)

// sample is a real oops in raw dmesg form: the seed's NULL dereference.
func sample(t testing.TB) []string {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "logs", "seed-cfs-null-deref.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "[") { // drop the wiki's "..." line
			out = append(out, l)
		}
	}
	return out
}

var stampRe = regexp.MustCompile(`^\[\s*(\d+\.\d+)\] ?(.*)$`)

// rewrite builds a variant of the sample line by line.
func rewrite(lines []string, f func(i int, ts, msg string) string) string {
	var b strings.Builder
	for i, l := range lines {
		m := stampRe.FindStringSubmatch(l)
		b.WriteString(f(i, m[1], m[2]))
		b.WriteByte('\n')
	}
	return b.String()
}

func checkNullDeref(t *testing.T, in *incident.Incident) {
	t.Helper()
	rs := reportsOfKind(in, incident.KindNullDeref)
	if len(rs) != 1 {
		t.Fatalf("null-deref reports: %d; all: %+v", len(rs), in.Reports)
	}
	r := rs[0]
	if r.Title != "BUG: unable to handle kernel NULL pointer dereference in rb_next" || r.Fields["address"] != "0x10" {
		t.Errorf("title %q address %q", r.Title, r.Fields["address"])
	}
	if len(r.Backtrace) != 10 || r.Backtrace[0].Function != "pick_next_task_fair" || r.Comm != "java" {
		t.Errorf("backtrace %d frames, comm %q", len(r.Backtrace), r.Comm)
	}
}

func TestFormats(t *testing.T) {
	lines := sample(t)
	json1 := func(host, msg string, prio int, us int64) string {
		b, _ := json.Marshal(map[string]string{"__REALTIME_TIMESTAMP": fmt.Sprint(1505187505000000 + us),
			"_SOURCE_MONOTONIC_TIMESTAMP": fmt.Sprint(47113590000000 + us), "_HOSTNAME": host,
			"MESSAGE": msg, "PRIORITY": fmt.Sprint(prio), "_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel"})
		return string(b)
	}
	cases := []struct {
		name, format, text string
		host               string
	}{
		{"dmesg", "dmesg", strings.Join(lines, "\n"), ""},
		{"levels", "dmesg", rewrite(lines, func(i int, ts, msg string) string { return fmt.Sprintf("<4>[%s] %s", ts, msg) }), ""},
		{"caller ids", "dmesg", rewrite(lines, func(i int, ts, msg string) string { return fmt.Sprintf("[%s][ T16179] %s", ts, msg) }), ""},
		{"dmesg -T", "dmesg -T", rewrite(lines, func(i int, ts, msg string) string { return "[Tue Sep 12 11:38:25 2017] " + msg }), ""},
		{"syslog", "syslog", rewrite(lines, func(i int, ts, msg string) string {
			s := fmt.Sprintf("Sep 12 11:38:25 app-7 kernel: [%s] %s", ts, msg)
			if i%5 == 0 {
				s = "Sep 12 11:38:25 app-7 systemd[1]: Started Session 12 of user root.\n" + s
			}
			return s
		}), "app-7"},
		{"journal short-precise", "journal-short-precise", rewrite(lines, func(i int, ts, msg string) string {
			return fmt.Sprintf("Sep 12 11:38:25.%06d app-7 kernel: %s", i, msg)
		}), "app-7"},
		{"rfc3339", "syslog-rfc3339", rewrite(lines, func(i int, ts, msg string) string {
			return fmt.Sprintf("2017-09-12T11:38:25.%06d+08:00 app-7 kernel: %s", i, msg)
		}), "app-7"},
		{"openwrt logread", "logread", rewrite(lines, func(i int, ts, msg string) string {
			s := fmt.Sprintf("Tue Sep 12 11:38:25 2017 kern.warn kernel: [%s] %s", ts, msg)
			if i%5 == 0 {
				s = "Tue Sep 12 11:38:25 2017 daemon.info dnsmasq[1]: read /etc/hosts - 4 names\n" + s
			}
			return s
		}), ""},
		{"journal json", "journal-json", rewrite(lines, func(i int, ts, msg string) string { return json1("app-7", msg, 4, int64(i)) }), "app-7"},
		{"console", "console", rewrite(lines, func(i int, ts, msg string) string {
			s := fmt.Sprintf("[%s] %s", ts, msg)
			switch i % 4 {
			case 1: // a program's line between the kernel's
				s = "\x1b[0;32m  OK  \x1b[0m] Reached target Shutdown.\n" + s
			case 2: // a program's output glued in front of a kernel line
				s = "Starting \x1b[0;1;39mudev.service\x1b[0m." + s
			}
			return s
		}), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := Parse(strings.NewReader(c.text), c.name)
			if err != nil {
				t.Fatal(err)
			}
			if in.Source.Format != c.format || in.Source.Kind != "log" {
				t.Errorf("format %q kind %q, want %q", in.Source.Format, in.Source.Kind, c.format)
			}
			if in.Source.Host != c.host || c.host != "" && (in.System == nil || in.System.Nodename != c.host) {
				t.Errorf("host %q system %+v, want %q", in.Source.Host, in.System, c.host)
			}
			checkNullDeref(t, in)
		})
	}
}

func TestCompressed(t *testing.T) {
	text := []byte(strings.Join(sample(t), "\n"))
	var gz, xzb, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(text)
	gw.Close()
	xw, err := xz.NewWriter(&xzb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(text)
	xw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(text)
	zw.Close()
	for name, data := range map[string][]byte{"gzip": gz.Bytes(), "xz": xzb.Bytes(), "zstd": zs.Bytes()} {
		t.Run(name, func(t *testing.T) {
			in, err := Parse(bytes.NewReader(data), "log."+name)
			if err != nil {
				t.Fatal(err)
			}
			if in.Source.Format != "dmesg ("+name+")" {
				t.Errorf("format %q", in.Source.Format)
			}
			checkNullDeref(t, in)
		})
	}
	if _, err := Parse(bytes.NewReader([]byte{0x1f, 0x8b, 8, 0, 1, 2}), "broken.gz"); err == nil {
		t.Error("a damaged gzip stream parsed without error")
	}
	for name, data := range map[string][]byte{"elf": []byte("\x7fELF\x02\x01\x01"), "kdump": []byte("KDUMP   \x06\x00"),
		"binary": bytes.Repeat([]byte{0, 1, 2, 3}, 100)} {
		if _, err := Parse(bytes.NewReader(data), name); !errors.Is(err, ErrNotText) {
			t.Errorf("%s: err = %v, want ErrNotText", name, err)
		}
	}
}

// TestHosts: a syslog file that gathers two machines keeps them apart.
func TestHosts(t *testing.T) {
	oops := sample(t)
	hung, err := os.ReadFile(filepath.Join("..", "testdata", "logs", "seed-hung-task-fsfreeze.log"))
	if err != nil {
		t.Fatal(err)
	}
	var hungLines []string
	for _, l := range strings.Split(string(hung), "\n") {
		if strings.HasPrefix(l, "[") {
			hungLines = append(hungLines, l)
		}
	}
	var b strings.Builder
	for i := 0; i < len(oops) || i < len(hungLines); i++ {
		if i < len(oops) {
			fmt.Fprintf(&b, "Sep 12 11:38:25 db-1 kernel: %s\n", oops[i])
		}
		if i < len(hungLines) {
			fmt.Fprintf(&b, "Sep 12 11:38:26 web-2 kernel: %s\n", hungLines[i])
		}
	}
	incs, err := ParseHostsWith(strings.NewReader(b.String()), "messages", Options{Year: 2017})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 2 {
		t.Fatalf("%d incidents, want 2", len(incs))
	}
	byHost := map[string]*incident.Incident{}
	for _, in := range incs {
		byHost[in.Source.Host] = in
	}
	checkNullDeref(t, byHost["db-1"])
	web := byHost["web-2"]
	if web == nil || len(web.BlockedTasks) != 4 || len(reportsOfKind(web, incident.KindNullDeref)) != 0 {
		t.Fatalf("web-2: %+v", web)
	}
	if web.Title != "INFO: task hung in __sb_start_write" {
		t.Errorf("web-2 title %q", web.Title)
	}
	r := web.Reports[0]
	if r.Time == nil || *r.Time != 494886.031776 || web.Log[0].WallTime == nil || web.Log[0].WallTime.Year() != 2017 {
		t.Errorf("time %v wall %v", r.Time, web.Log[0].WallTime)
	}
}

// RHEL kernels print their support state between the taint letters and
// the release; the task, taint and release are still read.
func TestRHELTaintLine(t *testing.T) {
	for _, line := range []string{
		"CPU: 21 PID: 0 Comm: swapper/21 Kdump: loaded Tainted: P           OE  ------------   3.10.0-1062.el7.x86_64 #1",
		"CPU: 0 PID: 5117 Comm: stress Kdump: loaded Tainted: G           OE    --------  ---  5.14.0-285.el9.x86_64 #1",
		"CPU: 3 PID: 77 Comm: kworker/3:1 Tainted: G        W IOE    --------- -  - 4.18.0-240.el8.x86_64 #1",
	} {
		in, err := Parse(strings.NewReader("[ 1.000000] BUG: unable to handle kernel NULL pointer dereference at 0000000000000008\n[ 1.000001] "+line+"\n"), "rhel")
		if err != nil {
			t.Fatal(err)
		}
		r := in.Reports[0]
		if r.Comm == "" || r.PID == nil || !strings.Contains(r.Release, ".el") || r.Taint == "" || strings.Contains(r.Taint, "-") {
			t.Errorf("%q: comm %q pid %v release %q taint %q", line, r.Comm, r.PID, r.Release, r.Taint)
		}
	}
}

// A machine that lost power while writing its log leaves a block of zeros
// after the last lines: the log is still read, the zeros skipped and said.
func TestLogWithNULBlock(t *testing.T) {
	path := filepath.Join("..", "testdata", "logs", "real", "02-opencas-iotrace-null.log")
	clean, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(bytes.NewReader(clean), "clean")
	if err != nil {
		t.Fatal(err)
	}
	damaged := append(append(append([]byte{}, clean...), make([]byte, 4096)...), "[ 5800.000000] reboot: Restarting system\n"...)
	in, err := Parse(bytes.NewReader(damaged), "damaged")
	if err != nil {
		t.Fatalf("log with a NUL block refused: %v", err)
	}
	if in.Title != want.Title || in.Title == "" {
		t.Errorf("title %q, without the zeros %q", in.Title, want.Title)
	}
	if !strings.Contains(strings.Join(in.Warnings, "\n"), "4096 NUL bytes skipped") {
		t.Errorf("warnings %q do not say the zeros were skipped", in.Warnings)
	}
	// Binary data is still refused.
	bin := bytes.Repeat([]byte{0, 1, 2, 3, 0x7f, 'a'}, 2000)
	if _, err := Parse(bytes.NewReader(bin), "binary"); err == nil {
		t.Error("binary data read as a log")
	}
}

// A collector that stamps the console with its own date and nothing else:
// "2017-12-05 07:00:50 NMI watchdog: ..." is the kernel's text, not the
// syslog line of a host "NMI" and a program "watchdog".
func TestCollectorISOStamps(t *testing.T) {
	log := "2017-12-05 07:00:37 kpatch: loading out-of-tree module taints kernel.\n" +
		"2017-12-05 07:00:50 NMI watchdog: Watchdog detected hard LOCKUP on cpu 0\n" +
		"2017-12-05 07:00:50 CPU: 0 PID: 11 Comm: migration/0 Tainted: G O 4.4.83+529-ph #1\n"
	in, err := Parse(strings.NewReader(log), "collector")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Reports) != 1 || in.Reports[0].Kind != incident.KindHardLockup || in.Reports[0].Comm != "migration/0" {
		t.Fatalf("reports %+v", in.Reports)
	}
	// Beside lines that name the kernel, the same shape is another program's.
	log = "2017-12-05 07:00:49 host1 kernel: [  1.000000] Linux version 4.4.83 (gcc) #1\n" +
		"2017-12-05 07:00:50 host1 sshd: Accepted publickey for root\n"
	in, err = Parse(strings.NewReader(log), "syslog")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range in.Log {
		if strings.Contains(r.Text, "Accepted") {
			t.Errorf("sshd's line read as the kernel's: %+v", r)
		}
	}
}

// A log wrapped by a mail client: the CPU line cut before its release and
// the header cut after a comma are glued back.
func TestWrappedLines(t *testing.T) {
	in, err := ParseFile(filepath.Join("..", "testdata", "logs", "real", "27-baytrail-page-alloc-email-wrapped.log"))
	if err != nil {
		t.Fatal(err)
	}
	r := in.Reports[0]
	if r.Release != "4.12.0-rc3-android-x86+" || r.Taint != "G WC O" || r.Comm != "RenderThread" || r.PID == nil || *r.PID != 12353 {
		t.Errorf("release %q taint %q comm %q pid %v", r.Release, r.Taint, r.Comm, r.PID)
	}
	if !strings.Contains(r.Message, "nodemask=(null)") {
		t.Errorf("header %q not glued back", r.Message)
	}
}

// Console noise after a cut line is not glued on without end: a wrapped
// line comes back in a few pieces.
func TestWrappedLinesBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("[    1.000000] BUG: unable to handle kernel NULL pointer dereference at 0000000000000008\n")
	b.WriteString("[    1.000001] CPU: 67 PID: 0 Comm: swapper\n")
	for i := 0; i < 20000; i++ {
		b.WriteString("noise from another program, line after line,\n")
	}
	in, err := Parse(strings.NewReader(b.String()), "noise")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range in.Reports[0].Lines {
		if len(l) > 1024 {
			t.Fatalf("a line of %d bytes grew from wrapped pieces", len(l))
		}
	}
}

// A log quoted inside a sentence keeps its opening '"' on the first line;
// the syslog stamp after it is still the line's prefix.
func TestQuotedSentencePrefix(t *testing.T) {
	l := decodeLine(`"Nov 29 01:00:04 localhost kernel: Out of memory: Kill process 21578 (redis-server) score 555 or sacrifice child`)
	if l.format != FormatSyslog || l.rec.Host != "localhost" || !strings.HasPrefix(l.rec.Text, "Out of memory: Kill process 21578") {
		t.Errorf("format %v host %q text %q", l.format, l.rec.Host, l.rec.Text)
	}
}

// A crash time read from stamps without a year (BSD syslog) or without a
// zone (dmesg -T, ISO stamps without one) is said to rest on an assumption; ISO stamps with a zone
// need no such note.
func TestStampNote(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"syslog", "Mar 12 13:22:14 egzos kernel: BUG: unable to handle kernel NULL pointer dereference at 0000000000000010\nMar 12 13:22:14 egzos kernel: Oops: 0000 [#1] SMP\n",
			"no year and no time zone: DATE's year (2017)"},
		{"dmesg -T", "[Thu Mar 25 00:50:20 2021] BUG: unable to handle kernel NULL pointer dereference at 0000000000000010\n[Thu Mar 25 00:50:20 2021] Oops: 0000 [#1] SMP\n",
			"carry no time zone: DATE reads"},
		{"iso without a zone", "2017-03-12 13:22:14 egzos kernel: BUG: unable to handle kernel NULL pointer dereference at 0000000000000010\n2017-03-12 13:22:14 egzos kernel: Oops: 0000 [#1] SMP\n",
			"carry no time zone: DATE reads"},
		{"syslog-level without a zone", "2017-03-12 13:22:14.012 err kernel: BUG: unable to handle kernel NULL pointer dereference at 0000000000000010\n2017-03-12 13:22:14.013 warn kernel: Oops: 0000 [#1] SMP\n",
			"carry no time zone: DATE reads"},
		{"iso", "2017-03-12T13:22:14.000000+01:00 egzos kernel: BUG: unable to handle kernel NULL pointer dereference at 0000000000000010\n2017-03-12T13:22:14.000000+01:00 egzos kernel: Oops: 0000 [#1] SMP\n", ""},
	} {
		incs, err := ParseHostsWith(strings.NewReader(c.text), c.name, Options{Year: 2017})
		if err != nil {
			t.Fatal(err)
		}
		in := incs[0]
		if in.System == nil || in.System.CrashTime == nil {
			t.Fatalf("%s: no crash time", c.name)
		}
		got := strings.Join(in.Warnings, "\n")
		if c.want == "" && strings.Contains(got, "stamps") || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: warnings %q, want %q", c.name, got, c.want)
		}
	}
}
