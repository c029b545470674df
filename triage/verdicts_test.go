package triage

import (
	"slices"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/textlog"
)

// Issue 15's wrong verdicts on the Debian 6.12 dumps, each pinned.

func findingIDs(in *incident.Incident) []string {
	var ids []string
	for _, f := range in.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func loadAnalyzed(t *testing.T, path string) *incident.Incident {
	t.Helper()
	in, err := LoadDump([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	analyze(t, in)
	return in
}

// An oops 4 s after boot: a kworker waiting 0.03 s for an RCU grace period
// is in D state, not hung; hung_task_timeout_secs is read from the dump.
func TestNoHungTaskFromAShortDWait(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps-6.12/oops-null-qemu-kdump-zlib.vmcore")
	if v, ok := in.Sysctl("kernel.hung_task_timeout_secs"); !ok || v != 120 {
		t.Errorf("hung_task_timeout_secs %d (read %v), want 120 from the dump", v, ok)
	}
	if len(in.BlockedTasks) != 1 || in.BlockedTasks[0].BlockedSeconds == nil || *in.BlockedTasks[0].BlockedSeconds > 1 ||
		!strings.Contains(in.BlockedTasks[0].BlockedFrom, "last_arrival") {
		t.Fatalf("blocked tasks %+v: want the kworker, blocked well under a second, measured from last_arrival", in.BlockedTasks)
	}
	for _, f := range in.Findings {
		if strings.HasPrefix(f.ID, "hung-task") {
			t.Errorf("%s on a task blocked %.3f s: %q", f.ID, *in.BlockedTasks[0].BlockedSeconds, f.Evidence)
		}
	}
	if in.Findings[0].ID != "null-pointer-dereference" {
		t.Errorf("verdict %v", findingIDs(in))
	}
}

// The 6.12 double fault: RSP 14.4 KiB inside its 16 KiB stack is not an
// overflow; the finding says so with the bounds and the RSP.
func TestDoubleFaultInsideStackIsNotOverflow(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps-6.12/double-fault-qemu-kdump-zlib.vmcore")
	if slices.Contains(findingIDs(in), "stack-overflow") {
		t.Fatalf("stack overflow claimed: %v", findingIDs(in))
	}
	f := in.Findings[0]
	if f.ID != "double-fault" {
		t.Fatalf("verdict %v", findingIDs(in))
	}
	ev := strings.Join(f.Evidence, "\n")
	for _, want := range []string{"0xff32d0be0047b9c0", "0xff32d0be00478000..0xff32d0be0047c000", "14.4 KiB"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %s:\n%s", want, ev)
		}
	}
	if st := in.Panic.TaskStack; st == nil || st.Hi-st.Lo != 16<<10 {
		t.Errorf("task stack %+v", st)
	}
}

// A stack pointer at the end of the task's stack, or in the guard page
// below it, is an overflow: the same dump with the report's RSP moved.
func TestDoubleFaultAtStackEndIsOverflow(t *testing.T) {
	// A stack pointer that is not a kernel address was corrupted, not
	// overrun: a double fault, not an overflow.
	in, err := LoadDump([]string{"../testdata/dumps-6.12/double-fault-qemu-kdump-zlib.vmcore"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range in.Reports {
		for j, l := range in.Reports[i].Lines {
			in.Reports[i].Lines[j] = strings.ReplaceAll(l, "ff32d0be0047b9c0", "00000000beef894c")
		}
	}
	analyze(t, in)
	if f := in.Findings[0]; f.ID != "double-fault" || !strings.Contains(strings.Join(f.Evidence, "\n"), "0xbeef894c is not a kernel address") {
		t.Errorf("corrupted RSP: %s %q", f.ID, f.Evidence)
	}
	for _, rsp := range []string{"ff32d0be00478010", "ff32d0be00477f80"} {
		in, err := LoadDump([]string{"../testdata/dumps-6.12/double-fault-qemu-kdump-zlib.vmcore"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range in.Reports {
			for j, l := range in.Reports[i].Lines {
				in.Reports[i].Lines[j] = strings.ReplaceAll(l, "ff32d0be0047b9c0", rsp)
			}
		}
		analyze(t, in)
		if f := in.Findings[0]; f.ID != "stack-overflow" || f.Confidence != "high" || !strings.Contains(strings.Join(f.Evidence, "\n"), "0x"+rsp) {
			t.Errorf("RSP %s: verdict %s/%s %q", rsp, f.ID, f.Confidence, f.Evidence)
		}
	}
}

// The frozen-filesystem dump: every D task's wait is read from the waiter
// record on its stack, and the lock is /data1's freeze protection.
func TestWaitsOnFrozenSuperBlock(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps/hung-kdump-zstd.vmcore")
	if len(in.BlockedTasks) != 5 {
		t.Fatalf("%d D tasks", len(in.BlockedTasks))
	}
	lock := ""
	for _, b := range in.BlockedTasks {
		w := b.WaitsOn
		if w == nil {
			t.Fatalf("pid %d: no wait read; warnings %v", b.PID, in.Warnings)
		}
		if w.Kind != "percpu_rw_semaphore" || !strings.HasPrefix(w.Mount, "/data1 (ext4 on /dev/vda), frozen") ||
			!strings.Contains(w.Evidence, "wait_queue_entry at 0x") {
			t.Errorf("pid %d: %+v", b.PID, w)
		}
		if lock != "" && w.Lock != lock {
			t.Errorf("pid %d waits on %s, the others on %s", b.PID, w.Lock, lock)
		}
		lock = w.Lock
	}
	ev := strings.Join(in.Findings[0].Evidence, "\n")
	if !strings.Contains(ev, "5 tasks (dd:192, dd:193, dd:195, touch:201, mkdir:204) wait for percpu_rw_semaphore at "+lock+" — the freeze protection of /data1") {
		t.Errorf("evidence lacks the chain:\n%s", ev)
	}
}

// testdata/gen's lock-hold dump: the waiters' mutex and rwsem (named from
// the module's data symbols, as crash's `sym` names them) both name the
// holder, pid 107 — what crash shows for `struct mutex.owner` (flag bit 0
// set, 0xffff8c00c1fc0001) and `struct rw_semaphore.owner` of the two
// module globals — and the holder's stack is the one the kernel printed
// for it ("INFO: task init:107 blocked": schedule_timeout ←
// ktriage_table_hold.cold ← ktriage_crash_write).
func TestChainNamesTheHolder(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps-locks/lock-hold-qemu-kdump-zlib.vmcore")
	kinds := map[string]int{}
	for _, b := range in.BlockedTasks {
		w := b.WaitsOn
		if b.PID == 107 {
			if w != nil {
				t.Errorf("the holder waits on %+v", w)
			}
			continue
		}
		if w == nil || w.Owner == nil {
			t.Fatalf("pid %d: wait %+v; warnings %v", b.PID, w, in.Warnings)
		}
		kinds[w.Kind]++
		o := w.Owner
		want := map[string]string{"mutex": "0xffffffffc0282060", "rw_semaphore": "0xffffffffc0282020"}[w.Kind]
		sym := map[string]string{"mutex": "ktriage_table_lock [ktriage_crash]", "rw_semaphore": "ktriage_config_rwsem [ktriage_crash]"}[w.Kind]
		if w.Lock != want || w.Symbol != sym || o.PID != 107 || o.Comm != "init" || o.State != "UN" {
			t.Errorf("pid %d: %s %s at %s owned by %d %s %s", b.PID, w.Kind, w.Symbol, w.Lock, o.PID, o.Comm, o.State)
		}
		fns := incident.ReliableFunctions(o.Backtrace)
		if len(fns) < 5 || strings.Join(fns[2:5], " ") != "schedule_timeout ktriage_table_hold ktriage_crash_write" {
			t.Errorf("owner's stack %v", fns)
		}
	}
	if kinds["mutex"] != 2 || kinds["rw_semaphore"] != 2 {
		t.Errorf("waits %v, want 2 on the mutex and 2 on the rwsem", kinds)
	}
}

// testdata/gen's io-hold dump: the holder (pid 105) holds the module's
// mutex and rwsem and waits for a read of /dev/ktriage_stall, a disk that
// never completes a request. The chain from the lock waiters ends at that
// device, with what crash 8.0.2 shows on the full dump: `dev -d` lists
// ktriage_stall with 3 requests in flight (3 reads); `struct bio` of the
// holder's bio gives bi_end_io ktriage_stall_endio and bi_private
// 0xffffcc6a003e3b88 (the completion on its stack), and of dd's on-stack
// bio (pid 110, O_DIRECT) bi_end_io submit_bio_wait_endio, sector 0, 4096
// bytes. Pid 111's buffered read waits on page 8 of the disk's page cache
// (dd skip=8, bs=4096).
func TestChainEndsAtTheStalledDevice(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps-locks/io-hold-qemu-kdump-zlib.vmcore")
	io := map[int]*incident.IOWait{}
	for _, b := range in.BlockedTasks {
		if b.IOWait != nil {
			io[b.PID] = b.IOWait
		}
		if b.PID == 107 || b.PID == 108 || b.PID == 109 {
			if b.WaitsOn == nil || b.WaitsOn.Owner == nil || b.WaitsOn.Owner.PID != 105 || b.IOWait != nil {
				t.Errorf("pid %d: waits on %+v, I/O %+v", b.PID, b.WaitsOn, b.IOWait)
			}
		}
	}
	for pid, want := range map[int]struct{ object, evidence, caller string }{
		105: {"(read, sector 0, 4096 bytes)", "bi_private 0xffffcc6a003e3b88 (the waiting task's completion), bi_end_io ktriage_stall_endio", "ktriage_label_read"},
		110: {"(read, sector 0, 4096 bytes)", "on pid 110's stack, bi_private 0xffffcc6a004039c0 (the waiting task's completion), bi_end_io submit_bio_wait_endio", "__blkdev_direct_IO_simple"},
		111: {"page 8 of ktriage_stall's page cache", "woken by wake_page_function", "filemap_get_pages"},
	} {
		w := io[pid]
		if w == nil {
			t.Errorf("pid %d: no I/O wait", pid)
			continue
		}
		if w.Device != "ktriage_stall" || w.InFlight == nil || *w.InFlight != 3 || w.OldestSeconds == nil ||
			!strings.Contains(w.Object, want.object) || !strings.Contains(w.Evidence, want.evidence) || w.Caller() != want.caller {
			t.Errorf("pid %d: %+v", pid, w)
		}
	}
	// The holder started its read at 6.0 s (the log's "reading the label"
	// line says 5.96 s); the dump was taken at about 38 s.
	if w := io[105]; w != nil && w.OldestSeconds != nil && (*w.OldestSeconds < 30 || *w.OldestSeconds > 34) {
		t.Errorf("oldest request %.1f s in flight", *w.OldestSeconds)
	}
	var chain string
	for _, f := range in.Findings {
		if f.ID == "hung-task-lock" {
			chain = strings.Join(f.Evidence, "\n")
		}
	}
	want := "2 tasks (init:107, init:108) wait for mutex ktriage_table_lock [ktriage_crash] at 0xffffffffc05e0080, held by init:105 (UN), " +
		"which waits on I/O to ktriage_stall (3 requests in flight, the oldest for "
	if !strings.Contains(chain, want) || !strings.Contains(chain, "— io_schedule_timeout ← __wait_for_common ← ktriage_label_read") {
		t.Errorf("chain:\n%s", chain)
	}
}

// testdata/gen's io-journal dump: ext4 on ktriage_stall, which stops
// completing requests. An fsync caller (dd:256) waits in
// jbd2_log_wait_commit for the journal's commit, which its commit thread
// (jbd2/ktriage_st:108) cannot write: it waits on a journal buffer's I/O.
// crash 8.0.2 on the full dump: `struct journal_s` at 0xffff88a9827d5000
// has j_task 0xffff88a982e2e000 (pid 108, "jbd2/ktriage_st"),
// j_commit_sequence 125, j_commit_request 126; `struct buffer_head` at
// 0xffff88a9821f7410 is block 17345, 1024 bytes, on the journal's j_dev;
// `dev -d` gives ktriage_stall 6 requests in flight (6 writes).
func TestChainThroughTheJournalToTheDevice(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps-locks/io-journal-qemu-kdump-zlib.vmcore")
	var waiter, commit *incident.BlockedTask
	for i, b := range in.BlockedTasks {
		switch b.PID {
		case 256:
			waiter = &in.BlockedTasks[i]
		case 108:
			commit = &in.BlockedTasks[i]
		}
	}
	if waiter == nil || commit == nil {
		t.Fatalf("D tasks %+v", in.BlockedTasks)
	}
	w := waiter.WaitsOn
	if w == nil || w.Kind != "jbd2 journal commit" || w.Lock != "0xffff88a9827d5000" || w.Owner == nil || w.Owner.PID != 108 ||
		w.Note != "commits requested up to transaction 126, committed up to 125" {
		t.Fatalf("dd:256 waits on %+v (%s)", w, waiter.WaitUnknown)
	}
	io := commit.IOWait
	if io == nil || io.Device != "ktriage_stall" || io.InFlight == nil || *io.InFlight != 6 ||
		io.Object != "buffer head at 0xffff88a9821f7410 (block 17345, 1024 bytes)" || io.Caller() != "jbd2_journal_commit_transaction" {
		t.Fatalf("the commit thread's I/O: %+v", io)
	}
	var ev string
	for _, f := range in.Findings {
		if f.ID == "hung-task-journal" {
			ev = strings.Join(f.Evidence, "\n")
			if f.Confidence != "high" {
				t.Errorf("confidence %s with every wait followed", f.Confidence)
			}
		}
	}
	want := "dd:256 waits for jbd2 journal commit (ktriage_stall) at 0xffff88a9827d5000, to be written by jbd2/ktriage_st:108 (UN), " +
		"which waits on I/O to ktriage_stall (6 requests in flight, the oldest for "
	if !strings.Contains(ev, want) {
		t.Errorf("evidence:\n%s", ev)
	}
}

// testdata/gen's io-bio dump: a bio-based disk (as device-mapper is) that
// accounts every bio in flight and ends none. Its in-flight count is the
// disk's per-CPU in_flight, not blk-mq requests: 2 bios, as crash 8.0.2's
// `dev -d` shows for ktriage_bstall (2 reads) on the full dump.
func TestBioBasedDeviceInFlight(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps-locks/io-bio-qemu-kdump-zlib.vmcore")
	seen := 0
	for _, b := range in.BlockedTasks {
		w := b.IOWait
		if w == nil {
			continue
		}
		seen++
		if w.Device != "ktriage_bstall" || w.InFlight == nil || *w.InFlight != 2 || !w.InFlightBios || w.OldestSeconds != nil {
			t.Errorf("pid %d: %+v", b.PID, w)
		}
		if !strings.Contains(w.Describe(), "I/O to ktriage_bstall (2 bios in flight)") {
			t.Errorf("pid %d: %s", b.PID, w.Describe())
		}
	}
	if seen != 2 {
		t.Errorf("%d tasks wait on I/O, want 2 (the O_DIRECT and the page-cache reader)", seen)
	}
}

// A text log shows no device: the I/O wait is stated with its frames and
// says the device is not known, never a guessed one (the jbd2 thread of a
// GCE log, throttled by writeback throttling).
func TestIOWaitFromLog(t *testing.T) {
	in, err := textlog.ParseFile("../testdata/logs/real/57-gce-hung-interleaved-console.log")
	if err != nil {
		t.Fatal(err)
	}
	analyze(t, in)
	var ev string
	for _, f := range in.Findings {
		ev += strings.Join(f.Evidence, "\n")
	}
	want := "jbd2/sda1-8:161 waits on I/O (the source does not show the device) — io_schedule ← rq_qos_wait ← wbt_wait ← __rq_qos_throttle ← blk_mq_submit_bio"
	if !strings.Contains(ev, want) {
		t.Errorf("evidence:\n%s", ev)
	}
}

// lock-frozen: the holder itself waits on frozen /data1, so the chain from
// the mutex's waiters ends at the mount.
func TestChainEndsAtFrozenMount(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps-locks/lock-frozen-qemu-kdump-zlib.vmcore")
	var chain string
	for _, f := range in.Findings {
		if f.ID == "hung-task-lock" {
			chain = strings.Join(f.Evidence, "\n")
			if !strings.Contains(f.Summary, "held by init:112 (UN), which waits for percpu_rw_semaphore") {
				t.Errorf("summary %q", f.Summary)
			}
		}
	}
	want := "2 tasks (init:114, init:115) wait for mutex ktriage_table_lock [ktriage_crash] at 0xffffffffc02d2060, held by init:112 (UN), which waits for percpu_rw_semaphore at "
	if !strings.Contains(chain, want) || !strings.Contains(chain, "the freeze protection of /data1 (ext4 on /dev/vda), frozen at level 4") {
		t.Errorf("chain:\n%s", chain)
	}
}

// testdata/gen's lock-pod dump: every task of the chain says its cgroup,
// the pod and container the kubepods-shaped path names, and its UTS
// namespace's hostname — as crash shows them (`struct uts_namespace.name`
// nodename "web-7d9f8-x2x4q"; `struct kernfs_node.name` of the task's
// dfl_cgrp "cri-containerd-8c0f…f2a1.scope").
func TestContainerContext(t *testing.T) {
	in := loadAnalyzed(t, "../testdata/dumps-locks/lock-pod-qemu-kdump-zlib.vmcore")
	want := incident.Container{
		Cgroup:      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f1c2a8e_0d5e_4c1b_9b7a_2f4d1e6c8a90.slice/cri-containerd-8c0f5b2d9e6a41f7b3c5d2e1a0f9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1.scope",
		PodUID:      "3f1c2a8e-0d5e-4c1b-9b7a-2f4d1e6c8a90",
		ContainerID: "8c0f5b2d9e6a41f7b3c5d2e1a0f9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1",
		Hostname:    "web-7d9f8-x2x4q",
	}
	if len(in.BlockedTasks) != 4 {
		t.Fatalf("%d D tasks", len(in.BlockedTasks))
	}
	for _, b := range in.BlockedTasks {
		if b.Container == nil || *b.Container != want {
			t.Errorf("pid %d: %+v", b.PID, b.Container)
		}
		if o := b.WaitsOn; o != nil && o.Owner != nil && (o.Owner.Container == nil || *o.Owner.Container != want) {
			t.Errorf("pid %d's lock owner: %+v", b.PID, o.Owner.Container)
		}
	}
	// The panic task (the shell that wrote SysRq-c) ran outside the pod.
	if c := in.Panic.Container; c == nil || c.Cgroup != "/" || c.PodUID != "" {
		t.Errorf("panic task: %+v", c)
	}
	var ev string
	for _, f := range in.Findings {
		if f.ID == "hung-task-lock" {
			ev = strings.Join(f.Evidence, "\n")
		}
	}
	if !strings.Contains(ev, "[pod 3f1c2a8e-0d5e-4c1b-9b7a-2f4d1e6c8a90, container 8c0f5b2d9e6a, host web-7d9f8-x2x4q] wait for mutex ktriage_table_lock") {
		t.Errorf("chain lacks the pod:\n%s", ev)
	}
}
