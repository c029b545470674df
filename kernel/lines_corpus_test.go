package kernel

import (
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
)

// With the debug vmlinux attached, the blocked tasks' frames of the hung
// corpus dump carry the source line of each call; with the dump's own BTF
// they carry none (BTF has no line tables).
func TestCorpusFramesHaveSourceLines(t *testing.T) {
	vmlinux := corpus.Vmlinux(t)
	dump := corpus.DumpNamed(t, "hung-kdump-zstd")
	// Where each function's frame must point: the function's own file, or
	// for vfs_write the inlined sb_start_write's percpu_down_read.
	want := map[string]string{
		"percpu_rwsem_wait":  "kernel/locking/percpu-rwsem.c",
		"__percpu_down_read": "kernel/locking/percpu-rwsem.c",
		"schedule":           "kernel/sched/core.c",
		"vfs_write":          "include/linux/percpu-rwsem.h",
		"ksys_write":         "fs/read_write.c",
	}
	for _, withVmlinux := range []bool{true, false} {
		src := ""
		if withVmlinux {
			src = vmlinux
		}
		k := attachCorpus(t, dump, src)
		if k.HasLines() != withVmlinux {
			t.Fatalf("HasLines %v with vmlinux %q", k.HasLines(), src)
		}
		tasks, err := k.Tasks()
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, task := range tasks {
			if task.State != StateUninterruptible {
				continue
			}
			frames, _ := k.Backtrace(task)
			for _, f := range frames {
				if !withVmlinux {
					if f.File != "" {
						t.Errorf("%s: file %s:%d without line tables", f.Function, f.File, f.Line)
					}
					continue
				}
				file, ok := want[f.Function]
				if !ok {
					continue
				}
				checked++
				if f.File != file || f.Line <= 0 {
					t.Errorf("pid %d %s+%d: %s:%d, want a line of %s", task.PID, f.Function, f.Offset, f.File, f.Line, file)
				}
			}
		}
		if withVmlinux && checked < 10 {
			t.Errorf("only %d frames of the D tasks checked", checked)
		}
	}
}
