package analyzers

import (
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

func builtin(t *testing.T) *Rulebook {
	t.Helper()
	rb, err := Builtin()
	if err != nil {
		t.Fatalf("builtin rulebook: %v", err)
	}
	return rb
}

// frames builds a backtrace from "fn+0x1/0x50" words; a leading "?" marks
// the frame unreliable, as the kernel prints it.
func frames(spec ...string) []incident.Frame {
	var out []incident.Frame
	for _, s := range spec {
		f := incident.Frame{Reliable: true}
		if strings.HasPrefix(s, "? ") {
			f.Reliable = false
			s = s[2:]
		}
		name, _, _ := strings.Cut(s, "+")
		f.Function = name
		out = append(out, f)
	}
	return out
}

func intp(n int) *int { return &n }

func top(t *testing.T, findings []incident.Finding) incident.Finding {
	t.Helper()
	if len(findings) == 0 {
		t.Fatal("no findings")
	}
	return findings[0]
}

func ids(fs []incident.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+"("+f.Severity.String()+"/"+f.Confidence.String()+")")
	}
	return out
}

// The seed's CFS incident as the text-log path describes it.
func cfsIncident(release string) *incident.Incident {
	msg := "BUG: unable to handle kernel NULL pointer dereference at 0000000000000010"
	return &incident.Incident{
		System: &incident.System{Release: release},
		Reports: []incident.Report{{
			Kind: incident.KindNullDeref, Message: msg, Release: release,
			RIP:       &incident.Frame{Function: "rb_next", Offset: 1, Size: 0x50},
			Backtrace: frames("? pick_next_task_fair", "__schedule", "schedule", "futex_wait_queue_me", "futex_wait", "? hrtimer_get_res", "do_futex", "SyS_futex", "system_call_fastpath"),
			Lines:     []string{msg, "CPU: 3 PID: 16179 Comm: java Not tainted " + release + " #1"},
			PID:       intp(16179), Comm: "java",
		}},
	}
}

func TestSeedCFSNullDeref(t *testing.T) {
	rb := builtin(t)
	fs := Run(cfsIncident("3.10.0-229.el7.x86_64"), rb)
	f := top(t, fs)
	if f.ID != "rhel7-cfs-throttle-null-deref" {
		t.Fatalf("top finding %s, want the CFS rule; all: %v", f.ID, ids(fs))
	}
	if f.Applies != "affected" || !strings.Contains(f.AppliesNote, "3.10.0-327.44.2.el7") {
		t.Errorf("applies %s (%s)", f.Applies, f.AppliesNote)
	}
	if !strings.Contains(f.Fix, "kernel-3.10.0-327.44.2.el7") || !strings.Contains(strings.Join(f.References, " "), "RHBA-2016:2966") {
		t.Errorf("fix/references lack the erratum: %q %v", f.Fix, f.References)
	}
	if !strings.Contains(strings.Join(f.Evidence, "\n"), "pick_next_task_fair") {
		t.Errorf("evidence does not show the frame: %v", f.Evidence)
	}

	fixed := top(t, Run(cfsIncident("3.10.0-514.el7.x86_64"), rb))
	if fixed.ID != "rhel7-cfs-throttle-null-deref" || fixed.Applies != "fixed" {
		t.Errorf("3.10.0-514.el7: %s applies %s (%s), want fixed", fixed.ID, fixed.Applies, fixed.AppliesNote)
	}
}

func TestCFSRuleNeedsTheFrame(t *testing.T) {
	in := cfsIncident("3.10.0-229.el7.x86_64")
	// The same oops elsewhere: the RIP is not at a function's entry, so the
	// "?" frame is not trusted and the CFS rule must not fire.
	in.Reports[0].RIP = &incident.Frame{Function: "rb_next", Offset: 0x20}
	for _, f := range Run(in, builtin(t)) {
		if f.ID == "rhel7-cfs-throttle-null-deref" {
			t.Fatalf("CFS rule fired on an unreliable frame")
		}
	}
}

func TestSeedEPTMisconfig(t *testing.T) {
	lines := []string{
		"EPT: Misconfiguration.", "EPT: GPA: 0x108ba4538",
		"ept_misconfig_inspect_spte: spte 0x84c236107 level 4",
		"ept_misconfig_inspect_spte: spte 0x1028125d77 level 1",
	}
	in := &incident.Incident{System: &incident.System{Release: "3.10.0-229.el7.x86_64"}}
	for i, l := range lines {
		in.Log = append(in.Log, incident.LogRecord{Text: l, Line: i + 1, Level: -1})
	}
	f := top(t, Run(in, builtin(t)))
	if f.ID != "kvm-ept-misconfiguration" {
		t.Fatalf("top %s", f.ID)
	}
	if !strings.Contains(f.Summary, "0x108ba4538") {
		t.Errorf("summary lacks the GPA: %q", f.Summary)
	}
	for _, want := range []string{"kernel-3.10.0-514.el7", "RHSA-2016:2574", "kernel-3.10.0-327.3.1.el7", "RHSA-2015:2552"} {
		if !strings.Contains(f.Fix, want) {
			t.Errorf("fix lacks %s: %q", want, f.Fix)
		}
	}
	if f.Applies != "affected" {
		t.Errorf("applies %s (%s)", f.Applies, f.AppliesNote)
	}
}

func ghesLines() []string {
	return []string{
		"{1}[Hardware Error]: Hardware error from APEI Generic Hardware Error Source: 1",
		"{1}[Hardware Error]: event severity: fatal",
		"{1}[Hardware Error]:  Error 0, type: fatal",
		"{1}[Hardware Error]:   section_type: PCIe error",
		"{1}[Hardware Error]:   port_type: 4, root port",
		"{1}[Hardware Error]:   version: 1.16",
		"{1}[Hardware Error]:   command: 0x0547, status: 0x4010",
		"{1}[Hardware Error]:   device_id: 0000:00:03.0",
		"{1}[Hardware Error]:   slot: 0",
		"{1}[Hardware Error]:   secondary_bus: 0x04",
		"{1}[Hardware Error]:   vendor_id: 0x8086, device_id: 0x2f08",
		"{1}[Hardware Error]:   class_code: 040000",
		"Kernel panic - not syncing: Fatal hardware error!",
	}
}

func TestSeedGHESFatalFromLogLines(t *testing.T) {
	in := &incident.Incident{
		System: &incident.System{Release: "2.6.32-504.el6.x86_64"},
		Panic:  &incident.Panic{Message: "Kernel panic - not syncing: Fatal hardware error!", Backtrace: frames("? panic", "? ghes_notify_nmi", "? notifier_call_chain")},
	}
	for _, l := range ghesLines() {
		in.Log = append(in.Log, incident.LogRecord{Text: l, Level: 0})
	}
	fs := Run(in, builtin(t))
	f := top(t, fs)
	if f.ID != "ghes-fatal-pcie-root-port" {
		t.Fatalf("top %s; all %v", f.ID, ids(fs))
	}
	checkGHES(t, f)
}

func TestSeedGHESFatalFromDecodedError(t *testing.T) {
	in := &incident.Incident{
		Panic: &incident.Panic{Message: "Kernel panic - not syncing: Fatal hardware error!"},
		HardwareErrs: []incident.HardwareError{{
			Source: "GHES", Severity: "fatal", Section: "PCIe error", DeviceID: "0000:00:03.0",
			Vendor: "8086", Device: "2f08", Fields: map[string]string{"port_type": "4, root port", "secondary_bus": "0x04"},
			Lines: ghesLines()[:12],
		}},
		Log: []incident.LogRecord{
			{Text: "pci 0000:04:00.0: [8086:10fb] type 00 class 0x020000"},
			{Text: "pci 0000:04:00.1: [8086:10fb] type 00 class 0x020000"},
			{Text: "ixgbe 0000:04:00.0 enp4s0f0: renamed from eth2"},
		},
	}
	f := top(t, Run(in, builtin(t)))
	if f.ID != "ghes-fatal-pcie-root-port" {
		t.Fatalf("top %s", f.ID)
	}
	checkGHES(t, f)
	if !strings.Contains(f.Title, "82599ES 10-Gigabit SFI/SFP+") || !strings.Contains(f.Title, "enp4s0f0") {
		t.Errorf("title does not name the NIC below the port: %q", f.Title)
	}
	if !strings.Contains(strings.Join(f.Commands, "\n"), "ethtool -m enp4s0f0 | grep -i power") {
		t.Errorf("commands %v", f.Commands)
	}
}

func checkGHES(t *testing.T, f incident.Finding) {
	t.Helper()
	if f.Severity != "critical" {
		t.Errorf("severity %s", f.Severity)
	}
	if !strings.Contains(f.Cause, "PCI Express Root Port 3") {
		t.Errorf("cause does not name the port from pci.ids: %q", f.Cause)
	}
	if !strings.Contains(f.Fix, "−7 dBm") {
		t.Errorf("fix lacks the optics threshold: %q", f.Fix)
	}
	cmds := strings.Join(f.Commands, "\n")
	for _, want := range []string{"lspci -s 0000:00:03.0 -vvv", "lspci -tv", "lspci -s 0000:04: -vvv", "grep -i power"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("commands lack %q: %v", want, f.Commands)
		}
	}
}

// The fsfreeze reproduction of the seed (4.4.0-87-generic): four D tasks in
// __sb_start_write, no panic.
func seedFreezeIncident() *incident.Incident {
	write := frames("schedule", "rwsem_down_read_failed", "? common_file_perm", "call_rwsem_down_read_failed", "? percpu_down_read", "__sb_start_write", "vfs_write", "? do_sys_open", "SyS_write", "entry_SYSCALL_64_fastpath")
	open := frames("schedule", "rwsem_down_read_failed", "call_rwsem_down_read_failed", "? percpu_down_read", "__sb_start_write", "mnt_want_write", "path_openat", "do_filp_open", "do_sys_open", "SyS_open", "entry_SYSCALL_64_fastpath")
	in := &incident.Incident{}
	for _, t := range []struct {
		comm string
		pid  int
		bt   []incident.Frame
	}{{"rs:main Q:Reg", 9724, write}, {"bash", 9768, open}, {"dd", 8811, open}, {"sshd", 8848, write}} {
		in.Reports = append(in.Reports, incident.Report{
			Kind: incident.KindHungTask, Message: "INFO: task " + t.comm + " blocked for more than 120 seconds.",
			Comm: t.comm, PID: intp(t.pid), Backtrace: t.bt, Release: "4.4.0-87-generic",
		})
	}
	return in
}

func TestSeedHungTaskFrozenFilesystem(t *testing.T) {
	fs := Run(seedFreezeIncident(), builtin(t))
	f := top(t, fs)
	if f.ID != "hung-task-frozen-filesystem" {
		t.Fatalf("top %s; all %v", f.ID, ids(fs))
	}
	if !strings.Contains(f.Summary, "4 D-state task(s)") {
		t.Errorf("summary %q", f.Summary)
	}
	for _, want := range []string{"kernel.hung_task_panic=1", "hung_task_timeout_secs", "fsfreeze -u"} {
		if !strings.Contains(f.Fix, want) {
			t.Errorf("fix lacks %s: %q", want, f.Fix)
		}
	}
	if f.Title != "Hung tasks behind a frozen filesystem" || !strings.Contains(f.Cause, "Frozen mount: not known from a text log") {
		t.Errorf("title %q, cause %q", f.Title, f.Cause)
	}
	if len(fs) != 1 {
		t.Errorf("more findings than the frozen filesystem: %v", ids(fs))
	}
}

func TestFrozenFilesystemNamesTheMount(t *testing.T) {
	// The 6.1 corpus dump: sb_start_write inlined, percpu_rwsem_wait under
	// vfs_write / mnt_want_write; hung_task_panic=1.
	in := &incident.Incident{
		Panic: &incident.Panic{Message: "Kernel panic - not syncing: hung_task: blocked tasks"},
		Mounts: []incident.Mount{{Device: "/dev/vdb", Path: "/", FSType: "ext4"},
			{Device: "/dev/vda", Path: "/data1", FSType: "ext4", Frozen: true}},
	}
	for i, bt := range [][]incident.Frame{
		frames("__schedule", "schedule", "percpu_rwsem_wait", "__percpu_down_read", "vfs_write", "ksys_write", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"),
		frames("__schedule", "schedule", "percpu_rwsem_wait", "__percpu_down_read", "mnt_want_write", "filename_create", "do_mkdirat", "__x64_sys_mkdir"),
	} {
		in.BlockedTasks = append(in.BlockedTasks, incident.BlockedTask{PID: 192 + i, Comm: "dd", State: "UN", Backtrace: bt})
	}
	fs := Run(in, builtin(t))
	f := top(t, fs)
	if f.ID != "hung-task-frozen-filesystem" || f.Title != "Hung tasks behind a frozen filesystem on /data1 (ext4 on /dev/vda)" {
		t.Fatalf("top %s %q; all %v", f.ID, f.Title, ids(fs))
	}
	if !strings.Contains(strings.Join(f.Commands, "\n"), "fsfreeze -u /data1") {
		t.Errorf("commands %v", f.Commands)
	}
}

func TestSysrqIsOperatorInitiated(t *testing.T) {
	in := &incident.Incident{
		Panic: &incident.Panic{Message: "Kernel panic - not syncing: sysrq triggered crash"},
		Log:   []incident.LogRecord{{Text: "sysrq: Trigger a crash"}, {Text: "Kernel panic - not syncing: sysrq triggered crash"}},
	}
	f := top(t, Run(in, builtin(t)))
	if f.ID != "sysrq-triggered-crash" || f.Severity != "info" {
		t.Fatalf("top %s %s", f.ID, f.Severity)
	}
	old := &incident.Incident{Log: []incident.LogRecord{{Text: "SysRq : Trigger a crash"}}}
	if f := top(t, Run(old, builtin(t))); f.ID != "sysrq-triggered-crash" {
		t.Errorf("RHEL 6 wording not recognised: %s", f.ID)
	}
	// RHEL 7's 3.10 crashes for SysRq-c by writing through NULL in
	// sysrq_handle_crash: that oops is the request, not a bug to report.
	el7 := &incident.Incident{
		Panic: &incident.Panic{Message: "Kernel panic - not syncing: Fatal exception", Kind: incident.KindNullDeref,
			RIP: &incident.Frame{Function: "sysrq_handle_crash", Offset: 0xd, Size: 0x20, Reliable: true}},
		Log: []incident.LogRecord{{Text: "SysRq : Trigger a crash"},
			{Text: "BUG: unable to handle kernel NULL pointer dereference at           (null)"}},
	}
	fs := Run(el7, builtin(t))
	if f := top(t, fs); f.ID != "sysrq-triggered-crash-oops" || f.Severity != "info" {
		t.Errorf("3.10 SysRq-c oops: top %s %s", f.ID, f.Severity)
	}
	for _, f := range fs {
		if f.ID == "null-pointer-dereference" {
			t.Error("the SysRq-c oops is still reported as a NULL pointer bug")
		}
	}
	// The same oops anywhere else is a bug.
	el7.Panic.RIP.Function = "ktriage_widget_account_hit"
	if f := top(t, Run(el7, builtin(t))); f.ID == "sysrq-triggered-crash-oops" {
		t.Error("a NULL dereference outside sysrq_handle_crash was taken for SysRq-c")
	}
}

func TestClassifyHungTasks(t *testing.T) {
	cases := []struct {
		bt   []incident.Frame
		comm string
		want HungClass
	}{
		{frames("__schedule", "schedule", "io_schedule", "wait_on_page_bit", "filemap_fdatawait_range"), "java", HungBlockIO},
		{frames("__schedule", "schedule", "io_schedule", "blk_mq_get_tag", "blk_mq_get_request"), "kworker/1:1", HungBlockIO},
		{frames("__schedule", "schedule", "jbd2_log_wait_commit", "ext4_sync_file", "do_fsync"), "java", HungJournal},
		{frames("__schedule", "schedule", "rpc_wait_bit_killable", "__rpc_execute", "rpc_run_task"), "ls", HungNFS},
		{frames("__schedule", "schedule", "schedule_preempt_disabled", "__mutex_lock_slowpath", "mutex_lock", "ext4_sync_file"), "x", HungLock},
		{frames("__schedule", "schedule", "schedule_timeout", "throttle_direct_reclaim", "try_to_free_pages"), "x", HungReclaim},
		{frames("__schedule", "schedule", "percpu_rwsem_wait", "__percpu_down_read", "cgroup_procs_write_start"), "x", HungLock},
		{nil, "jbd2/sdb-8", HungJournal},
		{nil, "java", HungUnknown},
	}
	for _, c := range cases {
		got, _ := classifyStack(c.bt, c.comm)
		if got != c.want {
			t.Errorf("%s %v: %s, want %s", c.comm, incident.ReliableFunctions(c.bt), got, c.want)
		}
	}
	_, waiter := classifyStack(cases[4].bt, "x")
	if waiter != "ext4_sync_file" {
		t.Errorf("lock waiter %q", waiter)
	}
}
