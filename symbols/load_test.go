package symbols_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/symbols"
)

// With the vmlinux and without it, the same dump gives the same names for
// the kernel and its modules, and the same layouts.
func TestVmlinuxAndDumpAgree(t *testing.T) {
	d := sysrqDump(t)
	fromDump, btfTypes, err := symbols.FromDump(d.symbolValues(), d, symbols.FromDumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := symbols.OpenVmlinux(corpus.Vmlinux(t), d.KernelOffset(), symbols.DumpIdentity{BuildID: d.dump.VMCoreInfo.BuildID()}, symbols.DWARFOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	withVmlinux := v.Symbols(fromDump.Modules)
	for _, name := range []string{"__schedule", "panic", "sysrq_handle_crash", "init_task", "jiffies", "pvpanic_panic_notify"} {
		a1, ok1 := fromDump.Lookup(name)
		a2, ok2 := withVmlinux.Lookup(name)
		if !ok1 || !ok2 || a1 != a2 {
			t.Errorf("%s: dump %#x %v, vmlinux %#x %v", name, a1, ok1, a2, ok2)
			continue
		}
		if f1, f2 := fromDump.Format(a1+3), withVmlinux.Format(a2+3); f1 != f2 {
			t.Errorf("Format(%s+3): dump %q, vmlinux %q", name, f1, f2)
		}
	}
	for _, g := range []string{"init_task", "prb", "jiffies", "runqueues", "avenrun", "init_uts_ns", "modules", "nr_cpu_ids"} {
		a, err1 := fromDump.GlobalType(g)
		b, err2 := withVmlinux.GlobalType(g)
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("GlobalType(%s): BTF %+v %v, DWARF %+v %v", g, a, err1, b, err2)
		}
	}
	for _, g := range []string{"jiffies", "init_task", "runqueues"} {
		a, ok := v.Addr(g)
		b, _ := fromDump.Lookup(g)
		if !ok || a != b {
			t.Errorf("Vmlinux.Addr(%s) = %#x %v, kallsyms %#x", g, a, ok, b)
		}
	}
	m1, _ := btfTypes.MemberInfo("task_struct", "thread.sp")
	m2, _ := v.DWARF.MemberInfo("task_struct", "thread.sp")
	if m1 != m2 || m1.Offset != 5336 {
		t.Errorf("thread.sp: BTF %+v, DWARF %+v", m1, m2)
	}
	var mm *symbols.MismatchError
	_, err = symbols.OpenVmlinux(corpus.Vmlinux(t), d.KernelOffset(), symbols.DumpIdentity{BuildID: strings.Repeat("ab", 20)}, symbols.DWARFOptions{CacheDir: t.TempDir()})
	if !errors.As(err, &mm) {
		t.Errorf("OpenVmlinux accepted a dump of another build: %v", err)
	}
}
