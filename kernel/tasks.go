package kernel

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Task is one thread of the crashed kernel.
type Task struct {
	Addr     uint64 // task_struct address
	PID      int
	TGID     int
	PPID     int
	Comm     string
	CPU      int
	State    TaskState // crash's letters: RU IN UN ZO ST TR DE ID PA WA NE
	RawState uint64
	Kernel   bool // a kernel thread (no mm)
	// LastArrival is sched_info.last_arrival: the rq clock (ns) when the
	// task last got a CPU; with the rq clock at crash time it tells how
	// long a D task had been waiting.
	LastArrival uint64
	// Active is set for the task each CPU was running (rq->curr).
	Active bool
	// Idle marks a per-CPU idle task (swapper/N).
	Idle bool
	// StackPtr is thread.sp: where a sleeping task's switch frame is.
	StackPtr uint64
	// StackBase is task->stack (the bottom of its kernel stack).
	StackBase uint64
}

// maxTasks bounds a task walk over corrupt lists.
const maxTasks = 1 << 22

type taskLayout struct {
	tasks, pid, tgid, comm, state, realParent, mm, stack, threadSP uint64
	cpu                                                            uint64
	hasCPU                                                         bool
	// cpuInThreadInfo: the cpu is thread_info.cpu, and struct
	// thread_info sits at the bottom of the task's stack (before 4.9).
	cpuInThreadInfo bool
	stateSize       uint64
	lastArrival     uint64
	hasLastArrival  bool
	exitState       uint64
	// thread group: signal->thread_head + thread_node (6.1+) or thread_group.
	signal, threadHead, threadNode, threadGroup uint64
	useThreadNode, useThreadGroup               bool
	bits                                        stateBits
}

func (k *Kernel) taskLayout() (*taskLayout, error) {
	var l taskLayout
	offs := k.offsets()
	off := offs.of
	l.tasks = off("task_struct", "tasks")
	l.pid = off("task_struct", "pid")
	l.tgid = off("task_struct", "tgid")
	l.comm = off("task_struct", "comm")
	l.realParent = off("task_struct", "real_parent")
	l.mm = off("task_struct", "mm")
	l.stack = off("task_struct", "stack")
	l.threadSP = off("task_struct", "thread.sp")
	l.exitState = off("task_struct", "exit_state")
	if offs.err != nil {
		return nil, offs.err
	}
	if m, err := k.Types.MemberInfo("task_struct", "__state"); err == nil {
		l.state, l.stateSize = m.Offset, m.Type.Size
	} else if m, err := k.Types.MemberInfo("task_struct", "state"); err == nil {
		l.state, l.stateSize = m.Offset, m.Type.Size
	} else {
		return nil, fmt.Errorf("task_struct has neither __state nor state: %w", err)
	}
	if v, err := k.Off("task_struct", "thread_info.cpu"); err == nil {
		l.cpu, l.hasCPU = v, true
	} else if v, err := k.Off("task_struct", "cpu"); err == nil {
		l.cpu, l.hasCPU = v, true
	} else if v, err := k.Off("thread_info", "cpu"); err == nil {
		l.cpu, l.hasCPU, l.cpuInThreadInfo = v, true, true
	}
	if v, err := k.Off("task_struct", "sched_info.last_arrival"); err == nil {
		l.lastArrival, l.hasLastArrival = v, true
	}
	if v, err := k.Off("task_struct", "thread_node"); err == nil {
		if h, err2 := k.Off("signal_struct", "thread_head"); err2 == nil {
			s, _ := k.Off("task_struct", "signal")
			l.threadNode, l.threadHead, l.signal, l.useThreadNode = v, h, s, true
		}
	}
	if !l.useThreadNode {
		if v, err := k.Off("task_struct", "thread_group"); err == nil {
			l.threadGroup, l.useThreadGroup = v, true
		}
	}
	l.bits = k.taskStateBits()
	return &l, nil
}

// stateBits are the task state and exit state values that moved between
// kernels (include/linux/sched.h).
type stateBits struct {
	exitDead, exitZombie                            uint64
	dead, wakekill, waking, parked, noload, newTask uint64
}

var (
	// 4.14 on: TASK_PARKED 0x40, TASK_DEAD 0x80, ... TASK_NEW 0x800.
	stateBitsNew = stateBits{exitDead: 0x10, exitZombie: 0x20,
		parked: 0x40, dead: 0x80, wakekill: 0x100, waking: 0x200, noload: 0x400, newTask: 0x800}
	// 3.14–4.13: TASK_DEAD 0x40 ... TASK_PARKED 0x200 (NOLOAD from 4.2, NEW from 4.8).
	stateBitsOld = stateBits{exitDead: 0x10, exitZombie: 0x20,
		dead: 0x40, wakekill: 0x80, waking: 0x100, parked: 0x200, noload: 0x400, newTask: 0x800}
)

// taskStateBits reads the state values from the kernel's own
// task_state_array (fs/proc/array.c), as crash does: entry i names the
// state of bit i-1. Up to 3.13 it lists every bit ("x (dead)", "W
// (waking)" ...) and puts zombie before dead; 4.14 on it ends in the
// report-only "I (idle)", and the high bits were renumbered. Without the
// array (no symbol, unreadable) the release string decides.
func (k *Kernel) taskStateBits() stateBits {
	letters := k.taskStateLetters()
	if len(letters) < 7 {
		if k.kernelBefore(4, 14) {
			return stateBitsOld
		}
		return stateBitsNew
	}
	return stateBitsFromLetters(letters)
}

// stateBitsFromLetters derives the state values from task_state_array's
// first letters (see taskStateBits).
func stateBitsFromLetters(letters string) stateBits {
	// 4.14 on, entries past "Z" are report-only values, not state bits.
	if strings.IndexByte(letters, 'I') >= 0 {
		b := stateBitsNew
		b.exitZombie, b.exitDead = letterBit(letters, 'Z', b.exitZombie), letterBit(letters, 'X', b.exitDead)
		return b
	}
	b := stateBitsOld
	for i, f := range []*uint64{&b.exitZombie, &b.exitDead, &b.dead, &b.wakekill, &b.waking, &b.parked, &b.noload, &b.newTask} {
		*f = letterBit(letters, "ZXxKWPNn"[i], *f)
	}
	return b
}

// letterBit is the state bit task_state_array gives letter c, or def.
func letterBit(letters string, c byte, def uint64) uint64 {
	if i := strings.IndexByte(letters, c); i >= 1 {
		return 1 << (i - 1)
	}
	return def
}

// taskStateLetters returns the first letter of each task_state_array entry
// ("R (running)" → 'R'), or "" when the array cannot be read.
func (k *Kernel) taskStateLetters() string {
	a, err := k.Addr("task_state_array")
	if err != nil {
		return ""
	}
	var out []byte
	for i := uint64(0); i < 16; i++ {
		p, err := k.U64(a + 8*i)
		if err != nil || p < startKernelMap {
			break
		}
		str, err := k.String(p, 24)
		if err != nil || len(str) < 4 || str[1] != ' ' || str[2] != '(' {
			break
		}
		out = append(out, str[0])
	}
	if len(out) == 0 || out[0] != 'R' {
		return ""
	}
	return string(out)
}

// kernelBefore compares the crashed kernel's release with major.minor.
func (k *Kernel) kernelBefore(major, minor int) bool {
	ma, mi, _ := k.releaseNumbers()
	return ma < major || ma == major && mi < minor
}

// releaseNumbers is the crashed kernel's major.minor, from the first
// source that holds a well-formed release: VMCOREINFO OSRELEASE, the
// kernel's own utsname in memory, the kdump header's copy of it. An
// absent or garbled OSRELEASE must not change how stacks are unwound.
func (k *Kernel) releaseNumbers() (major, minor int, ok bool) {
	k.releaseOnce.Do(func() {
		var cands []string
		if vi := k.Dump.VMCoreInfo; vi != nil {
			cands = append(cands, vi.OSRelease())
		}
		var s SysInfo
		if k.readUtsname(&s) == nil {
			cands = append(cands, s.Release)
		}
		cands = append(cands, k.Dump.Uts.Release)
		for _, rel := range cands {
			if ma, mi, ok := parseRelease(rel); ok {
				k.relMajor, k.relMinor, k.relOK = ma, mi, true
				return
			}
		}
	})
	return k.relMajor, k.relMinor, k.relOK
}

// parseRelease reads "6.1.0-56-cloud-amd64" as 6, 1.
func parseRelease(rel string) (major, minor int, ok bool) {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	ma, err1 := strconv.Atoi(parts[0])
	digits := strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	mi, err2 := strconv.Atoi(digits)
	if err1 != nil || err2 != nil || ma < 2 || ma > 99 || mi < 0 || mi > 999 {
		return 0, 0, false
	}
	return ma, mi, true
}

func (k *Kernel) readTask(l *taskLayout, addr uint64) (Task, error) {
	t := Task{Addr: addr, CPU: -1}
	buf := make([]byte, 4)
	rd32 := func(off uint64) int {
		if err := k.Read(buf, addr+off); err != nil {
			return -1
		}
		return int(int32(uint32(buf[0]) | uint32(buf[1])<<8 | uint32(buf[2])<<16 | uint32(buf[3])<<24))
	}
	pid := rd32(l.pid)
	if pid < 0 {
		return t, fmt.Errorf("task_struct at %#x unreadable", addr)
	}
	t.PID, t.TGID = pid, rd32(l.tgid)
	comm, err := k.String(addr+l.comm, 16)
	if err != nil {
		return t, err
	}
	t.Comm = comm
	if l.stateSize == 8 {
		t.RawState, _ = k.U64(addr + l.state)
	} else {
		v, _ := k.U32(addr + l.state)
		t.RawState = uint64(v)
	}
	exitState := uint64(uint32(rd32(l.exitState)))
	t.State = stateLetters(t.RawState, exitState, l.bits)
	t.StackPtr, _ = k.U64(addr + l.threadSP)
	t.StackBase, _ = k.U64(addr + l.stack)
	switch {
	case l.cpuInThreadInfo:
		var b [4]byte
		if t.StackBase != 0 && k.Read(b[:], t.StackBase+l.cpu) == nil {
			t.CPU = int(int32(binary.LittleEndian.Uint32(b[:])))
		}
	case l.hasCPU:
		t.CPU = rd32(l.cpu)
	}
	// Idle tasks (pid 0) have no parent worth naming; crash prints 0 too.
	if parent, err := k.U64(addr + l.realParent); err == nil && parent != 0 && pid != 0 {
		t.PPID = -1
		var pb [4]byte
		if k.Read(pb[:], parent+l.pid) == nil {
			t.PPID = int(int32(uint32(pb[0]) | uint32(pb[1])<<8 | uint32(pb[2])<<16 | uint32(pb[3])<<24))
		}
	}
	mm, _ := k.U64(addr + l.mm)
	t.Kernel = mm == 0
	if l.hasLastArrival {
		t.LastArrival, _ = k.U64(addr + l.lastArrival)
	}
	return t, nil
}

// State bits that never moved (include/linux/sched.h).
const (
	taskInterruptible   = 0x1
	taskUninterruptible = 0x2
	taskStopped         = 0x4
	taskTraced          = 0x8
)

// TaskState is a task's state as crash's ps shows it, two letters.
type TaskState string

// The states crash's ps names.
const (
	StateRunning         TaskState = "RU"
	StateInterruptible   TaskState = "IN"
	StateUninterruptible TaskState = "UN" // "D" in the kernel's own reports
	StateZombie          TaskState = "ZO"
	StateStopped         TaskState = "ST"
	StateTraced          TaskState = "TR"
	StateDead            TaskState = "DE"
	StateIdle            TaskState = "ID"
	StateParked          TaskState = "PA"
	StateWaking          TaskState = "WA"
	StateNew             TaskState = "NE"
	StateUnknown         TaskState = "??"
)

// States are every state crash's ps names, for parsing --state.
var States = []TaskState{StateRunning, StateInterruptible, StateUninterruptible, StateZombie, StateStopped,
	StateTraced, StateDead, StateIdle, StateParked, StateWaking, StateNew}

func (s TaskState) String() string { return string(s) }

// ParseTaskState reads a state as a user types it — ps's one letter (D, R,
// S, T, Z, X, I) or crash's two (UN, RU, IN …) — as crash's two letters.
func ParseTaskState(s string) (TaskState, error) {
	u := TaskState(strings.ToUpper(s))
	switch u {
	case "D":
		return StateUninterruptible, nil
	case "R":
		return StateRunning, nil
	case "S":
		return StateInterruptible, nil
	case "T":
		return StateStopped, nil
	case "Z":
		return StateZombie, nil
	case "X":
		return StateDead, nil
	case "I":
		return StateIdle, nil
	}
	if slices.Contains(States, u) {
		return u, nil
	}
	return "", fmt.Errorf("unknown task state %q (D, R, S, T, Z, X, I, or crash's UN, RU, IN, ST, TR, ZO, DE, ID, PA, WA, NE)", s)
}

// stateLetters turns a task state into crash's two-letter code.
func stateLetters(state, exitState uint64, b stateBits) TaskState {
	exitDead, exitZombie := b.exitDead, b.exitZombie
	parked, dead, waking, noload, newTask := b.parked, b.dead, b.waking, b.noload, b.newTask
	switch {
	case exitState&exitZombie != 0:
		return StateZombie
	case exitState&exitDead != 0:
		return StateDead
	case state == 0:
		return StateRunning
	case state&taskUninterruptible != 0 && state&noload != 0:
		return StateIdle
	case state&taskUninterruptible != 0:
		return StateUninterruptible
	case state&taskInterruptible != 0:
		return StateInterruptible
	case state&taskStopped != 0:
		return StateStopped
	case state&taskTraced != 0:
		return StateTraced
	case state&parked != 0:
		return StateParked
	case state&dead != 0:
		return StateDead
	case state&waking != 0:
		return StateWaking
	case state&newTask != 0:
		return StateNew
	}
	return StateUnknown
}

// Tasks lists every thread: init_task's tasks ring, each thread group, and
// the idle task of every CPU (which no list holds but rq->idle). The
// result is sorted by PID, then CPU, like crash's ps.
func (k *Kernel) Tasks() ([]Task, error) {
	// The dump does not change: walk the task lists once per Kernel (sys,
	// ps, bt and the incident all ask for them).
	k.tasksOnce.Do(func() { k.tasks, k.tasksErr = k.walkTasks() })
	return append([]Task(nil), k.tasks...), k.tasksErr
}

func (k *Kernel) walkTasks() ([]Task, error) {
	l, err := k.taskLayout()
	if err != nil {
		return nil, fmt.Errorf("task_struct layout: %w", err)
	}
	initTask, err := k.Addr("init_task")
	if err != nil {
		return nil, err
	}
	seen := map[uint64]bool{}
	var out []Task
	var warn error
	add := func(addr uint64) {
		if seen[addr] || len(out) >= maxTasks {
			return
		}
		seen[addr] = true
		t, err := k.readTask(l, addr)
		if err != nil {
			if warn == nil {
				warn = err
			}
			return
		}
		out = append(out, t)
	}
	leaders := []uint64{initTask}
	if err := k.ListEach(initTask+l.tasks, l.tasks, func(e uint64) error {
		leaders = append(leaders, e)
		return nil
	}); err != nil {
		warn = err
	}
	for _, g := range leaders {
		add(g)
		switch {
		case l.useThreadNode:
			sig, err := k.U64(g + l.signal)
			if err != nil || sig == 0 {
				continue
			}
			_ = k.ListEach(sig+l.threadHead, l.threadNode, func(e uint64) error { add(e); return nil })
		case l.useThreadGroup:
			_ = k.ListEach(g+l.threadGroup, l.threadGroup, func(e uint64) error { add(e); return nil })
		}
	}
	// Idle tasks and what each CPU was running.
	if cur, err := k.RunQueues(); err == nil {
		for cpu, rq := range cur {
			if rq.Idle != 0 && !seen[rq.Idle] {
				add(rq.Idle)
			}
			for i := range out {
				if out[i].Addr == rq.Idle {
					out[i].Idle = true
					if out[i].CPU < 0 {
						out[i].CPU = cpu
					}
				}
				if out[i].Addr == rq.Curr {
					out[i].Active = true
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PID != out[j].PID {
			return out[i].PID < out[j].PID
		}
		return out[i].CPU < out[j].CPU
	})
	if len(out) == 0 && warn != nil {
		return nil, warn
	}
	return out, nil
}

// RunQueue is the part of a CPU's struct rq ktriage reads.
type RunQueue struct {
	CPU   int
	Curr  uint64 // task running on the CPU
	Idle  uint64 // the CPU's idle task
	Clock uint64 // rq->clock, ns
}

// RunQueues reads every possible CPU's runqueue.
func (k *Kernel) RunQueues() ([]RunQueue, error) {
	currOff, err := k.Off("rq", "curr")
	if err != nil {
		return nil, err
	}
	idleOff, err := k.Off("rq", "idle")
	if err != nil {
		return nil, err
	}
	clockOff, err := k.Off("rq", "clock")
	if err != nil {
		return nil, err
	}
	offs, err := k.PerCPUOffsets()
	if err != nil {
		return nil, err
	}
	var out []RunQueue
	for cpu := range offs {
		rq, err := k.PerCPUAddr("runqueues", cpu)
		if err != nil {
			return nil, err
		}
		curr, err := k.U64(rq + currOff)
		if err != nil {
			continue // CPU not present in the dump
		}
		idle, _ := k.U64(rq + idleOff)
		clock, _ := k.U64(rq + clockOff)
		out = append(out, RunQueue{CPU: cpu, Curr: curr, Idle: idle, Clock: clock})
	}
	return out, nil
}
