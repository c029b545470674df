package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/kernel/unwind"
)

// kernelStaleFrame is a frame the kernel's own trace printed with "?": a
// return address its unwinder found on the stack but not on the chain.
var (
	kernelStaleFrame = regexp.MustCompile(`\]\s+\? ([A-Za-z0-9_.]+\+0x[0-9a-f]+)/0x[0-9a-f]+`)
	crashRIP         = regexp.MustCompile(`RIP: ([0-9a-f]{16})`)
)

// TestOopsFixturesAgainstCrash: on the bundled oops dumps
// (testdata/dumps-oops, kdump captures of BUG(), a soft lockup and a WARN
// with panic_on_warn), the panic stack is crash's bt frame for frame, except
// where crash (8.0.2, the one available when they were made) is wrong; each
// such frame must be shown to be wrong:
//   - a frame the kernel's own trace in the same dump printed with "?" (a
//     stale return address crash's stack scan took for a caller: after
//     do_syscall_64 crash lists a dozen, and after the WARN's exception
//     frame the slot between its struct pt_regs and the saved stack
//     pointer, which the CPU skipped to align the stack);
//   - everything after an exception frame crash itself called "possibly
//     bogus": crash read a struct pt_regs where there is none (its RIP is
//     not kernel text) and stopped.
//
// That the frames are right is shown independently of crash by the triage
// test holding the stack below each exception to the kernel's own trace.
func TestOopsFixturesAgainstCrash(t *testing.T) {
	fixtures, _ := filepath.Glob("../testdata/dumps-oops/*.vmcore")
	if len(fixtures) == 0 {
		t.Fatal("no fixtures in testdata/dumps-oops")
	}
	equal, explained := 0, 0
	for _, path := range fixtures {
		name := strings.TrimSuffix(filepath.Base(path), ".vmcore")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(strings.TrimSuffix(path, ".vmcore") + ".crash.bt.txt")
			if err != nil {
				t.Fatal(err)
			}
			log, err := os.ReadFile(strings.TrimSuffix(path, ".vmcore") + ".dmesg.txt")
			if err != nil {
				t.Fatal(err)
			}
			stale := map[string]bool{}
			for _, m := range kernelStaleFrame.FindAllStringSubmatch(string(log), -1) {
				stale[m[1]] = true
			}
			want := readCrashBT(t, strings.TrimSuffix(path, ".vmcore")+".crash.bt.txt")
			if len(want) != 1 {
				t.Fatalf("crash's bt holds %d tasks", len(want))
			}
			// The RIP of the exception frame crash called bogus.
			bogusRIP := uint64(0)
			if before, _, ok := strings.Cut(string(raw), "possibly bogus exception frame"); ok {
				m := crashRIP.FindAllStringSubmatch(before, -1)
				if len(m) == 0 {
					t.Fatal("crash's bogus exception frame has no RIP line")
				}
				fmt.Sscanf(m[len(m)-1][1], "%x", &bogusRIP)
			}
			vmlinuxModes(t, func(t *testing.T, vmlinux string) {
				k := attachCorpus(t, corpus.Dump{Name: name, Files: []string{path}}, vmlinux)
				tk, frames, err := k.CPUBacktrace(k.PanicCPU())
				if err != nil || tk.PID != want[0].pid {
					t.Fatalf("panic task %d (%v), crash's %d", tk.PID, err, want[0].pid)
				}
				var shown []Frame
				for i, f := range frames {
					if unwind.ShownByCrash(frames, i) {
						shown = append(shown, f)
					}
				}
				j, reasons := 0, []string{}
				w := want[0]
				for i, fn := range w.funcs {
					if j < len(shown) && shown[j].Function == fn && shown[j].SP == w.sps[i] {
						j++
						continue
					}
					sp := w.sps[i]
					// Name the return address in crash's slot the kernel's way.
					off := ""
					if v, err := k.U64(sp); err == nil {
						if n, o, _, _, ok := k.symbolize(v - 1); ok && n == fn {
							off = fmt.Sprintf("%s+%#x", n, o+1)
						}
					}
					_, _, _, _, bogusIsText := k.symbolize(bogusRIP)
					bogusIsText = bogusIsText && bogusRIP >= startKernelMap
					switch {
					case off != "" && stale[off]:
						reasons = append(reasons, fmt.Sprintf("%s at [%x]: the kernel printed ? %s", fn, sp, off))
					case bogusRIP != 0 && !bogusIsText && i == len(w.funcs)-1:
						reasons = append(reasons, fmt.Sprintf("%s at [%x]: crash read an exception frame there, called it possibly bogus, and its RIP %#x is no kernel text", fn, sp, bogusRIP))
						j = len(shown)
					default:
						t.Errorf("crash's frame #%d %s at [%x] is neither ktriage's next frame (%v) nor explained",
							i, fn, sp, funcNames(shown[min(j, len(shown)):]))
						return
					}
				}
				if j != len(shown) {
					t.Errorf("crash stops before ktriage's %v", funcNames(shown[j:]))
					return
				}
				if len(reasons) == 0 {
					equal++
					return
				}
				explained++
				t.Logf("crash differs, wrongly: %s", strings.Join(reasons, "; "))
			})
		})
	}
	t.Logf("oops fixtures' panic stacks equal to crash 8.0.2's: %d; differing only where crash is shown wrong: %d", equal, explained)
}
