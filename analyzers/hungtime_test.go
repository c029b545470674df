package analyzers

import (
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

// A dump's D task is hung only when its own timestamps exceed the timeout
// read from the dump (or the kernel default, said to be assumed).
func TestHungTasksNeedTheirTime(t *testing.T) {
	secs := func(f float64) *float64 { return &f }
	task := func(pid int, s float64) incident.BlockedTask {
		return incident.BlockedTask{PID: pid, Comm: "dd", State: "D", BlockedSeconds: secs(s), BlockedFrom: "sched_info.last_arrival",
			Backtrace: frames("__schedule", "schedule", "io_schedule", "folio_wait_bit_common", "filemap_fdatawait_range", "vfs_fsync_range")}
	}
	for _, tc := range []struct {
		name    string
		sysctls map[string]int64
		want    []int
		note    string
	}{
		{"timeout read", map[string]int64{"kernel.hung_task_timeout_secs": 120}, []int{2}, "= 120 (read from the dump)"},
		{"short timeout", map[string]int64{"kernel.hung_task_timeout_secs": 30}, []int{1, 2}, "= 30 (read from the dump)"},
		{"not read", nil, []int{2}, "not read from the dump"},
		{"detector off", map[string]int64{"kernel.hung_task_timeout_secs": 0}, []int{2}, "detector was off"},
	} {
		in := &incident.Incident{Source: incident.Source{Kind: "vmcore"}, System: &incident.System{Sysctls: tc.sysctls},
			BlockedTasks: []incident.BlockedTask{task(1, 45), task(2, 300), task(3, 0.03)}}
		got, why, _ := hungTasks(in)
		var pids []int
		for _, g := range got {
			pids = append(pids, g.PID)
			if !strings.Contains(why[g.PID], tc.note) {
				t.Errorf("%s: pid %d evidence %q lacks %q", tc.name, g.PID, why[g.PID], tc.note)
			}
		}
		if len(pids) != len(tc.want) || (len(pids) > 0 && pids[len(pids)-1] != tc.want[len(tc.want)-1]) || (len(pids) > 0 && pids[0] != tc.want[0]) {
			t.Errorf("%s: hung %v, want %v", tc.name, pids, tc.want)
		}
		fs := Run(in, builtin(t))
		if len(tc.want) > 0 && (len(fs) == 0 || fs[0].ID != "hung-task-block-io") {
			t.Errorf("%s: findings %v", tc.name, ids(fs))
		}
	}
	// Without any task over the timeout, no hung-task finding at all.
	in := &incident.Incident{Source: incident.Source{Kind: "vmcore"}, System: &incident.System{Sysctls: map[string]int64{"kernel.hung_task_timeout_secs": 120}},
		BlockedTasks: []incident.BlockedTask{task(3, 0.03)}}
	if fs := Run(in, builtin(t)); len(fs) != 0 {
		t.Errorf("findings %v for a task blocked 30 ms", ids(fs))
	}
}
