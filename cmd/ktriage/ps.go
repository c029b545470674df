package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/kernel"
)

func init() { addCommand("ps", newPsCmd) }

// psTask is one row of ps --format json.
type psTask struct {
	PID          int    `json:"pid"`
	PPID         int    `json:"ppid"`
	CPU          int    `json:"cpu"`
	Task         string `json:"task"`
	State        string `json:"state"`
	Comm         string `json:"comm"`
	Active       bool   `json:"active,omitempty"`
	KernelThread bool   `json:"kernel_thread,omitempty"`
	// LastArrivalNS is sched_info.last_arrival: the CPU's rq clock when
	// the task last got the CPU.
	LastArrivalNS uint64 `json:"last_arrival_ns"`
	// SinceLastRun is the rq clock of the task's CPU at the crash minus
	// LastArrivalNS, in seconds; for a D task, how long it had been stuck.
	SinceLastRun *float64 `json:"since_last_run_seconds,omitempty"`
	// BlockedSeconds repeats SinceLastRun for D tasks only.
	BlockedSeconds *float64 `json:"blocked_seconds,omitempty"`
}

func newPsCmd() *cobra.Command {
	var fl dumpFlags
	var state, sortBy string
	cmd := &cobra.Command{
		Use: "ps DUMP [DUMP.2 ...]",
		Example: `  ktriage ps vmcore
  ktriage ps --state D --sort last-run vmcore     # blocked tasks, longest blocked first`,
		Short: "Every task of the crashed kernel, as crash's ps lists them, with how long D tasks had been blocked",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wantState, err := taskFilterFlags(fl.format, state)
			if err != nil {
				return err
			}
			if sortBy != "" && sortBy != "pid" && sortBy != "last-run" {
				return fmt.Errorf("unknown --sort %q (pid or last-run)", sortBy)
			}
			d, opened, err := fl.openKernel(cmd, args)
			if err != nil {
				return err
			}
			defer d.Close()
			defer opened.Close()
			k := opened.Kernel
			tasks, err := k.Tasks()
			if err != nil {
				return fmt.Errorf("%s: task list: %w", args[0], err)
			}
			clocks := map[int]uint64{}
			if rqs, err := k.RunQueues(); err == nil {
				for _, rq := range rqs {
					clocks[rq.CPU] = rq.Clock
				}
			}
			var rows []psTask
			for _, t := range tasks {
				if wantState != "" && t.State != wantState {
					continue
				}
				rows = append(rows, newPsTask(t, k.IsKernelThread(t), clocks))
			}
			if sortBy == "last-run" {
				// Most recently run first, as crash's ps -l.
				sort.SliceStable(rows, func(i, j int) bool { return rows[i].LastArrivalNS > rows[j].LastArrivalNS })
			}
			if fl.format == "json" {
				if rows == nil {
					rows = []psTask{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return writeSafe(cmd.OutOrStdout(), func(w io.Writer) { printPs(w, rows) })
		},
	}
	fl.register(cmd)
	cmd.Flags().StringVarP(&state, "state", "s", "", "only tasks in this state: D (or UN), R, S, T, Z, I…")
	cmd.Flags().StringVar(&sortBy, "sort", "pid", "order: pid, or last-run (most recently run first)")
	return cmd
}

func newPsTask(t kernel.Task, kthread bool, clocks map[int]uint64) psTask {
	p := psTask{PID: t.PID, PPID: t.PPID, CPU: t.CPU, Task: fmt.Sprintf("%x", t.Addr), State: t.State.String(),
		Comm: t.Comm, Active: t.Active, KernelThread: kthread, LastArrivalNS: t.LastArrival}
	if clock, ok := clocks[t.CPU]; ok && t.LastArrival != 0 && clock >= t.LastArrival {
		s := float64(clock-t.LastArrival) / 1e9
		p.SinceLastRun = &s
		if t.State == kernel.StateUninterruptible {
			p.BlockedSeconds = &s
		}
	}
	return p
}

func printPs(w io.Writer, rows []psTask) {
	fmt.Fprintf(w, "%9s %7s %4s %17s %4s %12s  %s\n", "PID", "PPID", "CPU", "TASK", "ST", "LAST-RUN", "COMM")
	for _, r := range rows {
		mark := " "
		if r.Active {
			mark = ">"
		}
		since := "-"
		if r.SinceLastRun != nil {
			since = fmt.Sprintf("%.3fs", *r.SinceLastRun)
		}
		comm := r.Comm
		if r.KernelThread {
			comm = "[" + comm + "]"
		}
		fmt.Fprintf(w, "%s%8d %7d %4d  %16s  %2s %12s  %s\n", mark, r.PID, r.PPID, r.CPU, r.Task, r.State, since, comm)
	}
}

// taskFilterFlags checks the flags bt and ps share: --format (text or
// json) and --state, returned in crash's letters ("" for every task).
func taskFilterFlags(format, state string) (kernel.TaskState, error) {
	if format != "text" && format != "json" && format != "" {
		return "", fmt.Errorf("unknown --format %q (text or json)", format)
	}
	if state == "" {
		return "", nil
	}
	return kernel.ParseTaskState(state)
}
