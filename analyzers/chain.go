package analyzers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ktriage/ktriage/incident"
)

// Hang chains: a D task waits on a lock (found in the dump from the waiter
// record on its stack); the lock names its owner; the owner may itself be
// blocked on another lock, and so on to the root — a task sleeping or
// running elsewhere, a frozen super block, or a lock that records no owner.

// maxChain bounds a chain; a longer one is reported as cut.
const maxChain = 16

// lockChains describes what the tasks wait for, one line per distinct
// lock: "3 tasks (…) wait for mutex X at 0x…, held by B (UN), which waits
// for …".
func lockChains(in *incident.Incident, tasks []incident.BlockedTask) []string {
	blocked := map[int]incident.BlockedTask{}
	for _, t := range in.BlockedTasks {
		blocked[t.PID] = t
	}
	byLock := map[string][]incident.BlockedTask{}
	var locks []string
	for _, t := range tasks {
		if t.WaitsOn == nil {
			continue
		}
		if _, seen := byLock[t.WaitsOn.Lock]; !seen {
			locks = append(locks, t.WaitsOn.Lock)
		}
		byLock[t.WaitsOn.Lock] = append(byLock[t.WaitsOn.Lock], t)
	}
	sort.SliceStable(locks, func(i, j int) bool { return len(byLock[locks[i]]) > len(byLock[locks[j]]) })
	var out []string
	for _, l := range locks {
		ts := byLock[l]
		var names []string
		for _, t := range ts {
			names = append(names, t.Comm+":"+strconv.Itoa(t.PID))
		}
		who := names[0]
		if len(ts) > 1 {
			who = fmt.Sprintf("%d tasks (%s)", len(ts), strings.Join(limit(names, 6), ", "))
		}
		if where := sharedContainer(ts); where != "" {
			who += " [" + where + "]"
		}
		verb := " waits for "
		if len(ts) > 1 {
			verb = " wait for "
		}
		seen := map[int]bool{}
		for _, t := range ts {
			seen[t.PID] = true
		}
		out = append(out, who+verb+chainFrom(ts[0].WaitsOn, blocked, seen, 0))
	}
	out = append(out, ioWaits(tasks)...)
	// Honest gaps: a task whose lock could not be read says why.
	for _, t := range tasks {
		if t.WaitsOn == nil && t.WaitUnknown != "" {
			out = append(out, t.Comm+":"+strconv.Itoa(t.PID)+" "+t.WaitUnknown)
		}
	}
	return out
}

// chainFrom describes a lock and, through its owner, what holds it.
func chainFrom(w *incident.Wait, blocked map[int]incident.BlockedTask, seen map[int]bool, depth int) string {
	s := w.Describe()
	o := w.Owner
	if o == nil {
		if w.Note != "" {
			s += " (" + w.Note + ")"
		}
		return s
	}
	state := o.State
	if c := o.Container.Short(); c != "" {
		state += "; " + c
	}
	s += ", " + w.OwnerRole() + " " + o.Comm + ":" + strconv.Itoa(o.PID) + " (" + state + ")"
	switch {
	case seen[o.PID]:
		return s + " — a deadlock: that task is already in this chain"
	case depth >= maxChain:
		return s + " (chain cut at " + strconv.Itoa(maxChain) + " links)"
	}
	seen[o.PID] = true
	if o.CPU != nil {
		return s + fmt.Sprintf(", running on CPU %d in %s", *o.CPU, where(o.Backtrace))
	}
	if b, ok := blocked[o.PID]; ok && b.WaitsOn != nil {
		return s + ", which waits for " + chainFrom(b.WaitsOn, blocked, seen, depth+1)
	}
	if b, ok := blocked[o.PID]; ok && b.IOWait != nil {
		return s + ", which waits on " + b.IOWait.Describe()
	}
	if io := incident.IOWaitOf(o.Backtrace); io != nil {
		return s + ", which waits on " + io.Describe()
	}
	return s + ", which sleeps in " + where(o.Backtrace)
}

// ioWaits describes the tasks that wait on I/O themselves (not on a lock),
// one line per device and stack: "2 tasks (dd:12, dd:13) wait on I/O to
// vda (…) — io_schedule ← …".
func ioWaits(tasks []incident.BlockedTask) []string {
	type group struct {
		ts []incident.BlockedTask
		w  *incident.IOWait
	}
	var keys []string
	groups := map[string]*group{}
	for _, t := range tasks {
		if t.WaitsOn != nil || t.IOWait == nil {
			continue
		}
		k := t.IOWait.Device + "\x00" + strings.Join(t.IOWait.Frames, "\x00")
		g := groups[k]
		if g == nil {
			g = &group{w: t.IOWait}
			groups[k] = g
			keys = append(keys, k)
		}
		g.ts = append(g.ts, t)
	}
	var out []string
	for _, k := range keys {
		g := groups[k]
		var names []string
		for _, t := range g.ts {
			names = append(names, t.Comm+":"+strconv.Itoa(t.PID))
		}
		w := *g.w
		who, verb := names[0], " waits on "
		if len(g.ts) > 1 {
			who, verb = fmt.Sprintf("%d tasks (%s)", len(g.ts), strings.Join(limit(names, 6), ", ")), " wait on "
			w.Object = "" // each its own; the device and the stack are shared
		}
		out = append(out, who+verb+w.Describe())
	}
	return out
}

// where names the first frames of a stack past the scheduler machinery.
func where(frames []incident.Frame) string {
	fns := incident.ReliableFunctions(frames)
	var out []string
	for _, fn := range fns {
		if schedulerFns[fn] && len(out) == 0 {
			continue
		}
		out = append(out, fn)
		if len(out) == 3 {
			break
		}
	}
	if len(out) == 0 {
		return "an unknown place (no stack)"
	}
	return strings.Join(out, " ← ")
}

// heldBy lists, for the tasks given, the locks other D tasks wait for that
// the dump names them as holding: "init:107 holds mutex … that 2 D task(s) wait for".
func heldBy(in *incident.Incident, tasks []incident.BlockedTask) []string {
	type lockWaiters struct {
		w *incident.Wait
		n int
	}
	held := map[int][]*lockWaiters{}
	index := map[string]*lockWaiters{}
	for _, t := range in.BlockedTasks {
		w := t.WaitsOn
		if w == nil || w.Owner == nil {
			continue
		}
		lw := index[w.Lock]
		if lw == nil {
			lw = &lockWaiters{w: w}
			index[w.Lock] = lw
			held[w.Owner.PID] = append(held[w.Owner.PID], lw)
		}
		lw.n++
	}
	var out []string
	for _, t := range tasks {
		for _, lw := range held[t.PID] {
			verb := "holds"
			if lw.w.Kind == incident.WaitJournalCommit {
				verb = "is to write the"
			}
			out = append(out, fmt.Sprintf("%s:%d %s %s that %d D task(s) wait for", t.Comm, t.PID, verb, lw.w.Describe(), lw.n))
		}
	}
	return out
}

// sharedContainer is the container all the tasks ran in, "" when they
// differ or none is known.
func sharedContainer(ts []incident.BlockedTask) string {
	c := ts[0].Container.Short()
	for _, t := range ts[1:] {
		if t.Container.Short() != c {
			return ""
		}
	}
	return c
}
