package kernel

import (
	"os"
	"testing"

	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// TestStateBitsFromLetters: the state values read off task_state_array
// (fs/proc/array.c) for the layouts kernels have had.
func TestStateBitsFromLetters(t *testing.T) {
	cases := []struct {
		name, letters string
		want          stateBits
	}{
		// 3.10 (RHEL 7): one entry per bit, zombie (16) before dead (32).
		{"3.10", "RSDTtZXxKWP", stateBits{exitZombie: 16, exitDead: 32, dead: 64, wakekill: 128, waking: 256,
			parked: 512, noload: 0x400, newTask: 0x800}},
		// 3.14–4.13: report states only, dead (16) before zombie (32).
		{"4.9", "RSDTtXZ", stateBitsOld},
		// 4.14 on: report-only P and I after Z; the high bits renumbered.
		{"4.14", "RSDTtXZPI", stateBitsNew},
	}
	for _, c := range cases {
		if got := stateBitsFromLetters(c.letters); got != c.want {
			t.Errorf("%s %q: got %+v, want %+v", c.name, c.letters, got, c.want)
		}
	}
	// What crash's ps shows for states seen on 3.10 kernels.
	b310 := stateBitsFromLetters("RSDTtZXxKWP")
	for _, c := range []struct {
		state, exit uint64
		want        TaskState
	}{
		{0, 0, "RU"}, {1, 0, "IN"}, {2, 0, "UN"}, {0x82, 0, "UN"}, // TASK_KILLABLE
		{64, 16, "ZO"}, {64, 32, "DE"}, {512, 0, "PA"}, {256, 0, "WA"},
	} {
		if got := stateLetters(c.state, c.exit, b310); got != c.want {
			t.Errorf("3.10 state %#x exit %#x: got %s, want %s", c.state, c.exit, got, c.want)
		}
	}
}

// TestTaskLayoutEL7: with the types of RHEL 7's own kernel (CentOS 7.9's
// kernel/module.o, testdata/symbols/el7), the task reader takes the state
// from the 8-byte "state" and the CPU from thread_info, and a sleeping
// task's unwind cannot use inactive_task_frame (it starts at __schedule's
// call to __switch_to instead).
func TestTaskLayoutEL7(t *testing.T) {
	f, err := os.Open("../testdata/symbols/el7/module.o.btf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := symbols.LoadBTF(f)
	if err != nil {
		t.Fatal(err)
	}
	k := &Kernel{Dump: &vmcore.Dump{}, Types: b}
	l, err := k.taskLayout()
	if err != nil {
		t.Fatal(err)
	}
	state, err := b.MemberInfo("task_struct", "state")
	if err != nil {
		t.Fatal(err)
	}
	if l.state != state.Offset || l.stateSize != 8 {
		t.Errorf("state at %d (%d bytes), want %d (8)", l.state, l.stateSize, state.Offset)
	}
	cpu, _ := b.MemberOffset("thread_info", "cpu")
	if !l.hasCPU || !l.cpuInThreadInfo || l.cpu != cpu {
		t.Errorf("cpu: %+v, want thread_info.cpu at %d", l, cpu)
	}
	if b.HasMember("inactive_task_frame", "ret_addr") {
		t.Error("3.10 has no inactive_task_frame")
	}
}
