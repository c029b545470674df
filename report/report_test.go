package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

func sample() *incident.Incident {
	cpu, pid := 3, 16179
	t1, t2 := 47113590.457363, 47113590.458030
	return &incident.Incident{
		Title:  "BUG: unable to handle kernel NULL pointer dereference in pick_next_task_fair",
		Source: incident.Source{Path: "vmcore-dmesg.txt", Kind: "log", Format: "dmesg"},
		System: &incident.System{Release: "3.10.0-229.el7.x86_64", Nodename: "xg-napos-shop-service-11", CPUs: 24},
		Panic: &incident.Panic{
			Message: "BUG: unable to handle kernel NULL pointer dereference at 0000000000000010",
			CPU:     &cpu, PID: &pid, Comm: "java",
			RIP:       &incident.Frame{Function: "rb_next", Offset: 1, Size: 0x50, Reliable: true},
			Backtrace: []incident.Frame{{Function: "pick_next_task_fair", Offset: 0x129, Size: 0x1d0}, {Function: "__schedule", Offset: 0x122, Size: 0x7b0, Reliable: true}},
		},
		BlockedTasks: []incident.BlockedTask{
			{PID: 192, Comm: "dd", State: "UN", Backtrace: []incident.Frame{{Function: "percpu_rwsem_wait", Reliable: true}, {Function: "vfs_write", Reliable: true}}},
			{PID: 193, Comm: "dd", State: "UN", Backtrace: []incident.Frame{{Function: "percpu_rwsem_wait", Reliable: true}, {Function: "vfs_write", Reliable: true}}},
		},
		Findings: []incident.Finding{{
			ID: "rhel7-cfs-throttle-null-deref", Title: "CFS NULL dereference", Severity: "high", Confidence: "high",
			Cause: "throttled cfs_rq", Fix: "Upgrade to kernel-3.10.0-327.44.2.el7", Commands: []string{"uname -r"},
			Evidence: []string{"backtrace: rb_next ← pick_next_task_fair"}, References: []string{"https://access.redhat.com/errata/RHBA-2016:2966"},
			Applies: "affected", AppliesNote: "3.10.0-229.el7 is below 3.10.0-327.44.2.el7",
		}},
		Log: []incident.LogRecord{
			{Time: &t1, Text: "app: <script>alert('pwned')</script> & more", Level: 6},
			{Time: &t2, Text: "BUG: unable to handle kernel NULL pointer dereference at 0000000000000010", Level: 1},
		},
		Warnings: []string{"no vmcore: tasks come from the log"},
	}
}

func render(t *testing.T, in *incident.Incident, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, in, format, Options{}); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return b.String()
}

func TestHTMLEscapesKernelText(t *testing.T) {
	out := render(t, sample(), "html")
	if strings.Contains(out, "<script>") {
		t.Fatal("a log line's <script> reached the page unescaped")
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; more") {
		t.Errorf("the log line is not shown as text")
	}
	for _, external := range []string{"<link", "src=", "http-equiv=\"refresh\"", "@import"} {
		if strings.Contains(out, external) {
			t.Errorf("page refers to something outside itself: %s", external)
		}
	}
	verdict := strings.Index(out, "CFS NULL dereference")
	system := strings.Index(out, "<h2>System</h2>")
	if verdict < 0 || system < 0 || verdict > system {
		t.Errorf("the verdict does not lead the page (verdict at %d, system at %d)", verdict, system)
	}
}

func TestTextLeadsWithVerdict(t *testing.T) {
	out := render(t, sample(), "text")
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "CRASH: BUG: unable to handle") || !strings.HasPrefix(lines[1], "VERDICT: [HIGH] CFS NULL dereference") {
		t.Fatalf("head:\n%s", strings.Join(lines[:3], "\n"))
	}
	for _, want := range []string{"RELEASE:", "3.10.0-229.el7.x86_64", "RIP   rb_next+0x1/0x50", "#0 ? pick_next_task_fair+0x129/0x1d0", "2× dd:192, dd:193", "kernel AFFECTED", "$ uname -r", "> [47113590.458030] BUG:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour without Options.Color")
	}
	var b bytes.Buffer
	if err := Write(&b, sample(), "text", Options{Color: true}); err != nil || !strings.Contains(b.String(), "\x1b[") {
		t.Errorf("no colour with Options.Color (err %v)", err)
	}
}

func TestMarkdownFencesKernelText(t *testing.T) {
	in := sample()
	in.Log = append(in.Log, incident.LogRecord{Text: "weird ``` fence", Level: 4})
	out := render(t, in, "markdown")
	if !strings.HasPrefix(out, "# BUG: unable to handle kernel NULL pointer dereference in pick\\_next\\_task\\_fair") {
		t.Errorf("title line: %q", strings.SplitN(out, "\n", 2)[0])
	}
	if !strings.Contains(out, "| RELEASE") || !strings.Contains(out, "````\n") {
		t.Errorf("markdown lacks the system table or a longer fence:\n%s", out)
	}
}

func TestJSONContract(t *testing.T) {
	out := render(t, sample(), "json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"title", "source", "system", "panic", "blocked_tasks", "findings", "warnings"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	f := doc["findings"].([]any)[0].(map[string]any)
	for _, key := range []string{"id", "title", "severity", "confidence", "cause", "fix", "commands", "evidence", "references", "applies"} {
		if _, ok := f[key]; !ok {
			t.Errorf("finding lacks %q", key)
		}
	}
	if _, ok := doc["log"]; ok {
		t.Error("the log is serialised")
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, sample(), "pdf", Options{}); err == nil {
		t.Error("pdf accepted")
	}
}

// The SYSTEM facts line up in one column in the text report, and the
// Markdown table's rows are padded to one width under a header and an
// alignment row.
func TestTablesAlign(t *testing.T) {
	col := -1
	for _, l := range strings.Split(render(t, sample(), "text"), "\n") {
		for _, key := range []string{"  RELEASE:", "  MACHINE:"} {
			if strings.HasPrefix(l, key) {
				at := len(key) + len(l[len(key):]) - len(strings.TrimLeft(l[len(key):], " "))
				if col >= 0 && at != col {
					t.Errorf("value of %q starts at column %d, another at %d", key, at, col)
				}
				col = at
				if strings.HasSuffix(l, " ") {
					t.Errorf("trailing spaces: %q", l)
				}
			}
		}
	}
	if col < 0 {
		t.Fatal("no RELEASE or MACHINE line in the text report")
	}
	var rows []string
	for _, l := range strings.Split(render(t, sample(), "markdown"), "\n") {
		if strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	if len(rows) < 3 || !strings.HasPrefix(rows[0], "| fact") || !strings.HasPrefix(rows[1], "| :--") {
		t.Fatalf("markdown table head: %q", rows)
	}
	for _, r := range rows {
		if len([]rune(r)) != len([]rune(rows[0])) {
			t.Errorf("row %q is not as wide as the header %q", r, rows[0])
		}
	}
}

// TestPanicLeadsWithFaultingStack: a dump's panic stack holds kdump's
// hand-off first (as crash's bt shows it); every format starts the stack
// at the function the exception stopped and sums the hand-off up after it.
func TestPanicLeadsWithFaultingStack(t *testing.T) {
	in := sample()
	in.Panic.Backtrace = append([]incident.Frame{
		{Function: "machine_kexec", Reliable: true, KdumpPath: true},
		{Function: "oops_end", Reliable: true, KdumpPath: true},
		{Function: "asm_exc_page_fault", Reliable: true, KdumpPath: true},
		{Function: "rb_next", Offset: 1, Size: 0x50, Reliable: true, Exception: true, Registers: map[string]uint64{"RIP": 1}},
	}, in.Panic.Backtrace...)
	for _, format := range []string{"text", "markdown", "html"} {
		out := render(t, in, format)
		first, hand := strings.Index(out, "#0   "), strings.Index(out, "machine_kexec ← oops_end ← asm_exc_page_fault")
		if first < 0 || hand < first || !strings.HasPrefix(out[first:], "#0   rb_next") || strings.Contains(out, "#3   ") {
			t.Errorf("%s: want #0 rb_next, #1, #2, then the kdump hand-off on one line:\n%s", format, out)
		}
	}
}

// Rule text renders as written: `code` as code and URLs as links in HTML and
// Markdown (never a tag from the text itself); the reports of the log are
// listed in every format; a multi-line record stays indented under its text.
func TestProseCodeLinksReportsAndIndent(t *testing.T) {
	in := sample()
	in.Findings[0].Fix = "Run `fsfreeze -u /data1` <now>; see https://example.org/a_b."
	in.Reports = []incident.Report{{Kind: "hung-task", Title: "INFO: task hung"}, {Kind: "panic", Title: "panic"}}
	t3 := 47113590.459
	in.Log = append(in.Log, incident.LogRecord{Time: &t3, Text: "Call Trace:\n <TASK>\n  __schedule+0x1/0x2"})
	html := render(t, in, "html")
	for _, want := range []string{"<code>fsfreeze -u /data1</code>", `<a href="https://example.org/a_b">https://example.org/a_b</a>.`,
		"&lt;now&gt;", `<a href="https://access.redhat.com/errata/RHBA-2016:2966">`, "Reports in the log", "hung-task ×1"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	md := render(t, in, "markdown")
	for _, want := range []string{"`fsfreeze -u /data1`", "<https://example.org/a_b>.", `\<now\>`, "## Reports in the log", "<https://access.redhat.com/errata/RHBA-2016:2966>"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "&gt;") {
		t.Error("Markdown shows an HTML entity")
	}
	text := render(t, in, "text")
	for _, want := range []string{"REPORTS IN THE LOG", "Call Trace:\n" + strings.Repeat(" ", 2+len("[47113590.459000]")+1) + " <TASK>\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

// Every format says under each group of blocked tasks what they wait for:
// the lock and its holder, the I/O and its device.
func TestGroupsSayWhatTheyWaitFor(t *testing.T) {
	in := sample()
	n := 3
	age := 31.1
	in.BlockedTasks = []incident.BlockedTask{
		{PID: 256, Comm: "dd", State: "UN", Backtrace: []incident.Frame{{Function: "jbd2_log_wait_commit", Reliable: true}},
			WaitsOn: &incident.Wait{Kind: incident.WaitJournalCommit, Symbol: "(vdb)", Lock: "0xffff1000",
				Owner: &incident.LockOwner{PID: 108, Comm: "jbd2/vdb-8", State: "UN"}}},
		{PID: 108, Comm: "jbd2/vdb-8", State: "UN", Backtrace: []incident.Frame{{Function: "io_schedule", Reliable: true}, {Function: "bit_wait_io", Reliable: true}, {Function: "jbd2_journal_commit_transaction", Reliable: true}},
			IOWait: &incident.IOWait{Frames: []string{"io_schedule", "bit_wait_io", "jbd2_journal_commit_transaction"}, Device: "vdb", InFlight: &n, OldestSeconds: &age,
				Object: "buffer head at 0xffff2000 (block 17345, 1024 bytes)"}},
	}
	lock := "waits for jbd2 journal commit (vdb) at 0xffff1000, to be written by jbd2/vdb-8:108 (UN)"
	io := "waits on I/O to vdb (3 requests in flight, the oldest for 31.1 s): buffer head at 0xffff2000 (block 17345, 1024 bytes) — io_schedule ← bit_wait_io ← jbd2_journal_commit_transaction"
	for _, format := range []string{"text", "markdown", "html"} {
		out := render(t, in, format)
		if format == "markdown" {
			out = strings.ReplaceAll(out, "\\", "")
		}
		for _, want := range []string{lock, io} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", format, want)
			}
		}
	}
}
