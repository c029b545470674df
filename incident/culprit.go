package incident

import (
	"strings"

	"github.com/ktriage/ktriage/internal/lazyre"
)

// The culprit of a crash is the first function on its stack that did real
// work, as opposed to the code that noticed the problem (reporting), waited
// (scheduling, locking) or dispatched the work (entry code, workqueues,
// interrupts). Kernel developers name crashes after it: "INFO: task hung in
// __sb_start_write", "general protection fault in tipc_nametbl_unsubscribe".
//
// The patterns below are unanchored regular expressions matched against the
// normalised function name, so "spin_lock" covers _raw_spin_lock_irqsave and
// "kasan" covers every KASAN helper. They encode kernel-wide conventions, not
// the names in any particular report.
var machineryPatterns = []string{
	// Reporting: dumping the stack, panicking, printing, WARN/BUG plumbing,
	// and the sanitizers that detect the bug rather than cause it.
	`dump_stack`, `show_stack`, `walk_stack`, `dump_backtrace`, `show_regs`, `show_trace`,
	`panic`, `oops_`, `^die$`, `^__die`, `crash_kexec`, `machine_kexec`,
	`report_bug`, `fixup_bug`, `print_report`, `print_usage_bug`, `print_address_description`,
	`warn_slowpath`, `warn_alloc`, `warn_bogus`, `^__warn`, `print_tainted`, `^get_taint$`,
	`printk`, `^vprintk`, `va_format`, `snprintf`, `scnprintf`, `kasprintf`, `kvasprintf`,
	`^dev_(info|notice|warn|err|alert|crit|emerg|printk)`, `hex_dump`,
	`__sanitizer`, `__asan`, `kasan`, `hwasan`, `__msan`, `kmsan`, `kcsan_setup_watchpoint`, `kfence`,
	`ubsan`, `check_memory_region`, `check_heap_object`, `^check_object`, `read_word_at_a_time`,
	`(read|write)_once_.*nocheck`, `__fortify_report`, `stack_trace_save`, `stack_trace_consume_entry`,
	`arch_stack_walk`, `^unwind_`, `debug_object`, `timer_is_static_object`, `work_is_static_object`,
	// Traps and exception entry: the CPU noticed, someone else did it.
	`invalid_op`, `do_error_trap`, `_trap$`, `^do_trap`, `^exc_`, `^asm_exc_`, `^asm_sysvec_`,
	`^sysvec_`, `^do_int3`, `^int3`, `^handle_bug`, `^do_invalid_op`, `^general_protection$`,
	`^page_fault$`, `^async_page_fault`, `^do_page_fault`, `^__do_page_fault`, `^do_user_addr_fault`,
	`^do_kern_addr_fault`, `^__bad_area`, `^bad_area`, `^no_context$`, `^page_fault_oops`,
	`^kernelmode_fixup_or_oops`, `^spurious_kernel_fault`, `^do_general_protection`,
	`program_check_exception`, `program_check_common`, `do_(kernel|translation)_fault`, `do_mem_abort`,
	`^el1_abort`, `^el1h_64_sync`, `^nmi$`, `^do_nmi`, `^default_do_nmi`, `^nmi_handle`, `^notify_die`,
	`notifier_call_chain`, `^end_repeat_nmi`,
	// Scheduling and waiting.
	`^schedule$`, `^__schedule`, `^schedule_`, `^io_schedule`, `^preempt_schedule`, `^context_switch`,
	`^__switch_to`, `^finish_task_switch`, `^do_wait_for_common`, `^__wait_for_common`, `^wait_for_common`, `wait_for_completion`,
	`^_?_?cond_resched`,
	`^complete$`, `^finish_wait`, `^prepare_to_wait`, `^__wake_up`, `^try_to_wake_up`, `^wake_up_`,
	`^out_of_line_wait_on_bit`, `^__wait_on_bit`, `^wait_on_page_bit`, `^bit_wait`, `^usleep_range`,
	`^msleep`, `^do_nanosleep`, `^hrtimer_nanosleep`, `^schedule_hrtimeout`,
	// Locking.
	`lock_acquire`, `lock_release`, `print_unlock`, `imbalance_bug`, `perf_trace`, `print_usage_bug`, `^valid_state$`,
	`^mark_lock`, `^check_(prev_add|prevs_add|noncircular|deadlock|irq_usage|usage)`, `^validate_chain`, `^__lock_sock`, `^lock_sock`, `lock_class`, `lockdep`, `mark_lock`, `(reacquire|mark)_held_locks`,
	`raw_spin_rq`, `spin_lock`, `spin_trylock`, `spin_unlock`, `read_lock`, `read_trylock`, `write_lock`,
	`write_trylock`, `read_unlock`, `write_unlock`, `^down$`, `down_read`, `down_write`, `down_trylock`,
	`^down_interruptible`, `^down_killable`, `^down_timeout`, `^__down`, `up_read`, `up_write`,
	`^up$`, `^mutex_`, `^__mutex_`, `^rt_mutex_`, `^__rt_mutex`, `owner_on_cpu`, `osq_lock`, `osq_unlock`,
	`rwsem_down`, `rwsem_wake`, `^call_rwsem_`, `^rwsem_`, `^__rwsem_`, `percpu_rwsem_wait`,
	`percpu_down_read`, `percpu_down_write`, `^__percpu_rwsem`, `queued_spin_lock_slowpath`,
	`queued_read_lock_slowpath`, `queued_write_lock_slowpath`, `^__pv_queued_spin`,
	`^__raw_callee_save`, `^pv_wait`, `^bit_spin_lock`, `^ww_mutex_`, `^__ww_mutex`,
	`bh_enable`, `bh_disable`, `(trace|lockdep)_(hard|soft)irq`, `^(un)?lock_page`,
}

// dispatchPatterns are the generic machinery that runs everyone's code:
// thread start, workqueues, system call and interrupt entry, softirqs,
// timers, idle. Stall reports keep them as landmarks (see StallCulprit).
var dispatchPatterns = []string{
	`^kthread$`, `^ret_from_fork`, `^worker_thread`, `^process_one_work`, `^process_scheduled_works`,
	`^rescuer_thread`, `^smpboot_thread_fn`, `^entry_SYSCALL`, `^entry_INT80`, `^do_syscall_`,
	`^do_fast_syscall_`, `^__do_fast_syscall`, `^system_call`, `^sysenter_`, `^ia32_sys_call`,
	`^x64_sys_call`, `^syscall_exit`, `^exit_to_user_mode`, `^irq_exit`, `^__irq_exit_rcu`,
	`^irq_exit_rcu`, `^do_softirq`, `^__do_softirq`, `^do_IRQ`, `^common_interrupt`,
	`^ret_from_intr`, `^apic_timer_interrupt`, `^smp_apic_timer_interrupt`, `^handle_irq`,
	`^handle_edge_irq`, `^handle_fasteoi_irq`, `^generic_handle_irq`, `^__handle_irq_event`,
	`^handle_irq_event`, `^irq_enter`, `^__sysvec_`, `^run_ksoftirqd`, `^__run_timers`, `^run_timer_softirq`,
	`^call_timer_fn`, `^__hrtimer_run_queues`, `^hrtimer_interrupt`, `^local_apic_timer_interrupt`,
	`^tick_sched`, `^update_process_times`, `^cpu_startup_entry`, `^do_idle`, `^start_secondary`,
	`^secondary_startup`, `^rest_init`, `^start_kernel`, `^x86_64_start_`, `_indirect_thunk_`,
	`^__x86_return_thunk`,
}

// helperPatterns are memory, string and list helpers: the caller is to blame.
var helperPatterns = []string{
	`memcpy`, `memcmp`, `memset`, `memchr`, `memmove`, `memdup`, `strcmp`, `strncmp`, `strcpy`, `strlcpy`,
	`strncpy`, `strscpy`, `strlen`, `strstr`, `strnstr`, `strnlen`, `strchr`, `strdup`, `strndup`,
	`copy_to_user`, `copy_from_user`, `copy_user_`, `copy_to_iter`, `copy_from_iter`, `copy_page_to_iter`,
	`copy_page_from_iter`, `copy_folio_to_iter`, `put_user`, `get_user`, `might_fault`, `might_sleep`,
	`__might_resched`, `list_add`, `list_del`, `list_replace`, `list_move`, `list_splice`,
	`^refcount_`, `^kref_`, `ref_tracker`, `atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)`,
	`(set|clear|change|test)_bit`, `^kv?free$`, `kfree_skb`, `^kfree_sensitive$`, `k?v?(m|z|c)alloc`,
	`krealloc`, `kmem_cache`, `allocate_slab`, `slab_`, `alloc_pages`, `^__alloc_pages`, `^get_page_from_freelist`, `^__?get_free_pages$`,
	`^should_fail`, `string`, `pointer`, `^klist_`, `rhashtable_lookup`, `ida_free`,
	`xas_(start|load|find)`, `^crc\d+`, `crc_itu_t`, `__phys_addr`, `assertfail`, `logic_(in|out)`,
	`read[bwlq]$`, `write[bwlq]$`, `extract_(user|iter)_to_sg`, `seqprop_assert`,
	// Generic object, device and file-system library code: the subsystem
	// that called it owns the object and the bug.
	`kobject_`, `add_uevent_var`, `get_device_parent`, `device_add`, `device_del`, `device_unregister`,
	`device_destroy`, `device_release`, `devres_release_all`, `device_for_each_child`, `device_remove_file`,
	`^put_device$`, `sysfs_remove`, `hwrng_unregister`, `i2c_del_adapter`, `__unregister_client`,
	`rollback_registered`, `unregister_netdev`, `tty_unregister_device`, `dummy_urb_enqueue`, `usb_kill_urb`,
	`usb_kill_anchored_urbs`, `usb_control_msg`, `usb_hcd_submit_urb`, `usb_submit_urb`,
	`^iput$`, `^iput_final$`, `^ihold$`, `drop_nlink`, `fast_dput`, `^dput`, `folio_(alloc|unlock)`,
	`filemap_alloc_folio`, `__filemap_get_folio`, `find_or_create_page`, `do_read_cache_folio`,
	`read_cache_page`, `pagecache_get_page`, `grab_cache_page_write_begin`, `find_lock_entries`,
	`truncate_inode_pages_range`, `cleanup_srcu_struct`,
	// Timers and work items: whoever armed or flushed them is the culprit.
	`del_timer`, `lock_timer_base`, `__timer_delete_sync`, `sk_stop_timer_sync`, `__mod_timer`,
	`flush_work`, `__cancel_work_timer`, `cancel_work_sync`, `try_to_grab_pending`, `flush_workqueue`,
	`drain_workqueue`, `destroy_workqueue`, `queue_work`, `insert_work`, `__queue_delayed_work`,
	`queue_delayed_work_on`, `kthread_stop`,
}

// treeHelpers are the red-black tree's operations (lib/rbtree.c): the
// tree belongs to the caller, which is named instead — unless that caller
// is machinery itself (the scheduler's run queue), where the tree
// operation is as close to the bug as the report gets.
var treeHelperRe = lazyre.New(`^rb_(?:first|last|next|prev|erase|insert_color|replace_node|link_node)$`)

var (
	machineryOnlyRe = lazyre.New(strings.Join(machineryPatterns, "|"))
	machineryRe     = lazyre.New(strings.Join(append(append(append([]string{},
		machineryPatterns...), dispatchPatterns...), helperPatterns...), "|"))
	noDispatchRe = lazyre.New(strings.Join(append(append([]string{},
		machineryPatterns...), helperPatterns...), "|"))
)

// CulpritOptions refines the culprit choice for one kind of report.
type CulpritOptions struct {
	// Skip lists extra patterns (unanchored regular expressions) of functions
	// that cannot be the culprit for this kind, e.g. "refcount" for refcount
	// warnings or "kobject_" for kobject bugs.
	Skip []string
	// NoDefaultSkips disables the kernel-wide machinery list, for report
	// kinds whose culprit is chosen by their own rule (hung tasks).
	NoDefaultSkips bool
	// IncludeUnreliable lets "?" frames be chosen; by default they are
	// skipped because they are stale return addresses left on the stack.
	IncludeUnreliable bool
	// KeepDispatch keeps entry, workqueue and interrupt frames, which stall
	// reports use as landmarks.
	KeepDispatch bool
}

// Culprit returns the normalised name of the function to blame: the
// faulting instruction's function when it is not machinery, else the first
// reliable frame of the call trace that is not. It returns "" when every
// frame is machinery or unreliable.
func Culprit(frames []Frame, rip *Frame) string {
	return CulpritWith(frames, rip, CulpritOptions{})
}

// CulpritWith is Culprit with kind-specific refinements.
func CulpritWith(frames []Frame, rip *Frame, opt CulpritOptions) string {
	if c := Candidates(frames, rip, opt); len(c) > 0 {
		return c[0]
	}
	return ""
}

// Candidates lists, in stack order (the faulting function first), the
// normalised names of the frames that may be blamed.
func Candidates(frames []Frame, rip *Frame, opt CulpritOptions) []string {
	var extra *lazyre.Regexp
	if len(opt.Skip) > 0 {
		extra = lazyre.New(strings.Join(opt.Skip, "|"))
	}
	skip := machineryRe
	if opt.KeepDispatch {
		skip = noDispatchRe
	}
	var out []string
	usable := func(f *Frame) bool {
		return f != nil && f.Function != "" && (f.Reliable || opt.IncludeUnreliable)
	}
	// caller is the frame after position i (-1: the faulting function)
	// that could be a caller.
	caller := func(i int) *Frame {
		for j := i + 1; j < len(frames); j++ {
			if usable(&frames[j]) {
				return &frames[j]
			}
		}
		return nil
	}
	add := func(f *Frame, i int) {
		if !usable(f) {
			return
		}
		name := NormalizeFunction(f.Function)
		if extra != nil && extra.MatchString(name) {
			return
		}
		if !opt.NoDefaultSkips {
			if skip.MatchString(name) {
				return
			}
			if treeHelperRe.MatchString(name) {
				c := caller(i)
				if c == nil || !machineryOnlyRe.MatchString(NormalizeFunction(c.Function)) {
					return
				}
			}
		}
		out = append(out, name)
	}
	add(rip, -1)
	for i := range frames {
		add(&frames[i], i)
	}
	return out
}

// syscallPrefixes are the wrappers the kernel generates around a system call
// body; different architectures and versions use different ones, so titles
// strip them to name the system call the same way everywhere.
var syscallPrefixes = []string{
	"SYSC_", "SyS_", "sys_", "__x64_", "__ia32_", "__arm64_", "____sys_", "___sys_", "__sys_",
	"__se_", "__se_sys_", "__do_sys_", "compat_SYSC_", "compat_SyS_", "ksys_",
}

// StripSyscallPrefix removes one system call wrapper prefix, choosing the
// one that leaves the shortest name ("__x64_sys_futex" → "sys_futex",
// "__do_sys_rmdir" → "rmdir").
func StripSyscallPrefix(fn string) string {
	best := fn
	for _, p := range syscallPrefixes {
		if s := strings.TrimPrefix(fn, p); len(s) < len(best) && s != "" {
			best = s
		}
	}
	return best
}

// Report kinds beyond those in incident.go, for the sanitizer and lockdep
// families and the rarer conditions a text log shows.
const (
	KindUBSAN         = "ubsan"
	KindKMSAN         = "kmsan"
	KindKCSAN         = "kcsan"
	KindKFENCE        = "kfence"
	KindLockdep       = "lockdep"
	KindMemoryLeak    = "memory-leak"
	KindStackOverflow = "stack-overflow"
	KindReboot        = "reboot"
	// KindAllocFailure is a page allocation failure: the kernel could not
	// find the memory a caller asked for ("X: page allocation failure").
	KindAllocFailure = "alloc-failure"
	// KindFilesystemError is a file system's own report of damage or an
	// I/O failure it cannot go on from (XFS internal error, EXT4-fs error).
	KindFilesystemError = "filesystem-error"
)
