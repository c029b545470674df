package analyzers

import (
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

// A chain is followed from the waiters through the lock's owner to what the
// owner waits for, to its root; a cycle is called a deadlock.
func TestLockChains(t *testing.T) {
	cpu := 1
	mutex := &incident.Wait{Kind: "mutex", Lock: "0xffffffffc0a01000", Symbol: "table_lock [drv]",
		Owner: &incident.LockOwner{PID: 300, Comm: "holder", State: "UN"}}
	frozen := &incident.Wait{Kind: "percpu_rw_semaphore", Lock: "0xffff8880aa000078", Mount: "/data1 (ext4 on /dev/vda), frozen at level 4",
		Note: "held for write (block set); the writer is not recorded in the lock"}
	in := &incident.Incident{BlockedTasks: []incident.BlockedTask{
		{PID: 301, Comm: "lookup", WaitsOn: mutex},
		{PID: 302, Comm: "lookup", WaitsOn: mutex},
		{PID: 300, Comm: "holder", WaitsOn: frozen},
	}}
	got := lockChains(in, in.BlockedTasks[:2])
	want := "2 tasks (lookup:301, lookup:302) wait for mutex table_lock [drv] at 0xffffffffc0a01000, held by holder:300 (UN), " +
		"which waits for percpu_rw_semaphore at 0xffff8880aa000078 — the freeze protection of /data1 (ext4 on /dev/vda), frozen at level 4 " +
		"(held for write (block set); the writer is not recorded in the lock)"
	if len(got) != 1 || got[0] != want {
		t.Errorf("chain\n got %q\nwant %q", got, want)
	}

	// A task whose lock could not be read says so, with the reason.
	unread := []incident.BlockedTask{{PID: 305, Comm: "lookup", WaitUnknown: "sleeps in a mutex, but the lock could not be read: no mutex_waiter naming the task on its stack"}}
	if got := lockChains(in, unread); len(got) != 1 || got[0] != "lookup:305 "+unread[0].WaitUnknown {
		t.Errorf("unread: %q", got)
	}

	// The holder's own finding says what it holds.
	if got := heldBy(in, in.BlockedTasks[2:]); len(got) != 1 || got[0] != "holder:300 holds mutex table_lock [drv] at 0xffffffffc0a01000 that 2 D task(s) wait for" {
		t.Errorf("held: %q", got)
	}

	// The owner running on a CPU ends the chain there.
	mutex.Owner = &incident.LockOwner{PID: 300, Comm: "holder", State: "RU", CPU: &cpu,
		Backtrace: frames("ktriage_spin", "ktriage_table_hold")}
	if got := lockChains(in, in.BlockedTasks[:1]); len(got) != 1 || !strings.HasSuffix(got[0], "running on CPU 1 in ktriage_spin ← ktriage_table_hold") {
		t.Errorf("running owner: %q", got)
	}

	// A waits for B's lock while B waits for A's: a deadlock, not a loop.
	a := &incident.Wait{Kind: "mutex", Lock: "0x1000", Owner: &incident.LockOwner{PID: 2, Comm: "b", State: "UN"}}
	b := &incident.Wait{Kind: "mutex", Lock: "0x2000", Owner: &incident.LockOwner{PID: 1, Comm: "a", State: "UN"}}
	dl := &incident.Incident{BlockedTasks: []incident.BlockedTask{{PID: 1, Comm: "a", WaitsOn: a}, {PID: 2, Comm: "b", WaitsOn: b}}}
	if got := lockChains(dl, dl.BlockedTasks[:1]); len(got) != 1 || !strings.Contains(got[0], "deadlock") {
		t.Errorf("deadlock: %q", got)
	}
}
