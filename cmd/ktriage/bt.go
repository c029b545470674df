package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/kernel/unwind"
)

func init() { addCommand("bt", newBtCmd) }

// btTask is one unwound task, as bt --format json prints it.
type btTask struct {
	PID    int            `json:"pid"`
	Comm   string         `json:"comm"`
	Task   string         `json:"task"`
	CPU    int            `json:"cpu"`
	State  string         `json:"state"`
	Active bool           `json:"active,omitempty"`
	Frames []kernel.Frame `json:"frames"`
	Error  string         `json:"error,omitempty"`
}

func newBtCmd() *cobra.Command {
	var fl dumpFlags
	var all bool
	var pid int
	var state string
	var lines bool
	cmd := &cobra.Command{
		Use: "bt DUMP [DUMP.2 ...]",
		Example: `  ktriage bt vmcore                 # the task that panicked
  ktriage bt --all vmcore           # the task on every CPU (crash's bt -a)
  ktriage bt --state D vmcore       # every blocked task (crash's foreach UN bt)
  ktriage bt -l --fetch-debuginfo vmcore   # with file:line under each frame (crash's bt -l)
  ktriage bt --pid 1234 --format json /var/crash/127.0.0.1-2026-11-20-10:23:45`,
		Short: "Kernel stack traces: the panic task, every CPU (--all), one task (--pid) or every task in a state (--state D)",
		Long: `bt unwinds kernel stacks the way crash's bt does: by default the task that
panicked, with --all the task on every CPU (crash's bt -a), with --pid one task,
with --state every task in that state (D is crash's foreach UN bt).

Frames come from the kernel's ORC tables read out of the dump (no vmlinux needed);
--vmlinux adds .debug_frame for the few functions ORC does not describe. A frame
found only by scanning the stack is marked "?". With -l, each frame of the
kernel proper is followed by its source file and line (the call's, for a
return address), read from the debug vmlinux's line tables.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			chosen := 0
			for _, set := range []bool{all, cmd.Flags().Changed("pid"), state != ""} {
				if set {
					chosen++
				}
			}
			if chosen > 1 {
				return fmt.Errorf("choose one of --all, --pid and --state")
			}
			wantState, err := taskFilterFlags(fl.format, state)
			if err != nil {
				return err
			}
			d, opened, err := fl.openKernel(cmd, args)
			if err != nil {
				return err
			}
			defer d.Close()
			defer opened.Close()
			k := opened.Kernel
			var out []btTask
			switch {
			case all:
				for cpu := 0; cpu < k.NrCPUIDs(); cpu++ {
					t, frames, err := k.CPUBacktrace(cpu)
					if t.Addr == 0 && err != nil {
						continue // CPU not present
					}
					out = append(out, newBtTask(t, frames, err))
				}
			case cmd.Flags().Changed("pid"), wantState != "":
				tasks, err := k.Tasks()
				if err != nil {
					return fmt.Errorf("%s: task list: %w", args[0], err)
				}
				for _, t := range tasks {
					if wantState != "" && t.State != wantState || wantState == "" && t.PID != pid {
						continue
					}
					frames, err := k.Backtrace(t)
					out = append(out, newBtTask(t, frames, err))
				}
				if len(out) == 0 && wantState == "" {
					return fmt.Errorf("%s: no task with pid %d", args[0], pid)
				}

			default:
				cpu := k.PanicCPU()
				if cpu < 0 {
					return fmt.Errorf("%s: cannot tell which CPU panicked (no panic_cpu, no kdump crash registers); try --all", args[0])
				}
				t, frames, err := k.CPUBacktrace(cpu)
				out = append(out, newBtTask(t, frames, err))
			}
			if fl.format == "json" {
				if out == nil {
					out = []btTask{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			if lines && !k.HasLines() {
				fmt.Fprintf(cmd.ErrOrStderr(), "ktriage: bt -l: no debug vmlinux, so no line tables for the kernel proper (%s; modules' come from their own debuginfo); --vmlinux or --fetch-debuginfo brings one\n", k.Source)
			}
			return writeSafe(cmd.OutOrStdout(), func(w io.Writer) {
				for i, t := range out {
					if i > 0 {
						fmt.Fprintln(w)
					}
					printBt(w, t, lines)
				}
			})
		},
	}
	fl.register(cmd)
	cmd.Flags().BoolVarP(&all, "all", "a", false, "the task on every CPU (crash's bt -a)")
	cmd.Flags().IntVarP(&pid, "pid", "p", 0, "the task with this pid")
	cmd.Flags().StringVarP(&state, "state", "s", "", "every task in this state: D (or UN), R, S, T, Z, I…")
	cmd.Flags().BoolVarP(&lines, "line", "l", false, "the source file and line under each frame (crash's bt -l; needs a debug vmlinux)")
	return cmd
}

func newBtTask(t kernel.Task, frames []kernel.Frame, err error) btTask {
	b := btTask{PID: t.PID, Comm: t.Comm, Task: fmt.Sprintf("%x", t.Addr), CPU: t.CPU, State: t.State.String(),
		Active: t.Active, Frames: frames}
	if b.Frames == nil {
		b.Frames = []kernel.Frame{}
	}
	if err != nil {
		b.Error = err.Error()
	}
	return b
}

// printBt prints one task the way crash's bt does.
func printBt(w io.Writer, t btTask, lines bool) {
	fmt.Fprintf(w, "PID: %-8d TASK: %s  CPU: %-3d  COMMAND: %q\n", t.PID, t.Task, t.CPU, t.Comm)
	n := 0
	for i, f := range t.Frames {
		if i > 0 && f.Stack != t.Frames[i-1].Stack && t.Frames[i-1].Stack != "task" && t.Frames[i-1].Stack != "" {
			fmt.Fprintf(w, "--- <%s> ---\n", stackLabel(t.Frames[i-1].Stack))
		}
		if !unwind.ShownByCrash(t.Frames, i) {
			continue // printed as the [exception RIP: …] line above
		}
		name := f.Function
		if name == "" {
			name = fmt.Sprintf("%x", f.PC)
		}
		if !f.Reliable {
			name = "? " + name
		}
		mod := ""
		if f.Module != "" {
			mod = " [" + f.Module + "]"
		}
		fmt.Fprintf(w, "%3s [%016x] %s at %016x%s\n", fmt.Sprintf("#%d", n), f.SP, name, f.PC, mod)
		if lines && f.File != "" {
			fmt.Fprintf(w, "    %s: %d\n", f.File, f.Line)
		}
		n++
		if f.Regs != nil {
			if !unwind.UserMode(f.Regs) && i+1 < len(t.Frames) {
				fmt.Fprintf(w, "    [exception RIP: %s]\n", t.Frames[i+1].Name())
			}
			printRegs(w, f.Regs, f.IretOnly)
		}
	}
	if t.Error != "" {
		fmt.Fprintf(w, "bt: %s\n", t.Error)
	}
}

// stackLabel spells a stack the way crash's separators do.
func stackLabel(s string) string {
	switch s {
	case "IRQ":
		return "IRQ stack"
	case "ENTRY":
		return "entry trampoline stack"
	}
	return s + " exception stack"
}

// printRegs prints saved registers in crash's layout; a bare iret frame
// has only RIP, RSP, RFLAGS, CS and SS.
func printRegs(w io.Writer, r *kernel.Regs, iretOnly bool) {
	row := func(cells ...string) { fmt.Fprintln(w, "    "+strings.Join(cells, "  ")) }
	reg := func(name string, v uint64) string { return fmt.Sprintf("%3s: %016x", name, v) }
	row(reg("RIP", r.RIP), reg("RSP", r.RSP), fmt.Sprintf("RFLAGS: %08x", r.EFLAGS))
	if iretOnly {
		row(fmt.Sprintf("CS: %04x", r.CS), fmt.Sprintf("SS: %04x", r.SS))
		return
	}
	row(reg("RAX", r.RAX), reg("RBX", r.RBX), reg("RCX", r.RCX))
	row(reg("RDX", r.RDX), reg("RSI", r.RSI), reg("RDI", r.RDI))
	row(reg("RBP", r.RBP), reg("R8", r.R8), reg("R9", r.R9))
	row(reg("R10", r.R10), reg("R11", r.R11), reg("R12", r.R12))
	row(reg("R13", r.R13), reg("R14", r.R14), reg("R15", r.R15))
	row(fmt.Sprintf("ORIG_RAX: %016x", r.OrigRAX), fmt.Sprintf("CS: %04x", r.CS), fmt.Sprintf("SS: %04x", r.SS))
}
