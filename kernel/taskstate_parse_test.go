package kernel

import "testing"

func TestParseTaskState(t *testing.T) {
	for in, want := range map[string]TaskState{"D": StateUninterruptible, "d": StateUninterruptible, "UN": StateUninterruptible,
		"R": StateRunning, "S": StateInterruptible, "Z": StateZombie, "id": StateIdle} {
		if got, err := ParseTaskState(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	if _, err := ParseTaskState("Q"); err == nil {
		t.Error("state Q accepted")
	}
}
