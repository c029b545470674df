package triage

import (
	"strings"
	"testing"
)

// TestBundledSample: the README's sample — the hung-task dump cut down to
// the pages ktriage reads (testdata/dumps) — concludes "frozen filesystem"
// and names the mount, with no debuginfo and no ../shared.
func TestBundledSample(t *testing.T) {
	in, err := LoadDump([]string{"../testdata/dumps/hung-kdump-zstd.vmcore"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	analyze(t, in)
	if len(in.Findings) == 0 {
		t.Fatalf("no findings; title %q, warnings %v", in.Title, in.Warnings)
	}
	top := in.Findings[0]
	if top.ID != "hung-task-frozen-filesystem" || !strings.Contains(top.Title, "/data1") {
		t.Errorf("top finding %s %q, want the frozen filesystem on /data1", top.ID, top.Title)
	}
	if in.Title != "INFO: task hung in vfs_write" || in.Panic == nil || in.Panic.Comm != "khungtaskd" {
		t.Errorf("title %q panic %+v", in.Title, in.Panic)
	}
	if len(in.BlockedTasks) != 5 {
		t.Errorf("%d D tasks, want 5", len(in.BlockedTasks))
	}
	for _, b := range in.BlockedTasks {
		if len(b.Backtrace) == 0 || b.BlockedSeconds == nil {
			t.Errorf("D task %d %s: stack %d frames, blocked %v", b.PID, b.Comm, len(b.Backtrace), b.BlockedSeconds)
		}
	}
}
