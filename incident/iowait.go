package incident

import (
	"strconv"
	"strings"
)

// IOWait is the I/O a blocked task waits for: the frames of its stack that
// say so, and what a dump shows of the request and the device it went to.
// A text log gives the frames alone; nothing here is guessed from a name.
type IOWait struct {
	// Frames are the waiting frames and the first caller past them,
	// innermost first: io_schedule, bit_wait_io, …, __wait_on_buffer, ext4_bread.
	Frames []string `json:"frames"`
	// Object is what the I/O is for, as read from the dump: a bio (its
	// operation, sector and size), a page of a file, a buffer head's block.
	Object string `json:"object,omitempty"`
	// Device is the disk the I/O went to (gendisk.disk_name, or the super
	// block's s_id for a file's page), read from the dump.
	Device string `json:"device,omitempty"`
	// InFlight counts the requests the device's blk-mq tags hold started
	// and not completed at the crash.
	InFlight *int `json:"in_flight,omitempty"`
	// InFlightBios: the device is bio-based (device-mapper, md) and
	// InFlight counts the bios it accounts in flight, not requests.
	InFlightBios bool `json:"in_flight_bios,omitempty"`
	// OldestSeconds is how long the oldest of them had been in flight,
	// measured as OldestFrom says.
	OldestSeconds *float64 `json:"oldest_seconds,omitempty"`
	OldestFrom    string   `json:"oldest_from,omitempty"`
	// Evidence says where the object and device were read.
	Evidence string `json:"evidence,omitempty"`
	// Unknown says why the device or its queue could not be read.
	Unknown string `json:"unknown,omitempty"`
}

// ioWaitFns are the functions a task sleeps in while it waits for I/O to
// complete: the scheduler's I/O accounting, page, buffer and bit waits for
// I/O, a bio's completion, a request tag, the block layer's throttles.
var ioWaitFns = map[string]bool{}

// ioMachinery are the waiting layers between the sleep and the function
// that asked for the I/O: passed over to name the caller.
var ioMachinery = map[string]bool{}

func init() {
	waits := []string{"io_schedule", "io_schedule_timeout", "blk_io_schedule", "bit_wait_io",
		"bit_wait_io_timeout", "folio_wait_bit_common", "folio_wait_bit", "folio_wait_writeback",
		"folio_wait_stable", "__folio_lock", "__folio_lock_killable", "folio_put_wait_locked",
		"wait_on_page_bit_common", "wait_on_page_bit", "wait_on_page_bit_killable", "wait_on_page_writeback",
		"put_and_wait_on_page_locked", "__lock_page", "__lock_page_killable", "sleep_on_page",
		"sleep_on_page_killable", "sync_page", "sleep_on_buffer", "__wait_on_buffer", "__lock_buffer",
		"wait_for_completion_io", "wait_for_completion_io_timeout", "submit_bio_wait", "blk_execute_rq",
		"blk_mq_get_tag", "rq_qos_wait", "wbt_wait", "__rq_qos_throttle", "blk_queue_enter", "bio_queue_enter"}
	for _, fn := range waits {
		ioWaitFns[fn] = true
		ioMachinery[fn] = true
	}
	// The generic layers a wait for I/O passes through on its way down.
	for _, fn := range []string{"__schedule", "schedule", "schedule_timeout", "__wait_on_bit", "__wait_on_bit_lock",
		"out_of_line_wait_on_bit", "out_of_line_wait_on_bit_lock", "wait_on_buffer", "lock_buffer",
		"__wait_for_common", "wait_for_common_io", "do_wait_for_common", "__blk_mq_alloc_requests",
		"blk_mq_get_new_requests", "prepare_to_wait", "prepare_to_wait_exclusive", "finish_wait"} {
		ioMachinery[fn] = true
	}
}

// maxIOFrames bounds the evidence frames: the sleep, its layers, the caller.
const maxIOFrames = 8

// IOWaitOf returns the I/O wait a D task's stack shows, with the frames
// that show it (from the first I/O wait frame to the first caller past the
// waiting layers), or nil when the stack does not wait for I/O.
func IOWaitOf(frames []Frame) *IOWait {
	fns := ReliableFunctions(frames)
	start := -1
	for i, fn := range fns {
		if ioWaitFns[fn] {
			start = i
			break
		}
	}
	if start < 0 {
		return nil
	}
	var out []string
	for _, fn := range fns[start:] {
		out = append(out, fn)
		if !ioMachinery[fn] || len(out) == maxIOFrames {
			break
		}
	}
	return &IOWait{Frames: out}
}

// Caller is the function that asked for the I/O: the last evidence frame.
func (w *IOWait) Caller() string {
	if w == nil || len(w.Frames) == 0 {
		return ""
	}
	return w.Frames[len(w.Frames)-1]
}

// Describe is the wait in one phrase: "I/O to vda (3 requests in flight,
// the oldest for 31.2 s): bio … — io_schedule ← … ← ext4_bread".
func (w *IOWait) Describe() string {
	var b strings.Builder
	b.WriteString("I/O")
	if w.Device != "" {
		b.WriteString(" to " + w.Device)
	}
	if w.InFlight != nil {
		n := *w.InFlight
		b.WriteString(" (")
		if w.InFlightBios {
			b.WriteString(plural(n, "bio", "bios") + " in flight")
		} else {
			b.WriteString(plural(n, "request", "requests") + " in flight")
		}
		if w.OldestSeconds != nil {
			b.WriteString(", the oldest for " + formatSeconds(*w.OldestSeconds))
		}
		b.WriteString(")")
	}
	if w.Object != "" {
		b.WriteString(": " + w.Object)
	}
	switch {
	case w.Device == "" && w.Unknown != "":
		b.WriteString(" (device not read: " + w.Unknown + ")")
	case w.Device == "":
		b.WriteString(" (the source does not show the device)")
	}
	if len(w.Frames) > 0 {
		b.WriteString(" — " + strings.Join(w.Frames, " ← "))
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func formatSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', 1, 64) + " s"
}

// WaitJournalCommit is the Wait kind of a task waiting for a jbd2 journal
// commit; its "owner" is the journal's commit thread, which writes it.
const WaitJournalCommit = "jbd2 journal commit"

// OwnerRole says how the owner relates to what is waited for.
func (w *Wait) OwnerRole() string {
	if w.Kind == WaitJournalCommit {
		return "to be written by"
	}
	return "held by"
}

// Describe names the lock: "mutex ktriage_table_lock [mod] at 0x…".
func (w *Wait) Describe() string {
	s := w.Kind
	if w.Symbol != "" {
		s += " " + w.Symbol
	}
	s += " at " + w.Lock
	if w.Mount != "" {
		s += " — the freeze protection of " + w.Mount
	}
	return s
}

// WaitText is one line of what a blocked task waits for, as far as its
// source shows: the lock and its holder, or the I/O; "" when not known.
func (t *BlockedTask) WaitText() string {
	if w := t.WaitsOn; w != nil {
		s := "waits for " + w.Describe()
		if o := w.Owner; o != nil {
			s += ", " + w.OwnerRole() + " " + o.Comm + ":" + strconv.Itoa(o.PID) + " (" + o.State + ")"
		} else if w.Note != "" {
			s += " (" + w.Note + ")"
		}
		return s
	}
	if t.IOWait != nil {
		return "waits on " + t.IOWait.Describe()
	}
	return ""
}
