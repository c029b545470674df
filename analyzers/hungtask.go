package analyzers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ktriage/ktriage/incident"
)

// Hung tasks are classified by what their D-state stacks wait for. The
// classes are tried in order, most specific first: a task parked in
// __sb_start_write sleeps on an rwsem too, but "the filesystem is frozen"
// is the answer, not "a lock".

// HungClass is one reason a task sleeps uninterruptibly.
type HungClass string

const (
	HungFrozenFS HungClass = "frozen-filesystem"
	HungNFS      HungClass = "nfs"
	HungJournal  HungClass = "journal"
	HungReclaim  HungClass = "reclaim"
	HungBlockIO  HungClass = "block-io"
	HungLock     HungClass = "lock"
	HungUnknown  HungClass = "unclassified"
)

var hungClassOrder = []HungClass{HungFrozenFS, HungNFS, HungJournal, HungReclaim, HungBlockIO, HungLock, HungUnknown}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

var (
	// sb_start_write and friends: taking the freeze protection of a super block.
	sbWriteFns = set("__sb_start_write", "sb_start_write", "sb_start_pagefault", "sb_start_intwrite",
		"__sb_start_write_trylock", "freeze_super", "sb_wait_write", "thaw_super")
	// Since 4.x sb_start_write is inlined: the stack shows the percpu rwsem.
	percpuRwsemFns = set("percpu_rwsem_wait", "__percpu_down_read", "percpu_down_read",
		"percpu_down_read_preempt_disable", "__percpu_down_read_preempt_disable")
	// Callers that take a super block's write protection.
	fsWriteCallers = set("vfs_write", "mnt_want_write", "mnt_want_write_file", "do_mkdirat", "filename_create",
		"vfs_fallocate", "do_truncate", "vfs_truncate", "do_sys_ftruncate", "file_start_write",
		"vfs_copy_file_range", "vfs_iter_write", "do_iter_write", "kernel_write", "__kernel_write",
		"do_renameat2", "do_unlinkat", "do_rmdir", "do_symlinkat", "do_linkat", "do_mknodat",
		"chmod_common", "chown_common", "vfs_utimes", "do_utimes", "path_openat", "do_filp_open",
		"do_page_mkwrite", "ext4_page_mkwrite", "filemap_page_mkwrite", "xfs_filemap_page_mkwrite",
		"xfs_trans_alloc", "ext4_evict_inode", "__ext4_journal_start_sb", "generic_file_write_iter",
		"ext4_file_write_iter", "xfs_file_write_iter", "btrfs_file_write_iter", "do_splice",
		"vfs_setxattr", "ksys_write", "touch_atime", "file_update_time", "file_modified")
	nfsFns = set("rpc_wait_bit_killable", "nfs_wait_bit_killable", "__rpc_execute", "rpc_execute",
		"rpc_run_task", "nfs_wait_on_request", "nfs4_wait_clnt_recover", "nfs_wait_client_init_complete",
		"nfs_commit_inode", "nfs_file_fsync", "nfs_writepages", "__nfs_revalidate_inode", "nfs_revalidate_inode",
		"nfs_getattr", "nfs_lookup_revalidate", "nfs_wb_all", "nfs_flush_incompatible", "nfs_lock")
	nfsModules = set("nfs", "nfsv3", "nfsv4", "sunrpc", "lockd")
	journalFns = set("jbd2_journal_commit_transaction", "jbd2_log_wait_commit", "wait_transaction_locked",
		"wait_transaction_switching", "start_this_handle", "add_transaction_credits", "__jbd2_log_wait_for_space",
		"jbd2_log_wait_for_space", "jbd2_log_do_checkpoint", "kjournald2", "jbd2_journal_lock_updates",
		"jbd2_journal_force_commit", "jbd2_complete_transaction", "do_get_write_access", "log_wait_commit",
		"journal_commit_transaction", "kjournald", "xlog_wait", "xlog_grant_head_wait", "xlog_grant_head_check",
		"_xfs_log_force", "xfs_log_force", "_xfs_log_force_lsn", "xfs_log_force_lsn", "xlog_cil_force_lsn",
		"xfs_log_reserve", "xfs_log_worker", "btrfs_commit_transaction", "wait_current_trans",
		"btrfs_wait_for_commit")
	reclaimFns = set("shrink_node", "shrink_zone", "shrink_zones", "do_try_to_free_pages", "try_to_free_pages",
		"__alloc_pages_direct_reclaim", "__perform_reclaim", "throttle_direct_reclaim", "wait_iff_congested",
		"try_to_free_mem_cgroup_pages", "shrink_inactive_list", "shrink_page_list", "shrink_folio_list",
		"shrink_slab", "reclaim_throttle", "mempool_alloc", "mem_cgroup_handle_over_high", "balance_pgdat",
		"compact_zone", "try_to_compact_pages", "__alloc_pages_direct_compact")
	blockIOFns = set("io_schedule", "io_schedule_timeout", "bit_wait_io", "wait_on_page_bit",
		"wait_on_page_bit_common", "wait_on_page_writeback", "folio_wait_bit_common", "folio_wait_writeback",
		"__lock_page", "__folio_lock", "__lock_page_killable", "sleep_on_page", "sleep_on_page_killable",
		"sync_page", "blk_mq_get_tag", "get_request", "get_request_wait", "blk_mq_get_request",
		"__blk_mq_alloc_request", "wait_on_buffer", "__wait_on_buffer", "__lock_buffer", "submit_bio_wait",
		"blk_execute_rq", "blkdev_issue_flush", "balance_dirty_pages", "balance_dirty_pages_ratelimited",
		"wbt_wait", "rq_qos_wait", "__rq_qos_throttle", "wait_for_completion_io",
		"wait_for_completion_io_timeout", "filemap_fdatawait_range", "__filemap_fdatawait_range",
		"blk_queue_enter", "bio_queue_enter")
	lockFns = set("mutex_lock", "__mutex_lock", "__mutex_lock_slowpath", "__mutex_lock_common",
		"mutex_lock_nested", "mutex_lock_killable", "__mutex_lock_killable_slowpath", "mutex_lock_interruptible",
		"rwsem_down_read_failed", "rwsem_down_write_failed", "rwsem_down_read_slowpath",
		"rwsem_down_write_slowpath", "call_rwsem_down_read_failed", "call_rwsem_down_write_failed",
		"down_read", "down_write", "down_read_killable", "down_write_killable", "__down", "__down_common",
		"down", "rt_mutex_slowlock", "rwsem_down_read_failed_killable", "rwsem_down_write_failed_killable",
		"percpu_rwsem_wait", "__percpu_down_read", "percpu_down_read", "percpu_down_write")
	// Scheduler and wait machinery: never the answer to "what does it wait for".
	schedulerFns = set("__schedule", "schedule", "schedule_timeout", "schedule_preempt_disabled",
		"io_schedule", "io_schedule_timeout", "bit_wait", "bit_wait_io", "out_of_line_wait_on_bit",
		"__wait_on_bit", "wait_for_completion", "__wait_for_common", "wait_for_common", "do_wait_for_common",
		"rwsem_down_read_failed", "rwsem_down_write_failed", "call_rwsem_down_read_failed",
		"call_rwsem_down_write_failed", "rwsem_down_read_slowpath", "rwsem_down_write_slowpath")
)

// classifyStack names what a D task waits for, and the function that says
// so (the waiter: the first frame past the waiting machinery).
func classifyStack(frames []incident.Frame, comm string) (HungClass, string) {
	fns := incident.ReliableFunctions(frames)
	has := func(s map[string]bool) string {
		for _, fn := range fns {
			if s[fn] {
				return fn
			}
		}
		return ""
	}
	if fn := has(sbWriteFns); fn != "" {
		return HungFrozenFS, fn
	}
	if has(percpuRwsemFns) != "" {
		if fn := has(fsWriteCallers); fn != "" {
			return HungFrozenFS, fn
		}
	}
	for _, f := range frames {
		if f.Reliable && nfsModules[f.Module] {
			return HungNFS, incident.NormalizeFunction(f.Function)
		}
	}
	if fn := has(nfsFns); fn != "" {
		return HungNFS, fn
	}
	if fn := has(journalFns); fn != "" {
		return HungJournal, fn
	}
	if fn := has(reclaimFns); fn != "" {
		return HungReclaim, fn
	}
	if fn := has(blockIOFns); fn != "" {
		return HungBlockIO, waiterAfter(fns, blockIOFns)
	}
	if has(lockFns) != "" {
		return HungLock, waiterAfter(fns, lockFns)
	}
	// A log line without a stack still names the thread: jbd2/sdb-8 is the
	// journal thread of sdb partition 8.
	if len(fns) == 0 && strings.HasPrefix(comm, "jbd2/") {
		return HungJournal, comm
	}
	return HungUnknown, firstNotIn(fns, schedulerFns)
}

// waiterAfter returns the first function above the last frame of machinery:
// for mutex_lock ← ext4_sync_file it is ext4_sync_file.
func waiterAfter(fns []string, machinery map[string]bool) string {
	last := -1
	for i, fn := range fns {
		if machinery[fn] || schedulerFns[fn] {
			last = i
		}
	}
	if last+1 < len(fns) {
		return fns[last+1]
	}
	if last >= 0 {
		return fns[last]
	}
	return ""
}

func firstNotIn(fns []string, skip map[string]bool) string {
	for _, fn := range fns {
		if !skip[fn] {
			return fn
		}
	}
	return ""
}

// HungGroup is the D tasks of one class.
type HungGroup struct {
	Class   HungClass
	Tasks   []incident.BlockedTask
	Waiters map[string]int // function → tasks waiting there
}

// classifyTasks sorts D tasks into classes, in the order of hungClassOrder;
// classes without tasks are left out.
func classifyTasks(tasks []incident.BlockedTask) []HungGroup {
	byClass := map[HungClass]*HungGroup{}
	for _, t := range tasks {
		class, waiter := classifyStack(t.Backtrace, t.Comm)
		g := byClass[class]
		if g == nil {
			g = &HungGroup{Class: class, Waiters: map[string]int{}}
			byClass[class] = g
		}
		g.Tasks = append(g.Tasks, t)
		if waiter != "" {
			g.Waiters[waiter]++
		}
	}
	var out []HungGroup
	for _, c := range hungClassOrder {
		if g := byClass[c]; g != nil {
			out = append(out, *g)
		}
	}
	return out
}

func (g HungGroup) waiters() string {
	type kv struct {
		fn string
		n  int
	}
	var list []kv
	for fn, n := range g.Waiters {
		list = append(list, kv{fn, n})
	}
	slices.SortFunc(list, func(a, b kv) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.fn, b.fn)
	})
	var parts []string
	for _, e := range list {
		parts = append(parts, fmt.Sprintf("%s ×%d", e.fn, e.n))
	}
	return strings.Join(parts, ", ")
}

// evidence quotes each distinct stack of the group once, with its tasks.
func (g HungGroup) evidence() []string {
	var ev []string
	for _, sg := range incident.GroupByStack(g.Tasks) {
		stack := sg.Stack
		if len(stack) > 8 {
			stack = append(stack[:8:8], "…")
		}
		where := strings.Join(stack, " ← ")
		if where == "" {
			where = "no stack in the log"
		}
		ev = append(ev, fmt.Sprintf("%d× D task %s: %s", len(sg.Tasks), strings.Join(limit(sg.Comms(), 6), ", "), where))
	}
	return ev
}

func (g HungGroup) comms() string {
	var names []string
	for _, t := range g.Tasks {
		names = append(names, t.Comm+":"+strconv.Itoa(t.PID))
	}
	return strings.Join(limit(names, 8), ", ")
}

func init() {
	facts := []string{"tasks", "comms", "waiters", "holder", "held_by"}
	for _, class := range hungClassOrder {
		class := class
		name := "hung-tasks/" + string(class)
		f := facts
		if class == HungFrozenFS {
			f = append(slices.Clone(facts), "mount", "on_mount", "thaw")
		}
		registerAnalyzer(name, "D-state tasks whose stacks wait on: "+string(class), f, func(v *view) *Detection {
			return detectHungClass(v, class)
		})
	}
}

func detectHungClass(v *view, class HungClass) *Detection {
	var g *HungGroup
	for _, hg := range classifyTasks(v.tasks) {
		if hg.Class == class {
			g = &hg
			break
		}
	}
	if g == nil {
		return nil
	}
	chains := lockChains(v.in, g.Tasks)
	holder := ""
	if len(chains) > 0 {
		holder = " " + chains[0] + "."
	}
	d := &Detection{
		Evidence: append(append(append(hungEvidence(v, g), g.evidence()...), chains...), heldBy(v.in, g.Tasks)...),
		Facts: map[string]string{
			"tasks":   strconv.Itoa(len(g.Tasks)),
			"comms":   g.comms(),
			"waiters": g.waiters(),
			"holder":  holder,
			"held_by": heldByOne(g.Tasks),
		},
		Crash: v.escalation == incident.KindHungTask,
	}
	switch {
	case !anyStack(g.Tasks):
		d.Confidence = "low" // classified by thread name alone
	case v.hungWeak:
		d.Confidence = "medium" // in D state, for how long unknown
	case class == HungLock && allWaitsRead(g.Tasks):
		d.Confidence = "high" // every lock and its holder read from the dump
	case (class == HungBlockIO || class == HungJournal) && allFollowed(g.Tasks):
		// Every task's wait read from the dump: its I/O pending at its
		// device, or the commit or lock it waits for and who has it.
		d.Confidence = "high"
	}
	if class == HungFrozenFS {
		frozen := v.in.FrozenMounts()
		switch {
		case len(frozen) > 0:
			var names, thaw []string
			for _, m := range frozen {
				names = append(names, describeMount(m))
				thaw = append(thaw, "fsfreeze -u "+m.Path)
			}
			d.Facts["mount"] = strings.Join(names, "; ")
			d.Facts["on_mount"] = " on " + d.Facts["mount"]
			d.Facts["thaw"] = strings.Join(thaw, "; ")
			d.Commands = thaw
			d.Evidence = append(d.Evidence, "super block frozen: "+d.Facts["mount"])
			d.Confidence = "high"
		case len(v.in.Mounts) > 0:
			d.Facts["mount"] = "none of the dump's mounts is recorded frozen (a freeze may have been lifted, or the stacks wait on another percpu rwsem)"
			d.Facts["thaw"] = "fsfreeze -u MOUNTPOINT"
			d.Confidence = "medium"
		default:
			d.Facts["mount"] = "not known from a text log (a vmcore names it)"
			d.Facts["thaw"] = "fsfreeze -u MOUNTPOINT"
		}
	}
	return d
}

func describeMount(m incident.Mount) string {
	s := m.Path
	var what []string
	if m.FSType != "" {
		what = append(what, m.FSType)
	}
	if m.Device != "" {
		what = append(what, "on "+m.Device)
	}
	if len(what) > 0 {
		s += " (" + strings.Join(what, " ") + ")"
	}
	return s
}

func anyStack(tasks []incident.BlockedTask) bool {
	for _, t := range tasks {
		if len(t.Backtrace) > 0 {
			return true
		}
	}
	return false
}

// defaultHungTimeout is the kernel's CONFIG_DEFAULT_HUNG_TASK_TIMEOUT, used
// only when the dump does not give the setting, and said so.
const defaultHungTimeout = 120

// hungTasks returns the D tasks shown to have waited longer than
// hung_task_timeout_secs, with the evidence for each: the log's own
// "blocked for more than N seconds" notice, or the task's scheduler
// timestamps in the dump against the timeout read from the dump. A task
// that was merely in D state when the kernel crashed (a kworker waiting
// 30 ms for an RCU grace period) is not hung.
func hungTasks(in *incident.Incident) (tasks []incident.BlockedTask, why map[int]string, weak bool) {
	notices := map[int]string{}
	for _, r := range in.Reports {
		if r.Kind == incident.KindHungTask && r.PID != nil && strings.Contains(r.Message, "blocked for more than") {
			if _, dup := notices[*r.PID]; !dup {
				notices[*r.PID] = logLine{r.Message, r.FirstLine}.String()
			}
		}
	}
	limit, note := float64(defaultHungTimeout), fmt.Sprintf("the kernel's default hung_task_timeout_secs (%d s; the setting was not read from the dump)", defaultHungTimeout)
	if t, ok := in.Sysctl("kernel.hung_task_timeout_secs"); ok {
		if t > 0 {
			limit, note = float64(t), fmt.Sprintf("kernel.hung_task_timeout_secs = %d (read from the dump)", t)
		} else {
			note = fmt.Sprintf("%d s (kernel.hung_task_timeout_secs = 0 in the dump: the detector was off)", defaultHungTimeout)
		}
	}
	var out []incident.BlockedTask
	why = map[int]string{}
	for _, t := range in.UninterruptibleTasks() {
		name := t.Comm + ":" + strconv.Itoa(t.PID)
		switch {
		case notices[t.PID] != "":
			why[t.PID] = name + " reported by the kernel — " + notices[t.PID]
		case t.BlockedSeconds != nil && t.BlockedFrom != "" && *t.BlockedSeconds >= limit:
			why[t.PID] = fmt.Sprintf("%s blocked %.1f s (%s) ≥ %s", name, *t.BlockedSeconds, t.BlockedFrom, note)
		case t.BlockedFrom == "" && in.Source.Kind != incident.SourceVmcore:
			// A log's task dump (the hung-task detector's or sysrq-w's)
			// shows the task in D state but not for how long.
			why[t.PID] = name + " in D state in a task dump the kernel printed; the log gives no blocked time"
			weak = true
		default:
			continue
		}
		out = append(out, t)
	}
	return out, why, weak
}

// hungEvidence quotes why the group's tasks count as hung, a few of them.
func hungEvidence(v *view, g *HungGroup) []string {
	var ev []string
	for i, t := range g.Tasks {
		if i == 3 {
			ev = append(ev, fmt.Sprintf("… and %d more tasks blocked as long", len(g.Tasks)-3))
			break
		}
		ev = append(ev, v.hungWhy[t.PID])
	}
	return ev
}

// allWaitsRead reports whether the dump gave every task's lock and the
// lock's holder (or what the lock records instead).
func allWaitsRead(tasks []incident.BlockedTask) bool {
	for _, t := range tasks {
		if t.WaitsOn == nil || (t.WaitsOn.Owner == nil && t.WaitsOn.Note == "") {
			return false
		}
	}
	return len(tasks) > 0
}

// allFollowed: the dump shows, for every task, the device its I/O went to
// with requests still in flight there, or the holder of what it waits for.
func allFollowed(tasks []incident.BlockedTask) bool {
	for _, t := range tasks {
		w := t.IOWait
		atDevice := w != nil && w.Device != "" && w.InFlight != nil && *w.InFlight > 0
		held := t.WaitsOn != nil && t.WaitsOn.Owner != nil
		if !atDevice && !held {
			return false
		}
	}
	return len(tasks) > 0
}

// heldByOne is " held by comm:pid" when one task holds every lock the tasks
// wait on (as read from the dump), else "".
func heldByOne(tasks []incident.BlockedTask) string {
	owner := ""
	for _, t := range tasks {
		if t.WaitsOn == nil || t.WaitsOn.Owner == nil {
			return ""
		}
		o := t.WaitsOn.Owner.Comm + ":" + strconv.Itoa(t.WaitsOn.Owner.PID)
		if owner != "" && o != owner {
			return ""
		}
		owner = o
	}
	if owner == "" {
		return ""
	}
	return " held by " + owner
}
