package triage

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/kernel"
)

// What a D task sleeps on is read from the dump the way the locking code
// left it: a sleeper keeps its waiter record (struct mutex_waiter,
// rwsem_waiter, or a wait_queue_entry) on its own stack, holding a pointer
// to its task and linked into the lock's wait list. Finding that record on
// the task's stack and walking the list to the one node that is not a
// waiter gives the lock; the lock's owner field gives the holder. Nothing
// is inferred from function names beyond choosing which record to look for.

// lockKind describes one sleeping lock's waiter record and wait list.
type lockKind struct {
	name       string
	waiter     string // struct of the waiter record
	waiterList string // its list node member
	waiterTask string // its task pointer member
	lock       string // the lock's struct
	lockList   string // the wait list head inside the lock
	frames     []string
}

var lockKinds = []lockKind{
	{"mutex", "mutex_waiter", "list", "task", "mutex", "wait_list",
		[]string{"__mutex_lock", "__mutex_lock_common", "__mutex_lock_slowpath", "mutex_lock", "mutex_lock_nested",
			"mutex_lock_killable", "mutex_lock_interruptible", "__mutex_lock_killable_slowpath",
			"__mutex_lock_interruptible_slowpath", "mutex_lock_io"}},
	{"rw_semaphore", "rwsem_waiter", "list", "task", "rw_semaphore", "wait_list",
		[]string{"rwsem_down_read_slowpath", "rwsem_down_write_slowpath", "rwsem_down_read_failed",
			"rwsem_down_write_failed", "down_read", "down_write", "down_read_killable", "down_write_killable",
			"__down_read_common", "__down_write_common", "call_rwsem_down_read_failed", "call_rwsem_down_write_failed"}},
	{"percpu_rw_semaphore", "wait_queue_entry", "entry", "private", "percpu_rw_semaphore", "waiters.head",
		[]string{"percpu_rwsem_wait", "__percpu_down_read", "percpu_down_write"}},
}

const stackPage = 4096

// maxWaiters bounds a wait-list walk: a corrupt list must not loop.
const maxWaiters = 4096

type lockReader struct {
	in     *incident.Incident
	k      *kernel.Kernel
	byAddr map[uint64]kernel.Task
	mounts []kernel.Mount
	cr     *containerReader
}

// fillWaits finds, for every D task whose stack sleeps in a mutex, an
// rw_semaphore or a percpu_rw_semaphore, the lock and its recorded holder.
func fillWaits(in *incident.Incident, k *kernel.Kernel, tasks []kernel.Task, mounts []kernel.Mount, cr *containerReader) {
	lr := &lockReader{in: in, k: k, byAddr: map[uint64]kernel.Task{}, mounts: mounts, cr: cr}
	for _, t := range tasks {
		lr.byAddr[t.Addr] = t
	}
	byPID := map[int]kernel.Task{}
	for _, t := range tasks {
		if t.State == kernel.StateUninterruptible {
			byPID[t.PID] = t
		}
	}
	warned := 0
	for i := range in.BlockedTasks {
		bt := &in.BlockedTasks[i]
		t, ok := byPID[bt.PID]
		if !ok {
			continue
		}
		kinds := kindsOnStack(bt.Backtrace)
		if len(kinds) == 0 {
			if w, err := lr.journalWait(t, bt.Backtrace); w != nil {
				bt.WaitsOn = w
			} else if err != nil {
				bt.WaitUnknown = "waits for a jbd2 journal commit, but the journal could not be read: " + err.Error()
			}
			continue
		}
		w, err := lr.waitOf(t, kinds)
		if err != nil {
			bt.WaitUnknown = fmt.Sprintf("sleeps in a %s, but the lock could not be read: %v", kinds[0].name, err)
			if warned++; warned <= maxWarnedStacks {
				in.Warn(fmt.Sprintf("pid %d (%s) sleeps in a %s, but the lock could not be read: %v", t.PID, t.Comm, kinds[0].name, err))
			}
			continue
		}
		bt.WaitsOn = w
	}
}

func kindsOnStack(frames []incident.Frame) []lockKind {
	fns := incident.ReliableFunctions(frames)
	var out []lockKind
	for _, lk := range lockKinds {
		for _, fn := range lk.frames {
			if containsString(fns, fn) {
				out = append(out, lk)
				break
			}
		}
	}
	return out
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// waitOf scans the task's stack for its waiter record of one of the kinds.
func (lr *lockReader) waitOf(t kernel.Task, kinds []lockKind) (*incident.Wait, error) {
	buf, lo, err := readStack(lr.k, t)
	if err != nil {
		return nil, err
	}
	st := kernel.StackRange{Lo: lo, Hi: lo + uint64(len(buf))}
	var errs []string
	for _, lk := range kinds {
		listOff, err1 := lr.k.Off(lk.waiter, lk.waiterList)
		taskOff, err2 := lr.k.Off(lk.waiter, lk.waiterTask)
		headOff, err3 := lr.k.Off(lk.lock, lk.lockList)
		if err := firstErr(err1, err2, err3); err != nil {
			errs = append(errs, fmt.Sprintf("%s layout: %v", lk.name, err))
			continue
		}
		found := false
		for off := uint64(0); off+8 <= uint64(len(buf)); off += 8 {
			if binary.LittleEndian.Uint64(buf[off:]) != t.Addr || st.Lo+off < taskOff {
				continue
			}
			rec := st.Lo + off - taskOff
			head, ok := lr.listHead(rec+listOff, listOff, taskOff)
			if !ok {
				continue
			}
			found = true
			w, err := lr.describe(lk, head-headOff)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			w.Evidence = fmt.Sprintf("%s at %#x on pid %d's stack, linked into the wait list at %#x of the %s at %s",
				lk.waiter, rec, t.PID, head, lk.name, w.Lock)
			return w, nil
		}
		if !found {
			errs = append(errs, fmt.Sprintf("no %s naming the task on its stack", lk.waiter))
		}
	}
	return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
}

// listHead walks a consistent circular list from node and returns the one
// node that is not a waiter of a known task: the lock's wait-list head.
func (lr *lockReader) listHead(node, listOff, taskOff uint64) (uint64, bool) {
	var head uint64
	heads := 0
	cur := node
	for i := 0; i < maxWaiters; i++ {
		next, err := lr.k.U64(cur)
		if err != nil || next == 0 {
			return 0, false
		}
		back, err := lr.k.U64(next + 8)
		if err != nil || back != cur {
			return 0, false // not a consistent list_head
		}
		if next == node {
			return head, heads == 1
		}
		if task, err := lr.k.U64(next - listOff + taskOff); err != nil || !lr.isTask(task) {
			head = next
			heads++
		}
		cur = next
	}
	return 0, false
}

func (lr *lockReader) isTask(addr uint64) bool {
	_, ok := lr.byAddr[addr]
	return ok
}

// Owner fields keep flag bits in the low bits of the task pointer
// (MUTEX_FLAGS, RWSEM_OWNER_FLAGS_MASK); task_structs are aligned far
// beyond them.
const ownerFlags = 0x7

// rwsemReaderOwned is RWSEM_READER_OWNED in rw_semaphore.owner.
const rwsemReaderOwned = 0x1

func (lr *lockReader) describe(lk lockKind, lock uint64) (*incident.Wait, error) {
	k := lr.k
	w := &incident.Wait{Kind: lk.name, Lock: fmt.Sprintf("%#x", lock)}
	if name, off, mod, ok := k.Symbolize(lock); ok {
		w.Symbol = name
		if off != 0 {
			w.Symbol = fmt.Sprintf("%s+%#x", name, off)
		}
		if mod != "" {
			w.Symbol += " [" + mod + "]"
		}
	}
	switch lk.name {
	case "mutex", "rw_semaphore":
		raw, err := k.Field(lock, lk.lock, "owner")
		if err != nil {
			return nil, fmt.Errorf("%s at %#x: owner: %w", lk.name, lock, err)
		}
		owner := raw &^ ownerFlags
		if owner != 0 && !lr.isTask(owner) {
			return nil, fmt.Errorf("%s at %#x: owner %#x is not a task of the dump", lk.name, lock, owner)
		}
		switch {
		case owner == 0:
			w.Note = "the lock records no owner (released, or being handed to a waiter)"
		case lk.name == "rw_semaphore" && raw&rwsemReaderOwned != 0:
			w.Note = fmt.Sprintf("held for read: readers are not recorded; pid %d was the last to take it for read and may have released it", lr.byAddr[owner].PID)
		default:
			w.Owner = lr.owner(owner)
		}
	case "percpu_rw_semaphore":
		block, err := k.Field(lock, lk.lock, "block")
		if err != nil {
			return nil, fmt.Errorf("%s at %#x: block: %w", lk.name, lock, err)
		}
		if uint32(block) != 0 {
			w.Note = "held for write (block set); the writer is not recorded in the lock"
		} else {
			w.Note = "not blocked for writers (block clear)"
		}
		if writer, err := k.Field(lock, lk.lock, "writer.task"); err == nil && lr.isTask(writer) {
			w.Owner = lr.owner(writer)
			w.Note += fmt.Sprintf("; pid %d is the writer waiting for readers to drain", w.Owner.PID)
		}
		w.Mount = lr.freezeMount(lock)
	}
	return w, nil
}

func (lr *lockReader) owner(addr uint64) *incident.LockOwner {
	t := lr.byAddr[addr]
	o := &incident.LockOwner{PID: t.PID, Comm: t.Comm, State: t.State.String(), Backtrace: backtrace(lr.in, lr.k, t), Container: lr.cr.of(t)}
	if t.Active {
		cpu := t.CPU
		o.CPU = &cpu
	}
	return o
}

// sbFreezeLevels is SB_FREEZE_LEVELS: s_writers.rw_sem has one semaphore
// per freeze level (write, page fault, fs-internal).
const sbFreezeLevels = 3

// freezeMount names the mount whose super block holds the semaphore, when
// it is one of a super block's freeze-protection semaphores.
func (lr *lockReader) freezeMount(lock uint64) string {
	for _, m := range lr.mounts {
		if m.SB == 0 {
			continue
		}
		for i := uint64(0); i < sbFreezeLevels; i++ {
			a, err := lr.k.ArrayElem(m.SB, "super_block", "s_writers.rw_sem", i)
			if err != nil {
				return ""
			}
			if a == lock {
				s := m.Path
				if m.FSType != "" || m.Device != "" {
					s += " (" + strings.TrimSpace(m.FSType+" on "+m.Device) + ")"
				}
				if m.Frozen {
					s += fmt.Sprintf(", frozen at level %d", m.FrozenLevel)
				}
				return s
			}
		}
	}
	return ""
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// journalWait: a task in jbd2_log_wait_commit sleeps on its journal's
// j_wait_done_commit queue — wait_event's entry on its stack, woken by
// autoremove_wake_function, linked into the queue. The queue's head gives
// the journal; the journal names its commit thread (j_task), the task the
// waiter depends on. Nil without an error when the stack does not wait
// for a commit.
func (lr *lockReader) journalWait(t kernel.Task, frames []incident.Frame) (*incident.Wait, error) {
	if !containsString(incident.ReliableFunctions(frames), "jbd2_log_wait_commit") {
		return nil, nil
	}
	k := lr.k
	buf, lo, err := readStack(k, t)
	if err != nil {
		return nil, err
	}
	recs, err := waitEntries(k, t, buf, lo, "wait_queue_entry", "", "autoremove_wake_function")
	if err != nil {
		return nil, err
	}
	entryOff, err1 := k.Off("wait_queue_entry", "entry")
	privOff, err2 := k.Off("wait_queue_entry", "private")
	headOff, err3 := k.Off("journal_s", "j_wait_done_commit.head")
	if err := firstErr(err1, err2, err3); err != nil {
		return nil, err
	}
	for _, rec := range recs {
		head, ok := lr.listHead(rec+entryOff, entryOff, privOff)
		if !ok {
			continue
		}
		j := head - headOff
		commit, err := k.Field(j, "journal_s", "j_task")
		if err != nil || !lr.isTask(commit) {
			continue // not a journal's queue
		}
		dev := "?"
		if bdev, err := k.Field(j, "journal_s", "j_dev"); err == nil && bdev != 0 {
			if name, _, err := bdevName(k, bdev); err == nil {
				dev = name
			}
		}
		w := &incident.Wait{Kind: incident.WaitJournalCommit, Lock: fmt.Sprintf("%#x", j), Symbol: "(" + dev + ")",
			Owner: lr.owner(commit)}
		seq, err1 := k.Field(j, "journal_s", "j_commit_sequence")
		req, err2 := k.Field(j, "journal_s", "j_commit_request")
		if firstErr(err1, err2) == nil {
			w.Note = fmt.Sprintf("commits requested up to transaction %d, committed up to %d", req, seq)
		}
		w.Evidence = fmt.Sprintf("wait_queue_entry at %#x on pid %d's stack (woken by autoremove_wake_function), linked into j_wait_done_commit of the journal at %#x, whose j_task is pid %d",
			rec, t.PID, j, w.Owner.PID)
		return w, nil
	}
	return nil, fmt.Errorf("no wait entry naming pid %d linked into a journal's j_wait_done_commit", t.PID)
}
