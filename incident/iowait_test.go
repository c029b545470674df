package incident

import (
	"strings"
	"testing"
)

func framesOf(fns ...string) []Frame {
	out := make([]Frame, len(fns))
	for i, fn := range fns {
		out[i] = Frame{Function: fn, Reliable: true}
	}
	return out
}

// The evidence runs from the first I/O wait to the function that asked
// for the I/O; a stack with no I/O wait has none.
func TestIOWaitOf(t *testing.T) {
	for _, c := range []struct {
		frames []Frame
		want   string
	}{
		{framesOf("__schedule", "schedule", "io_schedule", "bit_wait_io", "__wait_on_bit", "out_of_line_wait_on_bit",
			"__wait_on_buffer", "ext4_bread", "__ext4_read_dirblock"),
			"io_schedule bit_wait_io __wait_on_bit out_of_line_wait_on_bit __wait_on_buffer ext4_bread"},
		{framesOf("__schedule", "schedule", "schedule_timeout", "io_schedule_timeout", "__wait_for_common",
			"submit_bio_wait", "__blkdev_direct_IO_simple", "blkdev_read_iter"),
			"io_schedule_timeout __wait_for_common submit_bio_wait __blkdev_direct_IO_simple"},
		{framesOf("__schedule", "schedule", "schedule_preempt_disabled", "__mutex_lock", "ktriage_table_lookup"), ""},
		{framesOf("__schedule", "schedule", "jbd2_log_wait_commit", "jbd2_complete_transaction"), ""},
	} {
		got := ""
		if w := IOWaitOf(c.frames); w != nil {
			got = strings.Join(w.Frames, " ")
		}
		if got != c.want {
			t.Errorf("IOWaitOf = %q, want %q", got, c.want)
		}
	}
}
