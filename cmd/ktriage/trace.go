package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/internal/phase"
)

// runTrace times the phases of this run when --trace (or KTRIAGE_TRACE) is
// set; nil otherwise, which records nothing.
var runTrace *phase.Recorder

// profiling holds --trace and the hidden profile flags (pprof files for
// `go tool pprof`), shared by every command.
type profiling struct {
	trace            bool
	cpuFile, memFile string
	cpuOut           *os.File
}

func (p *profiling) register(root *cobra.Command) {
	root.PersistentFlags().BoolVar(&p.trace, "trace", os.Getenv("KTRIAGE_TRACE") != "",
		"print where the run spent its time to standard error: wall time and bytes read per phase (also KTRIAGE_TRACE=1)")
	root.PersistentFlags().StringVar(&p.cpuFile, "cpuprofile", "", "write a pprof CPU profile to FILE")
	root.PersistentFlags().StringVar(&p.memFile, "memprofile", "", "write a pprof allocation profile to FILE")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	_ = root.PersistentFlags().MarkHidden("memprofile")
}

// dumpGC is the garbage collector's pace while one dump is read: a triage
// allocates mostly what it keeps (symbol tables, types), so collecting at
// 4x the live heap instead of 2x saves a fifth of the CPU for ~15 MB more
// peak memory. The soft limit keeps a huge dump from growing that margin
// without bound. GOGC or GOMEMLIMIT set by the user win. Text logs (most
// of their allocations are garbage) and fleet, a long-running batch, keep
// Go's defaults: analyze sets it in its dump loader, not up front.
func dumpGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(400)
	softMemoryLimit(1)
}

// oneShotGC applies dumpGC to the commands that only read a dump.
func oneShotGC(cmd *cobra.Command) {
	switch cmd.Name() {
	case "bt", "ps", "sys", "dmesg", "info", "minimize":
		dumpGC()
	}
}

func (p *profiling) start() error {
	if p.trace {
		runTrace = phase.New()
	}
	if p.cpuFile != "" {
		f, err := os.Create(p.cpuFile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		p.cpuOut = f
	}
	return nil
}

func (p *profiling) stop(w io.Writer) {
	if p.cpuOut != nil {
		pprof.StopCPUProfile()
		p.cpuOut.Close()
	}
	if p.memFile != "" {
		if f, err := os.Create(p.memFile); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	if runTrace != nil {
		_ = runTrace.Write(w)
		runTrace = nil
	}
}
