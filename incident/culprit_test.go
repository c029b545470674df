package incident

import "testing"

func frames(names ...string) []Frame {
	var out []Frame
	for _, n := range names {
		f := Frame{Function: n, Reliable: true}
		if n[0] == '?' {
			f.Function, f.Reliable = n[1:], false
		}
		out = append(out, f)
	}
	return out
}

func TestCulprit(t *testing.T) {
	cases := []struct {
		name   string
		rip    *Frame
		frames []Frame
		want   string
	}{
		{"faulting function", &Frame{Function: "rb_next", Reliable: true},
			frames("?pick_next_task_fair", "__schedule", "schedule", "futex_wait_queue_me"), "rb_next"},
		{"hung task under rwsem", nil,
			frames("schedule", "rwsem_down_read_failed", "?common_file_perm", "call_rwsem_down_read_failed",
				"?percpu_down_read", "__sb_start_write", "vfs_write"), "__sb_start_write"},
		{"6.1 freeze", nil,
			frames("__schedule", "schedule", "percpu_rwsem_wait", "?__percpu_rwsem_trylock.part.0", "__percpu_down_read", "vfs_write"), "vfs_write"},
		{"panic machinery and clones", nil,
			frames("dump_stack_lvl", "panic", "?_printk", "sysrq_handle_crash", "__handle_sysrq.cold"), "sysrq_handle_crash"},
		{"library helper warns, its caller is blamed", &Frame{Function: "refcount_warn_saturate", Reliable: true},
			frames("report_bug", "handle_bug", "exc_invalid_op", "asm_exc_invalid_op", "foo_release.isra.3"), "foo_release"},
		{"only machinery", nil, frames("kthread", "ret_from_fork", "worker_thread", "process_one_work"), ""},
		{"unreliable only", nil, frames("?do_thing"), ""},
	}
	for _, c := range cases {
		if got := Culprit(c.frames, c.rip); got != c.want {
			t.Errorf("%s: Culprit = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCulpritOptions(t *testing.T) {
	fr := frames("refcount_sub_and_test", "sctp_wfree", "skb_release_head_state")
	if got := CulpritWith(fr, nil, CulpritOptions{Skip: []string{"refcount"}}); got != "sctp_wfree" {
		t.Errorf("skip: %q", got)
	}
	fr = frames("?stale", "kthread", "ret_from_fork")
	if got := CulpritWith(fr, nil, CulpritOptions{IncludeUnreliable: true}); got != "stale" {
		t.Errorf("unreliable: %q", got)
	}
	if got := Candidates(frames("do_work", "process_one_work", "worker_thread"), nil, CulpritOptions{KeepDispatch: true}); len(got) != 3 {
		t.Errorf("keep dispatch: %v", got)
	}
}

func TestStripSyscallPrefix(t *testing.T) {
	for in, want := range map[string]string{"__x64_sys_futex": "sys_futex", "__do_sys_rmdir": "rmdir",
		"SyS_write": "write", "ksys_ioctl": "ioctl", "vfs_write": "vfs_write"} {
		if got := StripSyscallPrefix(in); got != want {
			t.Errorf("StripSyscallPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
