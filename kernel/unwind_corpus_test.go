package kernel

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/kernel/unwind"
)

// crashBT is one task block of crash's bt output.
type crashBT struct {
	pid   int
	task  string
	cpu   int
	comm  string
	funcs []string
	sps   []uint64
	// exceptions are the "[exception RIP: func+off]" lines, in order.
	exceptions []string
	err        string // the "bt: ..." failures crash printed instead of frames
}

var (
	crashBTHeader    = regexp.MustCompile(`^PID:\s+(\d+)\s+TASK:\s+([0-9a-f]+)\s+CPU:\s+(\d+)\s+COMMAND:\s+"(.*)"`)
	crashReadFailure = regexp.MustCompile(`read of stack at ([0-9a-f]+) failed`)
	crashBTFrame     = regexp.MustCompile(`^\s*#\d+\s+\[([0-9a-f]+)\]\s+(\S+)\s+at\s+[0-9a-f]+`)
	crashException   = regexp.MustCompile(`^\s+\[exception RIP: (\S+)\]`)
)

func readCrashBT(t *testing.T, path string) []crashBT {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no oracle: %v", err)
	}
	defer f.Close()
	var out []crashBT
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := crashBTHeader.FindStringSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(m[1])
			cpu, _ := strconv.Atoi(m[3])
			out = append(out, crashBT{pid: pid, task: m[2], cpu: cpu, comm: m[4]})
			continue
		}
		if len(out) == 0 {
			continue
		}
		cur := &out[len(out)-1]
		if m := crashBTFrame.FindStringSubmatch(line); m != nil {
			sp, _ := strconv.ParseUint(m[1], 16, 64)
			cur.funcs = append(cur.funcs, m[2])
			cur.sps = append(cur.sps, sp)
		} else if m := crashException.FindStringSubmatch(line); m != nil {
			cur.exceptions = append(cur.exceptions, m[1])
		} else if strings.HasPrefix(line, "bt: ") {
			cur.err = strings.TrimSpace(cur.err + "; " + line)
		}
	}
	return out
}

func funcNames(frames []Frame) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = f.Function
		if out[i] == "" {
			out[i] = strconv.FormatUint(f.PC, 16)
		}
	}
	return out
}

// vmlinuxModes runs a test with the dump's own kallsyms and BTF, and with
// the debug vmlinux when it is available.
func vmlinuxModes(t *testing.T, fn func(t *testing.T, vmlinux string)) {
	t.Run("no-vmlinux", func(t *testing.T) { fn(t, "") })
	t.Run("vmlinux", func(t *testing.T) { fn(t, corpus.Vmlinux(t)) })
}

func TestCorpusBacktraceDebug(t *testing.T) {
	if os.Getenv("KTRIAGE_BT_DEBUG") == "" {
		t.Skip("set KTRIAGE_BT_DEBUG=1 to print every CPU's and D task's frames")
	}
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			vmlinuxModes(t, func(t *testing.T, vmlinux string) {
				k := attachCorpus(t, c, vmlinux)
				t.Logf("panic cpu %d", k.PanicCPU())
				for cpu := range k.Dump.PRStatus() {
					r, _ := k.cpuRegs(cpu)
					tk, frames, err := k.CPUBacktrace(cpu)
					t.Logf("cpu %d pid %d %s rip %#x rsp %#x err %v stacks %+v", cpu, tk.PID, tk.Comm, r.RIP, r.RSP, err, k.stacksFor(tk, cpu))
					for _, f := range frames {
						t.Logf("   [%x] %s %x %s via=%s rel=%v regs=%v", f.SP, f.Name(), f.PC, f.Stack, f.Via, f.Reliable, f.Regs != nil)
					}
				}
				tasks, _ := k.Tasks()
				for _, tk := range tasks {
					if tk.State != "UN" {
						continue
					}
					frames, err := k.Backtrace(tk)
					t.Logf("pid %d %s err %v", tk.PID, tk.Comm, err)
					for _, f := range frames {
						t.Logf("   [%x] %s %x via=%s", f.SP, f.Name(), f.PC, f.Via)
					}
				}
			})
		})
	}
}

// sameFrames compares a crash block with ktriage's frames by function
// name and stack slot, and by the functions exceptions stopped, and
// reports the first difference. A function stopped by an exception on the
// same stack is only in crash's "[exception RIP: …]" line.
func sameFrames(want crashBT, got []Frame) string {
	var exceptions []string
	for _, f := range got {
		if f.Exception {
			exceptions = append(exceptions, f.Name())
		}
	}
	if len(want.funcs) > 0 && strings.Join(exceptions, " ") != strings.Join(want.exceptions, " ") {
		return fmt.Sprintf("exception RIPs: ktriage %v, crash %v", exceptions, want.exceptions)
	}
	var shown []Frame
	for i := range got {
		if unwind.ShownByCrash(got, i) {
			shown = append(shown, got[i])
		}
	}
	got = shown
	names := funcNames(got)
	n := max(len(names), len(want.funcs))
	for i := 0; i < n; i++ {
		switch {
		case i >= len(names):
			return fmt.Sprintf("frame #%d: ktriage stops; crash has %s", i, want.funcs[i])
		case i >= len(want.funcs):
			return fmt.Sprintf("frame #%d: ktriage has extra %s", i, names[i])
		case names[i] != want.funcs[i]:
			return fmt.Sprintf("frame #%d: ktriage %s, crash %s", i, names[i], want.funcs[i])
		case got[i].SP != want.sps[i]:
			return fmt.Sprintf("frame #%d %s: ktriage at [%x], crash at [%x]", i, names[i], got[i].SP, want.sps[i])
		}
	}
	return ""
}

// TestCorpusBlockedTasksMatchCrash: every D task, in pid order, with the
// same comm, functions and stack slots as crash 8.0.6's foreach UN bt.
func TestCorpusBlockedTasksMatchCrash(t *testing.T) {
	agree, total := 0, 0
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			want := readCrashBT(t, c.Oracle("crash-8.0.6", "foreach_UN_bt.txt"))
			vmlinuxModes(t, func(t *testing.T, vmlinux string) {
				k := attachCorpus(t, c, vmlinux)
				tasks, err := k.Tasks()
				if err != nil {
					t.Fatal(err)
				}
				var blocked []Task
				for _, tk := range tasks {
					if tk.State == "UN" {
						blocked = append(blocked, tk)
					}
				}
				if len(blocked) != len(want) {
					t.Errorf("%d D tasks, crash lists %d", len(blocked), len(want))
				}
				for i := 0; i < min(len(blocked), len(want)); i++ {
					tk, w := blocked[i], want[i]
					total++
					frames, err := k.Backtrace(tk)
					if err != nil {
						t.Errorf("pid %d: %v", tk.PID, err)
						continue
					}
					if tk.PID != w.pid || tk.Comm != w.comm || tk.CPU != w.cpu {
						t.Errorf("task #%d: pid %d %q cpu %d, crash pid %d %q cpu %d", i, tk.PID, tk.Comm, tk.CPU, w.pid, w.comm, w.cpu)
						continue
					}
					if d := sameFrames(w, frames); d != "" {
						t.Errorf("pid %d: %s\n got  %v\n want %v", tk.PID, d, funcNames(frames), w.funcs)
						continue
					}
					for _, f := range frames {
						if !f.Reliable {
							t.Errorf("pid %d: frame %s marked unreliable", tk.PID, f.Name())
						}
					}
					agree++
				}
			})
		})
	}
	t.Logf("D tasks agreeing with crash (pid, comm, cpu, every function and stack slot): %d/%d", agree, total)
}

// crashDiffers explains, for the cases where crash 8.0.6 is wrong, why
// ktriage's frames differ, after checking ktriage's own account holds up.
// It returns "" when the difference is not one of those cases.
func crashDiffers(t *testing.T, k *Kernel, cpu int, want crashBT, got []Frame) string {
	t.Helper()
	regs, ok := k.cpuRegs(cpu)
	// Both cases below are QEMU dumps, whose registers are the vCPUs' own.
	if !ok || !k.Dump.HasQEMUNotes() || len(got) == 0 || got[0].PC != regs.RIP || !got[0].Interrupted {
		return ""
	}
	for _, f := range got {
		if !f.Reliable || f.Function == "" {
			return ""
		}
	}
	last := got[len(got)-1]
	if last.Via != "" && !unwind.UserMode(last.Regs) {
		return ""
	}
	if m := crashReadFailure.FindStringSubmatch(want.err); m != nil {
		// QEMU stopped this vCPU where it was (here: in stop_this_cpu on its
		// IRQ stack, after panic's REBOOT IPI). crash 8.0.6 instead reads
		// an address of the CPU's entry area that no page table maps (the
		// guard page above its MCE stack) and gives up.
		a, _ := strconv.ParseUint(m[1], 16, 64)
		if _, err := k.U64(a); err == nil {
			return ""
		}
		for _, f := range got {
			if f.SP == a {
				return ""
			}
		}
		return fmt.Sprintf("crash read unmapped %x and failed; ktriage unwinds from the vCPU's saved registers on its %s stack",
			a, got[0].Stack)
	}
	if len(want.funcs) > 0 && len(got) > len(want.funcs) {
		// crash starts a QEMU dump's panic task at the panic frame it finds
		// by scanning the stack; the vCPU's registers show what ran above
		// it (the pvpanic notifier that stopped the guest).
		tail := crashBT{funcs: want.funcs, sps: want.sps, exceptions: want.exceptions}
		if sameFrames(tail, got[len(got)-len(want.funcs):]) == "" {
			return fmt.Sprintf("crash starts at %s, found by scanning; the vCPU was in %s, %d frames above",
				want.funcs[0], got[0].Function, len(got)-len(want.funcs))
		}
	}
	return ""
}

// TestCorpusCPUsMatchCrash: the panic task (bt) and every CPU's active
// task (bt -a) against crash 8.0.6.
func TestCorpusCPUsMatchCrash(t *testing.T) {
	var agree, explained, total int
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			panicWant := readCrashBT(t, c.Oracle("crash-8.0.6", "bt.txt"))
			allWant := readCrashBT(t, c.Oracle("crash-8.0.6", "bt_-a.txt"))
			vmlinuxModes(t, func(t *testing.T, vmlinux string) {
				k := attachCorpus(t, c, vmlinux)
				check := func(what string, w crashBT) {
					total++
					tk, frames, err := k.CPUBacktrace(w.cpu)
					if err != nil {
						t.Errorf("%s: %v", what, err)
						return
					}
					if tk.PID != w.pid || tk.Comm != w.comm || fmt.Sprintf("%x", tk.Addr) != w.task {
						t.Errorf("%s: task %d %q %x, crash %d %q %s", what, tk.PID, tk.Comm, tk.Addr, w.pid, w.comm, w.task)
						return
					}
					d := sameFrames(w, frames)
					if d == "" {
						agree++
						return
					}
					if why := crashDiffers(t, k, w.cpu, w, frames); why != "" {
						explained++
						t.Logf("%s: differs from crash because %s: %v", what, why, funcNames(frames))
						return
					}
					t.Errorf("%s: %s\n got  %v\n want %v", what, d, funcNames(frames), w.funcs)
				}
				if len(panicWant) != 1 {
					t.Fatalf("bt.txt holds %d tasks", len(panicWant))
				}
				if cpu := k.PanicCPU(); cpu != panicWant[0].cpu {
					t.Errorf("panic CPU %d, crash %d", cpu, panicWant[0].cpu)
				}
				check("bt", panicWant[0])
				if len(allWant) != k.NrCPUIDs() {
					t.Errorf("bt -a lists %d CPUs, kernel has %d", len(allWant), k.NrCPUIDs())
				}
				for _, w := range allWant {
					check(fmt.Sprintf("bt -a cpu %d", w.cpu), w)
				}
			})
		})
	}
	t.Logf("CPU stacks equal to crash's: %d/%d; differing where crash is wrong (explained): %d", agree, total, explained)
}

// drgnStack is one stack as drgn 0.0.31 printed it: function names, with
// inlined callers as frames of their own, "name+0xoff/0xsize" for
// assembly without DWARF, and the bare address ("0xffffffffc0355197")
// where it had no symbol at all (a module without debuginfo).
type drgnStack struct {
	pid   int
	names []string
}

var (
	drgnFrame  = regexp.MustCompile(`^#\d+\s+(\S+)`)
	drgnHeader = regexp.MustCompile(`^(?:PID: (\d+) |crashed thread: tid=(\d+) )`)
)

func readDrgnStacks(t *testing.T, path string) []drgnStack {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no drgn output: %v", err)
	}
	var out []drgnStack
	for _, line := range strings.Split(string(b), "\n") {
		if m := drgnHeader.FindStringSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(m[1] + m[2])
			out = append(out, drgnStack{pid: pid})
			continue
		}
		if m := drgnFrame.FindStringSubmatch(line); m != nil && len(out) > 0 {
			out[len(out)-1].names = append(out[len(out)-1].names, m[1])
		}
	}
	return out
}

// drgnAgrees tells whether drgn's frame name is ktriage's frame: the same
// function, the function whose .cold part ktriage names (drgn names the
// DWARF subprogram), for assembly "sym+0xoff/0xsize" at ktriage's PC, or
// ktriage's very PC where drgn had no name for it.
func drgnAgrees(k *Kernel, f Frame, name string) bool {
	if name == f.Function || name == strings.TrimSuffix(f.Function, ".cold") {
		return true
	}
	if pc, err := strconv.ParseUint(strings.TrimPrefix(name, "0x"), 16, 64); err == nil && strings.HasPrefix(name, "0x") {
		return pc == f.PC
	}
	sym, rest, ok := strings.Cut(name, "+")
	if !ok {
		return false
	}
	off, err := strconv.ParseUint(strings.TrimPrefix(strings.Split(rest, "/")[0], "0x"), 16, 64)
	a, found := k.Syms.Lookup(sym)
	return err == nil && found && a+off == f.PC
}

// TestCorpusDrgnSecondOpinion: every ktriage frame appears, in order, in
// drgn 0.0.31's stack of the same task. drgn starts the panic task at its
// saved registers, so the frames that ran above them (KdumpPath: the
// machine_kexec frame; after an oops, the whole way from the exception to
// machine_kexec, which crash lists first) are not in its view. Where drgn
// and crash name frames differently, both are checked to be the same code:
// drgn adds the callers the compiler inlined, from DWARF (on the oops dump
// pde_write inside proc_reg_write, do_syscall_x64 inside do_syscall_64),
// where crash and ktriage name the symbol the return address is in; and
// drgn, holding no symbols for the out-of-tree crashtest module, prints
// its three frames as bare addresses, which must be exactly the PCs
// ktriage names from the module's own symbol table (crash's names).
func TestCorpusDrgnSecondOpinion(t *testing.T) {
	agree, total := 0, 0
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			stacks := readDrgnStacks(t, c.Oracle("drgn-0.0.31", "crashed_thread.txt"))
			if d, err := os.Stat(c.Oracle("drgn-0.0.31", "tasks_D.txt")); err == nil && d.Size() > 0 {
				stacks = append(stacks, readDrgnStacks(t, c.Oracle("drgn-0.0.31", "tasks_D.txt"))...)
			}
			vmlinuxModes(t, func(t *testing.T, vmlinux string) {
				k := attachCorpus(t, c, vmlinux)
				tasks, err := k.Tasks()
				if err != nil {
					t.Fatal(err)
				}
				panicCPU := k.PanicCPU()
				for i, s := range stacks {
					var frames []Frame
					if i == 0 {
						tk, fr, err := k.CPUBacktrace(panicCPU)
						if err != nil || tk.PID != s.pid {
							t.Fatalf("panic task %d (%v), drgn's crashed thread %d", tk.PID, err, s.pid)
						}
						for _, f := range fr {
							if !f.KdumpPath {
								frames = append(frames, f)
							}
						}
						if regs, _ := k.cpuRegs(panicCPU); len(frames) > 0 && frames[0].Exception && frames[0].PC != regs.RIP {
							t.Errorf("drgn's view starts at the saved RIP %#x, ktriage's at %s", regs.RIP, frames[0].Name())
						}
					} else {
						for _, tk := range tasks {
							if tk.PID == s.pid {
								frames, _ = k.Backtrace(tk)
							}
						}
					}
					total++
					ok, j := len(frames) > 0, 0
					if !ok {
						t.Errorf("pid %d: no frames", s.pid)
					}
					for _, f := range frames {
						for j < len(s.names) && !drgnAgrees(k, f, s.names[j]) {
							j++
						}
						if j == len(s.names) {
							t.Errorf("pid %d: ktriage frame %s is not in drgn's stack %v (ktriage %v)", s.pid, f.Name(), s.names, funcNames(frames))
							ok = false
							break
						}
						j++
					}
					if ok {
						agree++
					}
				}
			})
		})
	}
	t.Logf("stacks agreeing with drgn 0.0.31 (ktriage's frames in order within drgn's): %d/%d", agree, total)
}

// TestCorpusWithoutORC: a kernel with no ORC tables (built with frame
// pointers, or older than 4.14) falls back to the rbp chain and then to
// scanning. The corpus kernel keeps rbp as a frame pointer in __schedule,
// so the first frames still come out right.
func TestCorpusWithoutORC(t *testing.T) {
	for _, c := range corpus.Dumps(t) {
		if c.Name != "hung-kdump-zstd" {
			continue
		}
		want := readCrashBT(t, c.Oracle("crash-8.0.6", "foreach_UN_bt.txt"))
		k := attachCorpus(t, c, "")
		u := &k.unwind
		u.orcOnce.Do(func() { u.orcErr = errors.New("ORC disabled by the test") })
		tasks, err := k.Tasks()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tk := range tasks {
			if tk.State != "UN" {
				continue
			}
			frames, _ := k.Backtrace(tk)
			if len(frames) < 2 || frames[0].Function != want[n].funcs[0] || frames[1].Function != want[n].funcs[1] {
				t.Errorf("pid %d: %v, want it to start %v", tk.PID, funcNames(frames), want[n].funcs[:2])
			}
			for _, f := range frames {
				if f.Via == "orc" {
					t.Errorf("pid %d: frame %s unwound by ORC with ORC disabled", tk.PID, f.Name())
				}
			}
			if frames[0].Via != "fp" {
				t.Errorf("pid %d: __schedule's caller found by %q, want the frame pointer", tk.PID, frames[0].Via)
			}
			n++
		}
	}
}

// TestCorpusModuleFrames: a frame in a loadable module is named from the
// module's own symbols and unwound with the module's own ORC table. The
// QEMU dump stopped inside pvpanic's panic notifier.
func TestCorpusModuleFrames(t *testing.T) {
	seen := 0
	for _, c := range corpus.Dumps(t) {
		k := attachCorpus(t, c, "")
		for cpu := 0; cpu < k.NrCPUIDs(); cpu++ {
			_, frames, _ := k.CPUBacktrace(cpu)
			for i, f := range frames {
				if f.Module == "" {
					continue
				}
				seen++
				if f.Function == "" || f.Via != "orc" || i+1 == len(frames) || frames[i+1].Module != "" && frames[i+1].Function == "" {
					t.Errorf("%s cpu %d: module frame %+v", c.Name, cpu, f)
				}
				t.Logf("%s cpu %d: %s [%s] unwound by %s", c.Name, cpu, f.Name(), f.Module, f.Via)
			}
		}
	}
	if seen == 0 {
		t.Skip("no module frame on any CPU of the corpus")
	}
}

// TestCorpusEveryTaskUnwinds: every task of every dump unwinds to the end
// of its stack (kthread's ret_from_fork, the idle task's startup code, or
// user-mode registers) without error, and only frames found by scanning
// are unreliable.
func TestCorpusEveryTaskUnwinds(t *testing.T) {
	clean, total := 0, 0
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			vmlinuxModes(t, func(t *testing.T, vmlinux string) {
				k := attachCorpus(t, c, vmlinux)
				tasks, err := k.Tasks()
				if err != nil {
					t.Fatal(err)
				}
				for _, tk := range tasks {
					total++
					frames, err := k.Backtrace(tk)
					if err != nil {
						t.Errorf("pid %d %s: %v after %v", tk.PID, tk.Comm, err, funcNames(frames))
						continue
					}
					ok := true
					for i, f := range frames {
						if f.Function == "" || !f.Reliable && (i == 0 || !frames[i-1].Via.Scanned()) {
							t.Errorf("pid %d %s: frame %d %s (reliable %v)", tk.PID, tk.Comm, i, f.Name(), f.Reliable)
							ok = false
						}
					}
					if ok {
						clean++
					}
				}
			})
		})
	}
	t.Logf("tasks unwound to the end of their stack, every frame named: %d/%d", clean, total)
}

// TestCorpusKdumpPath: on every dump kdump captured, the panic stack
// starts at kdump's hand-off (machine_kexec), and the frames marked
// KdumpPath end exactly where the CPU's saved registers point. After an
// oops they end at the function the exception stopped, and the exception
// frame crossed on the way holds every saved register (crash_setup_regs
// copied that struct pt_regs into the dump); after panic() they end at
// machine_kexec's caller, whose return address sits just below the saved
// SP (crash_setup_regs ran in it).
func TestCorpusKdumpPath(t *testing.T) {
	oopses := 0
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			vmlinuxModes(t, func(t *testing.T, vmlinux string) {
				k := attachCorpus(t, c, vmlinux)
				if k.Dump.HasQEMUNotes() {
					t.Skip("QEMU stopped the vCPUs where they were: no kdump hand-off on the stack")
				}
				cpu := k.PanicCPU()
				regs, ok := k.cpuRegs(cpu)
				_, frames, err := k.CPUBacktrace(cpu)
				if !ok || err != nil || len(frames) == 0 {
					t.Fatalf("panic cpu %d: regs %v, %d frames, %v", cpu, ok, len(frames), err)
				}
				i := 0
				for i < len(frames) && frames[i].KdumpPath {
					i++
				}
				if i == 0 || i == len(frames) || frames[0].Function != "machine_kexec" {
					t.Fatalf("kdump path %v of %v", funcNames(frames[:i]), funcNames(frames))
				}
				for _, f := range frames[i:] {
					if f.KdumpPath {
						t.Errorf("frame %s below the saved registers marked as kdump path", f.Name())
					}
				}
				f, entry := frames[i], frames[i-1]
				if !f.Exception {
					if f.SP != regs.RSP-8 || entry.Function != "machine_kexec" {
						t.Errorf("saved registers at %x in %#x; first frame below the kdump path %s at [%x], after %s",
							regs.RSP, regs.RIP, f.Name(), f.SP, entry.Name())
					}
					return
				}
				oopses++
				saved := regs
				saved.FSBase, saved.GSBase, saved.DS, saved.ES, saved.FS, saved.GS = 0, 0, 0, 0, 0, 0
				if f.PC != regs.RIP || f.SP != regs.RSP || entry.Regs == nil || *entry.Regs != saved {
					t.Errorf("exception frame of %s (%s at [%x]) does not hold the saved registers RIP %#x RSP %#x",
						entry.Name(), f.Name(), f.SP, regs.RIP, regs.RSP)
				}
			})
		})
	}
	t.Logf("panic stacks starting at an oops's exception frame under the kdump path: %d", oopses)
}
