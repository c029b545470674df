package incident

import (
	"strconv"
	"strings"
)

// TaskGroup is a set of tasks parked on the same kernel stack: the way an
// SRE reads `foreach UN bt`, where fifty identical stacks are one fact.
type TaskGroup struct {
	// Stack is the shared sequence of reliable function names, innermost first.
	Stack []string
	Tasks []BlockedTask
}

// Comms lists the group's tasks as "comm:pid".
func (g TaskGroup) Comms() []string {
	out := make([]string, 0, len(g.Tasks))
	for _, t := range g.Tasks {
		out = append(out, t.Comm+":"+strconv.Itoa(t.PID))
	}
	return out
}

// ReliableFunctions returns the normalised names of the frames an unwinder
// vouched for, innermost first.
func ReliableFunctions(frames []Frame) []string {
	var fns []string
	for _, f := range frames {
		if f.Reliable && f.Function != "" {
			fns = append(fns, NormalizeFunction(f.Function))
		}
	}
	return fns
}

// UninterruptibleTasks returns the D-state tasks: the BlockedTasks a dump
// listed, plus the tasks named by hung-task reports in a log (once per pid).
func (in *Incident) UninterruptibleTasks() []BlockedTask {
	seen := map[int]bool{}
	var tasks []BlockedTask
	for _, t := range in.BlockedTasks {
		seen[t.PID] = true
		if t.IOWait == nil && t.WaitsOn == nil {
			t.IOWait = IOWaitOf(t.Backtrace) // what the stack alone says
		}
		tasks = append(tasks, t)
	}
	for _, r := range in.Reports {
		// Only the per-task notices: a "hung_task: blocked tasks" panic is a
		// hung-task report too, but its task is khungtaskd.
		if r.Kind != KindHungTask || r.PID == nil || seen[*r.PID] || !strings.Contains(r.Message, "blocked for more than") {
			continue
		}
		seen[*r.PID] = true
		tasks = append(tasks, BlockedTask{PID: *r.PID, Comm: r.Comm, State: "D", Backtrace: r.Backtrace, IOWait: IOWaitOf(r.Backtrace)})
	}
	return tasks
}

// GroupByStack groups tasks whose reliable stacks are identical, largest
// group first; ties keep the order in which tasks were found.
func GroupByStack(tasks []BlockedTask) []TaskGroup {
	index := map[string]int{}
	var groups []TaskGroup
	for _, t := range tasks {
		stack := ReliableFunctions(t.Backtrace)
		key := strings.Join(stack, "\x00")
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, TaskGroup{Stack: stack})
		}
		groups[i].Tasks = append(groups[i].Tasks, t)
	}
	// Stable insertion sort by size: groups are few.
	for i := 1; i < len(groups); i++ {
		for j := i; j > 0 && len(groups[j].Tasks) > len(groups[j-1].Tasks); j-- {
			groups[j], groups[j-1] = groups[j-1], groups[j]
		}
	}
	return groups
}
