package symbols

import (
	"errors"
	"strings"
	"testing"
)

func openTestDWARF(t testing.TB, opts DWARFOptions) *DWARF {
	t.Helper()
	d, err := OpenDWARF(vmlinuxPath(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDWARFIndexVmlinux(t *testing.T) {
	d := openTestDWARF(t, DWARFOptions{NoCache: true})
	st := d.Stats()
	t.Logf("index: %d type names, %d globals in %v (build-id %s)", st.Types, st.Globals, st.Elapsed, d.BuildID())
	if d.BuildID() != corpusBuildID {
		t.Errorf("build-id %s, want %s", d.BuildID(), corpusBuildID)
	}
	for name, want := range map[string]uint64{
		"init_task": 0xffffffff82a1aa40, "prb": 0xffffffff82a622c0, "node_data": 0xffffffff82c368e0, "runqueues": 0x31980,
	} {
		if got, ok := d.GlobalAddr(name); !ok || got != want {
			t.Errorf("GlobalAddr(%s) = %#x %v, want %#x", name, got, ok, want)
		}
	}
	if _, ok := d.GlobalAddr("jiffies"); ok {
		t.Errorf("jiffies has no DWARF definition in 6.1; the index found one")
	}
	for name, want := range map[string]string{
		"init_task": "struct task_struct", "prb": "struct printk_ringbuffer *", "jiffies": "long unsigned int",
		"runqueues": "struct rq", "avenrun": "long unsigned int[3]",
	} {
		ti, err := d.GlobalType(name)
		if err != nil || ti.Name != want {
			t.Errorf("GlobalType(%s) = %+v, %v; want %s", name, ti, err, want)
		}
	}
	if sz, err := d.StructSize("task_struct"); err != nil || sz != 9728 {
		t.Errorf("sizeof(task_struct) = %d, %v", sz, err)
	}
	if off, err := d.MemberOffset("task_struct", "thread.sp"); err != nil || off != 5336 {
		t.Errorf("task_struct.thread.sp = %d, %v", off, err)
	}
	if _, err := d.MemberOffset("task_struct", "state"); !errors.Is(err, ErrNotFound) {
		t.Errorf("task_struct.state (absent in 6.1): err = %v, want ErrNotFound", err)
	}
}

// A vmlinux without debug info (a stripped image) is refused clearly.
func TestOpenDWARFWithoutDebugInfo(t *testing.T) {
	p := t.TempDir() + "/vmlinux-stripped"
	writeTinyELF(t, p, []byte{1, 2, 3, 4})
	_, err := OpenDWARF(p, DWARFOptions{NoCache: true})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), p) {
		t.Errorf("err = %v, want ErrNotFound naming the file", err)
	}
	if _, err := OpenBTF(p); err == nil {
		t.Error("BTF loaded from a file without .BTF")
	}
}
