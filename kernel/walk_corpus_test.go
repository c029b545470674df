package kernel

import (
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
)

// TestCorpusHlistAndArray: the pid of every task is reachable through its
// struct pid's tasks[PIDTYPE_PID] hlist, walked with HlistEach, and the
// task's comm read through ArrayElem agrees with the task list.
func TestCorpusHlistAndArray(t *testing.T) {
	dumps := corpus.Dumps(t)
	k := attachCorpus(t, dumps[0], "")
	tasks, err := k.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	pidLinks, err := k.Off("task_struct", "pid_links")
	if err != nil {
		t.Skipf("no task_struct.pid_links: %v", err)
	}
	threadPid, err := k.Off("task_struct", "thread_pid")
	if err != nil {
		t.Skipf("no task_struct.thread_pid: %v", err)
	}
	checked := 0
	for _, tk := range tasks {
		if tk.PID == 0 {
			continue // idle tasks have no struct pid of their own
		}
		pid, err := k.U64(tk.Addr + threadPid)
		if err != nil || pid == 0 {
			t.Fatalf("pid %d: thread_pid unreadable: %v", tk.PID, err)
		}
		head, err := k.ArrayElem(pid, "pid", "tasks", 0) // PIDTYPE_PID
		if err != nil {
			t.Fatal(err)
		}
		found := false
		err = k.HlistEach(head, pidLinks, func(e uint64) error {
			found = found || e == tk.Addr
			return nil
		})
		if err != nil || !found {
			t.Errorf("pid %d (%s): not on its struct pid's hlist (%v)", tk.PID, tk.Comm, err)
		}
		c0, err := k.ArrayElem(tk.Addr, "task_struct", "comm", 0)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := k.String(c0, 16); s != tk.Comm {
			t.Errorf("comm via ArrayElem %q, task list %q", s, tk.Comm)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no task checked")
	}
	t.Logf("%d tasks found on their pid hlists", checked)
}
