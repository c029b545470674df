package kernel

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// Older kernel generations (testdata/dumps-el7: CentOS 7's 3.10;
// testdata/dumps-5.4: Linux 5.4.286; see the make.sh beside the
// fixtures): cut-down real dumps with crash's answers beside each
// (NAME.crash/{log,sys,bt,bt_-a,foreach_UN_bt,ps,mod}.txt) and the
// kernel's debuginfo pack. The full debug vmlinux is too large to commit;
// KTRIAGE_EL7_VMLINUX (KTRIAGE_54_VMLINUX) names it (build-old-kernel.sh
// leaves it in its build directory) to run the same checks through DWARF,
// and KTRIAGE_EL7_DUMPS (KTRIAGE_54_DUMPS) names make-dumps.sh's output
// folder to run them on the full dumps too (every DIR/vmcore with crash's
// answers in DIR/crash-*/), the ELF ones included.

type oldFixture struct {
	name, vmcore, crash string
}

type oldGeneration struct {
	dir, pack, vmlinuxEnv string
	fixtures              []oldFixture
}

func oldGenerations(t *testing.T) []oldGeneration {
	t.Helper()
	var gens []oldGeneration
	for _, g := range []struct{ dir, env, dumpsEnv string }{
		{"dumps-el7", "KTRIAGE_EL7_VMLINUX", "KTRIAGE_EL7_DUMPS"},
		{"dumps-5.4", "KTRIAGE_54_VMLINUX", "KTRIAGE_54_DUMPS"},
	} {
		dir := filepath.Join("..", "testdata", g.dir)
		label := strings.TrimPrefix(g.dir, "dumps-") // el7, 5.4: the same scenario names in both
		packs, _ := filepath.Glob(filepath.Join(dir, "*.pack"))
		vmcores, _ := filepath.Glob(filepath.Join(dir, "*.vmcore"))
		out := os.Getenv(g.dumpsEnv)
		if len(vmcores) == 0 && out == "" {
			continue
		}
		if len(packs) != 1 {
			t.Fatalf("%s: want one debuginfo pack, found %d", dir, len(packs))
		}
		gen := oldGeneration{dir: dir, pack: packs[0], vmlinuxEnv: g.env}
		sort.Strings(vmcores)
		for _, v := range vmcores {
			name := strings.TrimSuffix(filepath.Base(v), ".vmcore")
			gen.fixtures = append(gen.fixtures, oldFixture{label + "-" + name, v, filepath.Join(dir, name+".crash")})
		}
		if out != "" {
			full, _ := filepath.Glob(filepath.Join(out, "*", "vmcore"))
			sort.Strings(full)
			for _, v := range full {
				// KTRIAGE_OLD_CRASH=8.0.2 checks against that crash's answers
				// instead of the newest.
				oracles, _ := filepath.Glob(filepath.Join(filepath.Dir(v), "crash-"+os.Getenv("KTRIAGE_OLD_CRASH")+"*"))
				if len(oracles) == 0 {
					continue
				}
				name := label + "-full-" + filepath.Base(filepath.Dir(v))
				gen.fixtures = append(gen.fixtures, oldFixture{name, v, oracles[len(oracles)-1]})
			}
		}
		gens = append(gens, gen)
	}
	if len(gens) == 0 {
		t.Skip("no older-generation fixtures under testdata")
	}
	return gens
}

// debuginfoModes runs fn with the generation's pack and, when the
// environment names it, its full debug vmlinux.
func (g oldGeneration) debuginfoModes(t *testing.T, fn func(t *testing.T, debuginfo string)) {
	t.Run("pack", func(t *testing.T) { fn(t, g.pack) })
	t.Run("vmlinux", func(t *testing.T) {
		v := os.Getenv(g.vmlinuxEnv)
		if v == "" {
			t.Skipf("set %s to the debug vmlinux (testdata/gen/build-old-kernel.sh) to check the DWARF path too", g.vmlinuxEnv)
		}
		fn(t, v)
	})
}

func attachOld(t *testing.T, f oldFixture, debuginfo string) *Kernel {
	t.Helper()
	d, err := vmcore.Open(f.vmcore)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	k, err := Attach(d, AttachOptions{Vmlinux: debuginfo})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// TestOldDmesg: the log (3.10's struct log records) is crash's log, byte
// for byte, from VMCOREINFO alone.
func TestOldDmesg(t *testing.T) {
	for _, g := range oldGenerations(t) {
		for _, f := range g.fixtures {
			t.Run(f.name, func(t *testing.T) {
				want, err := os.ReadFile(filepath.Join(f.crash, "log.txt"))
				if err != nil {
					t.Skipf("no oracle: %v", err)
				}
				sameLog(t, dumpDmesg(t, f.vmcore), want)
			})
		}
	}
}

// TestOldSys: every sys field crash prints that does not depend on the
// host crash ran on.
func TestOldSys(t *testing.T) {
	for _, g := range oldGenerations(t) {
		for _, f := range g.fixtures {
			t.Run(f.name, func(t *testing.T) {
				g.debuginfoModes(t, func(t *testing.T, debuginfo string) {
					want := readCrashSys(t, filepath.Join(f.crash, "sys.txt"))
					got := sysFields(t, attachOld(t, f, debuginfo))
					want["MACHINE"] = strings.Fields(want["MACHINE"])[0]
					for _, key := range []string{"CPUS", "DATE", "UPTIME", "LOAD AVERAGE", "TASKS", "NODENAME", "RELEASE", "VERSION", "MACHINE", "MEMORY", "PANIC"} {
						if got[key] != want[key] {
							t.Errorf("%s: got %q, crash says %q", key, got[key], want[key])
						}
					}
				})
			})
		}
	}
}

// TestOldTasks: ps agrees with crash on pid, ppid, cpu, state and comm.
func TestOldTasks(t *testing.T) {
	for _, g := range oldGenerations(t) {
		for _, f := range g.fixtures {
			t.Run(f.name, func(t *testing.T) {
				g.debuginfoModes(t, func(t *testing.T, debuginfo string) {
					want := readCrashPS(t, filepath.Join(f.crash, "ps.txt"))
					tasks, err := attachOld(t, f, debuginfo).Tasks()
					if err != nil {
						t.Fatal(err)
					}
					got := map[string]psLine{}
					for _, tk := range tasks {
						got[fmt.Sprintf("%x", tk.Addr)] = psLine{tk.PID, tk.PPID, tk.CPU, fmt.Sprintf("%x", tk.Addr), tk.State.String(), tk.Comm}
					}
					for _, w := range want {
						if g, ok := got[w.task]; !ok {
							t.Errorf("task %s (pid %d %s) missing", w.task, w.pid, w.comm)
						} else if g != w {
							t.Errorf("task %s: got %+v, crash %+v", w.task, g, w)
						}
					}
					if len(tasks) != len(want) {
						t.Errorf("%d tasks, crash lists %d", len(tasks), len(want))
					}
				})
			})
		}
	}
}

// TestOldBacktraces: the panic task (bt), every CPU (bt -a) and every D
// task (foreach UN bt) as crash unwinds them, without ORC: frame pointers
// and .debug_frame.
func TestOldBacktraces(t *testing.T) {
	for _, g := range oldGenerations(t) {
		for _, f := range g.fixtures {
			t.Run(f.name, func(t *testing.T) {
				g.debuginfoModes(t, func(t *testing.T, debuginfo string) {
					k := attachOld(t, f, debuginfo)
					check := func(what string, w crashBT, tk Task, frames []Frame, err error) {
						if err != nil {
							t.Errorf("%s: %v", what, err)
							return
						}
						if tk.PID != w.pid || tk.Comm != w.comm || fmt.Sprintf("%x", tk.Addr) != w.task {
							t.Errorf("%s: task %d %q %x, crash %d %q %s", what, tk.PID, tk.Comm, tk.Addr, w.pid, w.comm, w.task)
							return
						}
						var why []string
						w, frames, why = crashView(t, k, w, frames)
						for _, y := range why {
							t.Logf("%s: %s", what, y)
						}
						frames = crashDisplayNames(frames)
						if d := sameFrames(w, frames); d != "" {
							t.Errorf("%s: %s\n got  %v\n want %v", what, d, funcNames(frames), w.funcs)
						}
					}
					for _, w := range readCrashBT(t, filepath.Join(f.crash, "bt.txt")) {
						if cpu := k.PanicCPU(); cpu != w.cpu {
							t.Errorf("panic CPU %d, crash %d", cpu, w.cpu)
						}
						tk, frames, err := k.CPUBacktrace(w.cpu)
						check("bt", w, tk, frames, err)
					}
					for _, w := range readCrashBT(t, filepath.Join(f.crash, "bt_-a.txt")) {
						tk, frames, err := k.CPUBacktrace(w.cpu)
						check(fmt.Sprintf("bt -a cpu %d", w.cpu), w, tk, frames, err)
					}
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
					want := readCrashBT(t, filepath.Join(f.crash, "foreach_UN_bt.txt"))
					if len(blocked) != len(want) {
						t.Errorf("%d D tasks, crash lists %d", len(blocked), len(want))
					}
					for i := 0; i < min(len(blocked), len(want)); i++ {
						frames, err := k.Backtrace(blocked[i])
						check(fmt.Sprintf("D task %d", blocked[i].PID), want[i], blocked[i], frames, err)
					}
				})
			})
		}
	}
}

// TestOldModules: the module list agrees with crash's mod on name, base
// and size.
func TestOldModules(t *testing.T) {
	for _, g := range oldGenerations(t) {
		for _, f := range g.fixtures {
			t.Run(f.name, func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join(f.crash, "mod.txt"))
				if err != nil {
					t.Skipf("no oracle: %v", err)
				}
				var want []string
				for _, line := range strings.Split(string(b), "\n") {
					fs := strings.Fields(line)
					// "MODULE  NAME  BASE  SIZE  OBJECT FILE" (crash 8.0.2 has
					// no BASE column before 8.0.3: "MODULE NAME SIZE OBJECT").
					if len(fs) >= 4 && fs[0] != "MODULE" {
						want = append(want, strings.Join(fs[1:4], " "))
					}
				}
				g.debuginfoModes(t, func(t *testing.T, debuginfo string) {
					k := attachOld(t, f, debuginfo)
					ks, ok := k.Syms.(*symbols.KernelSymbols)
					if !ok {
						t.Fatalf("symbols are %T, not a kernel table with modules", k.Syms)
					}
					var got []string
					for _, m := range ks.Modules {
						got = append(got, fmt.Sprintf("%s %x %d", m.Name, m.Base(), m.Size()))
					}
					sort.Strings(got)
					sort.Strings(want)
					if strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Errorf("modules:\n got  %q\n crash %q", got, want)
					}
				})
			})
		}
	}
}

// crashDisplayNames renames frames as crash prints them (symbols.c):
// strip_symbol_end cuts gcc's clone suffixes ".isra.", ".part." and
// ".llvm." ("__crash_kexec.part.0" is shown as "__crash_kexec"), and
// value_search skips the "SyS_" and "compat_SyS_" aliases 3.x's
// SYSCALL_DEFINE puts at the same address as "sys_…".
func crashDisplayNames(frames []Frame) []Frame {
	out := append([]Frame(nil), frames...)
	for i := range out {
		name := out[i].Function
		for _, cut := range []string{".isra.", ".part.", ".llvm."} {
			if j := strings.Index(name, cut); j > 0 {
				name = name[:j]
			}
		}
		if rest, ok := strings.CutPrefix(name, "SyS_"); ok {
			name = "sys_" + rest
		} else if rest, ok := strings.CutPrefix(name, "compat_SyS_"); ok {
			name = "compat_sys_" + rest
		}
		out[i].Function = name
	}
	return out
}

// crashView turns a stack into what crash's bt lists, each change made
// only where the dump shows that crash's listing differs from the stack
// the CPU ran and not from ktriage's, and says which and why:
//
//   - a return address one byte past the end of its function: the function
//     ends with a call to a noreturn function (oops_end's panic("Fatal
//     exception")), so its return address is the first byte of the next
//     symbol. crash names a return address by the address itself
//     (__die+0) and does not list it; the call instruction just before it,
//     whose target is the function of the frame below, shows the frame is
//     real (the kernel's own dump_stack names it from address-1).
//   - on a dump QEMU wrote (no kdump hand-off: the CPU's registers are
//     where QEMU stopped it, inside panic's notifier chain, pvpanic's
//     notifier having told QEMU to stop), crash does not start from those
//     registers: it looks for the first return address into panic on the
//     stack (x86_64_get_dumpfile_stack_frame) and starts there. The frames
//     before it are where the CPU was: the first one holds the saved RIP
//     and all lie below crash's first slot.
//   - a CPU QEMU stopped elsewhere (halted in stop_this_cpu by panic's
//     IPI): from an ELF dump crash starts at a stale return address into
//     the same function a slot or two below the saved RSP (ktriage's frame
//     #0 is the saved RIP and RSP); from a kdump-format one it prints the
//     saved registers as an "[exception RIP: …]" block with no frame
//     number. Same function either way.
//   - a return address below the stack pointer an exception saved: dead
//     stack, a call that had returned before the fault.
//   - an exception frame on the stack the interrupted code ran on (not a
//     switch of stacks): crash lists the entry again and reads the saved
//     ip of its pt_regs as a return address (the value and the saved RSP
//     three words above it match the registers ktriage crossed).
func crashView(t *testing.T, k *Kernel, w crashBT, frames []Frame) (crashBT, []Frame, []string) {
	t.Helper()
	var out []Frame
	var why []string
	for i, f := range frames {
		if i > 0 && !f.Interrupted && f.Size > 0 && f.Offset == f.Size {
			below := frames[i-1]
			var call [5]byte
			if err := k.Read(call[:], f.PC-5); err == nil && call[0] == 0xe8 &&
				f.PC+uint64(int64(int32(binary.LittleEndian.Uint32(call[1:])))) == below.PC-below.Offset {
				why = append(why, fmt.Sprintf("crash leaves out %s (return address %#x is past its end, after its call to %s)", f.Name(), f.PC, below.Function))
				continue
			}
		}
		out = append(out, f)
	}
	// crash misses an exception frame that lies on the stack the
	// interrupted code ran on (5.4: a reboot IPI taken on the IRQ stack
	// in __do_softirq): it lists the entry function twice and then the
	// pt_regs' saved ip as if it were a return address.
	for i := 1; i < len(out); i++ {
		x, e := out[i], out[i-1]
		if !x.Exception || e.Regs == nil || x.Stack != e.Stack {
			continue
		}
		for j := 0; j+2 < len(w.funcs); j++ {
			if w.funcs[j] != e.Function || w.sps[j] != e.SP || w.funcs[j+1] != e.Function {
				continue
			}
			at := w.sps[j+2]
			ip, err1 := k.U64(at)
			rsp, err2 := k.U64(at + 24)
			if err1 != nil || err2 != nil || ip != e.Regs.RIP || rsp != e.Regs.RSP {
				continue
			}
			why = append(why, fmt.Sprintf("crash misses %s's exception frame (it interrupted %s, RSP %#x): it lists %s again, then at [%x], the pt_regs' ip, %s", e.Function, x.Name(), e.Regs.RSP, e.Function, at, w.funcs[j+2]))
			// In crash's exception list, before the next one ktriage has.
			pos := len(w.exceptions)
			for _, f := range out[i+1:] {
				if f.Exception {
					if p := slices.Index(w.exceptions, f.Name()); p >= 0 {
						pos = p
					}
					break
				}
			}
			w.funcs = append(append([]string(nil), w.funcs[:j+1]...), w.funcs[j+3:]...)
			w.sps = append(append([]uint64(nil), w.sps[:j+1]...), w.sps[j+3:]...)
			w.exceptions = slices.Insert(slices.Clone(w.exceptions), pos, x.Name())
			break
		}
	}
	// crash lists a stale return address into a function an exception
	// stopped, found in the dead stack just below the RSP the exception
	// saved (5.4: the return from the printk the function made before its
	// BUG); that function's live frame is the exception frame.
	for _, ef := range out {
		if !ef.Exception {
			continue
		}
		for j := 0; j < len(w.funcs); j++ {
			if w.funcs[j] == ef.Function && w.sps[j] < ef.SP && ef.SP-w.sps[j] <= 64 {
				why = append(why, fmt.Sprintf("crash lists %s at [%x], a stale return address below the RSP %#x its exception frame saved", ef.Function, w.sps[j], ef.SP))
				w.funcs = append(append([]string(nil), w.funcs[:j]...), w.funcs[j+1:]...)
				w.sps = append(append([]uint64(nil), w.sps[:j]...), w.sps[j+1:]...)
				j--
			}
		}
	}
	if len(out) == 0 || out[0].KdumpPath {
		return w, out, why
	}
	regs, ok := k.cpuRegs(w.cpu)
	if !ok || out[0].PC != regs.RIP {
		return w, out, why
	}
	first := out[0]
	switch {
	case len(w.funcs) > 0 && w.funcs[0] == "panic" && first.Function != "panic":
		for i, f := range out {
			if f.Function != "panic" {
				continue
			}
			if f.SP != w.sps[0] {
				break
			}
			for _, g := range out[:i] {
				why = append(why, fmt.Sprintf("crash leaves out %s at [%x] (the CPU's saved RIP %#x is in the first of these; crash starts at the return address into panic at [%x])", g.Name(), g.SP, regs.RIP, f.SP))
			}
			return w, out[i:], why
		}
	case len(w.funcs) > 0 && w.funcs[0] == first.Function && w.sps[0] != first.SP && w.sps[0] < first.SP && first.SP-w.sps[0] <= 64:
		if v, err := k.U64(w.sps[0]); err == nil && v != regs.RIP && v > first.PC-first.Offset && v <= first.PC-first.Offset+first.Size {
			why = append(why, fmt.Sprintf("crash lists %s at [%x], where a stale return address %#x into it lies, not at the saved RSP %#x", first.Function, w.sps[0], v, first.SP))
			out = append([]Frame(nil), out...)
			out[0].SP = w.sps[0]
		}
	case len(w.exceptions) > 0 && w.exceptions[0] == first.Name() && (len(w.funcs) == 0 || w.funcs[0] != first.Function):
		why = append(why, fmt.Sprintf("crash shows the saved registers (%s) as an [exception RIP] block, not as frame #0", first.Name()))
		w.exceptions = w.exceptions[1:]
		out = out[1:]
	}
	return w, out, why
}
