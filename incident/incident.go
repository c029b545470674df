// Package incident is the one model both front ends fill: the dump path
// (kernel readers) and the text-log path (textlog). Analyzers and reports
// read only this model, so they never know where the evidence came from.
//
// The JSON names are a contract (DESIGN.md): scripts read them. Fields that
// could not be read stay absent or null, never invented; a Warning says why.
package incident

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Incident is everything ktriage learned about one crash.
type Incident struct {
	Title        string          `json:"title"`
	Source       Source          `json:"source"`
	System       *System         `json:"system,omitempty"`
	Panic        *Panic          `json:"panic,omitempty"`
	ActiveTasks  []ActiveTask    `json:"active_tasks,omitempty"`
	BlockedTasks []BlockedTask   `json:"blocked_tasks,omitempty"`
	Reports      []Report        `json:"reports,omitempty"`
	HardwareErrs []HardwareError `json:"hardware_errors,omitempty"`
	Findings     []Finding       `json:"findings,omitempty"`
	// Mounts and PCIDevices are filled by the dump path (mounts.go, pci.go).
	Mounts     []Mount     `json:"mounts,omitempty"`
	PCIDevices []PCIDevice `json:"pci_devices,omitempty"`
	// Log holds the kernel log records. It is not serialised in the JSON
	// contract by default (it can be megabytes); reports show its tail.
	Log      []LogRecord `json:"-"`
	Warnings []string    `json:"warnings,omitempty"`
}

// Source says what the incident was read from.
type Source struct {
	Path   string     `json:"path"`
	Kind   SourceKind `json:"kind"`
	Format string     `json:"format"` // e.g. "kdump-compressed (lzo)", "elf", "dmesg", "syslog"
	Host   string     `json:"host,omitempty"`
}

// System holds crash's `sys` facts.
type System struct {
	Release       string     `json:"release,omitempty"`
	Version       string     `json:"version,omitempty"`
	Nodename      string     `json:"nodename,omitempty"`
	Machine       string     `json:"machine,omitempty"`
	CPUs          int        `json:"cpus,omitempty"`
	MemoryBytes   uint64     `json:"memory_bytes,omitempty"`
	UptimeSeconds float64    `json:"uptime_seconds,omitempty"`
	LoadAverage   []float64  `json:"load_average,omitempty"`
	Tasks         int        `json:"tasks,omitempty"`
	CrashTime     *time.Time `json:"crash_time,omitempty"`
	Hardware      string     `json:"hardware,omitempty"`      // "Hardware name:" line
	Taint         string     `json:"taint,omitempty"`         // taint letters, e.g. "G OE"
	KernelSource  string     `json:"kernel_source,omitempty"` // vmlinux path or "kallsyms+BTF from dump"
	// Sysctls holds the values of kernel settings read from the dump's
	// memory ("kernel.hung_task_timeout_secs" → 120); a setting that could
	// not be read is absent, never assumed.
	Sysctls map[string]int64 `json:"sysctls,omitempty"`
}

// Sysctl returns a setting read from the dump.
func (in *Incident) Sysctl(name string) (int64, bool) {
	if in.System == nil {
		return 0, false
	}
	v, ok := in.System.Sysctls[name]
	return v, ok
}

// Frame is one line of a backtrace.
type Frame struct {
	Function string `json:"function"`
	Offset   uint64 `json:"offset,omitempty"`
	Size     uint64 `json:"size,omitempty"`
	Module   string `json:"module,omitempty"`
	Address  uint64 `json:"address,omitempty"`
	// Reliable is false for frames the kernel printed with "?" or that an
	// unwinder could not vouch for. Analyzers match only reliable frames.
	Reliable bool `json:"reliable"`
	// Context is the stack the frame ran on: "", "IRQ", "NMI", "SOFTIRQ", "exception".
	Context string `json:"context,omitempty"`
	// Exception: an exception or interrupt stopped the code here, at the
	// exact instruction Address (crash's "[exception RIP: …]"); Registers
	// are the ones its entry code saved, named as an oops prints them
	// (RIP, RSP, EFLAGS, RAX … R08 … R15, ORIG_RAX, CS, SS).
	Exception bool              `json:"exception,omitempty"`
	Registers map[string]uint64 `json:"registers,omitempty"`
	// KdumpPath: the frame ran after the dump saved the CPU's registers,
	// on kdump's way to the capture kernel (machine_kexec, and after an
	// oops the exception handling that called it; on the other CPUs the
	// NMI handler that parked them). crash's bt lists these first; the
	// kernel's own trace starts after them, and so do the report and the
	// rules (see Faulting).
	KdumpPath bool `json:"kdump_path,omitempty"`
	// File and Line: the source line of the instruction (the call, for a
	// return address), when the debuginfo has line tables.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Faulting drops the leading frames that ran on kdump's way to the capture
// kernel, so a stack starts where the kernel's own trace does: at the
// function an oops stopped, or at the code that called panic.
func Faulting(frames []Frame) []Frame {
	i := 0
	for i < len(frames) && frames[i].KdumpPath {
		i++
	}
	return frames[i:]
}

// Panic is the crash itself: what the kernel said and where it was.
type Panic struct {
	Message   string  `json:"message"`
	Title     string  `json:"title,omitempty"`
	Kind      string  `json:"kind,omitempty"`
	CPU       *int    `json:"cpu,omitempty"`
	PID       *int    `json:"pid,omitempty"`
	Comm      string  `json:"comm,omitempty"`
	RIP       *Frame  `json:"rip,omitempty"`
	Backtrace []Frame `json:"backtrace,omitempty"`
	// TaskStack is the panic task's own kernel stack [lo, hi), read from
	// the dump (task_struct.stack and THREAD_SIZE): what a faulting stack
	// pointer is compared with before a stack overflow is claimed.
	TaskStack *AddrRange `json:"task_stack,omitempty"`
	// Container is where the panic task ran (cgroup, pod, hostname).
	Container *Container `json:"container,omitempty"`
}

// AddrRange is [Lo, Hi) in kernel virtual memory.
type AddrRange struct {
	Lo uint64 `json:"lo"`
	Hi uint64 `json:"hi"`
}

// ActiveTask is the task running on one CPU when the kernel crashed.
type ActiveTask struct {
	CPU       int        `json:"cpu"`
	PID       int        `json:"pid"`
	Comm      string     `json:"comm"`
	Backtrace []Frame    `json:"backtrace,omitempty"`
	Container *Container `json:"container,omitempty"`
}

// BlockedTask is a task in uninterruptible sleep (D state).
type BlockedTask struct {
	PID            int      `json:"pid"`
	Comm           string   `json:"comm"`
	State          string   `json:"state"`
	BlockedSeconds *float64 `json:"blocked_seconds,omitempty"`
	// BlockedFrom says what BlockedSeconds was measured from: the task's own
	// scheduler timestamps in the dump, or the log line that reported it.
	BlockedFrom string  `json:"blocked_from,omitempty"`
	Backtrace   []Frame `json:"backtrace,omitempty"`
	// WaitsOn is the lock the task sleeps on, found from the waiter record
	// on its own stack; nil when it could not be determined (Warnings say
	// why when a lock wait was expected).
	WaitsOn *Wait `json:"waits_on,omitempty"`
	// WaitUnknown says why the lock a task sleeps in could not be read.
	WaitUnknown string `json:"wait_unknown,omitempty"`
	// IOWait is set when the stack waits for I/O: its frames, and from a
	// dump the request and device it waits for.
	IOWait    *IOWait    `json:"io_wait,omitempty"`
	Container *Container `json:"container,omitempty"`
}

// Wait is a lock a task sleeps on and what is known of its holder.
type Wait struct {
	Kind   string `json:"kind"` // "mutex", "rw_semaphore", "percpu_rw_semaphore", "jbd2 journal commit"
	Lock   string `json:"lock"` // the lock's address, hex
	Symbol string `json:"symbol,omitempty"`
	// Mount is set when the lock is a super block's freeze protection.
	Mount string `json:"mount,omitempty"`
	// Owner is the holder recorded in the lock (mutex.owner,
	// rw_semaphore.owner when write-owned), nil when the lock records none.
	Owner *LockOwner `json:"owner,omitempty"`
	// Note says how far the holder is known ("held for read: readers are
	// not recorded", "frozen: held for write by the freezer").
	Note string `json:"note,omitempty"`
	// Evidence is how the lock was found: the waiter record's address on
	// the task's stack and the wait list it is linked into.
	Evidence string `json:"evidence"`
}

// LockOwner is the task a lock names as its holder.
type LockOwner struct {
	PID   int    `json:"pid"`
	Comm  string `json:"comm"`
	State string `json:"state"` // crash's letters: RU, IN, UN, …
	// CPU is set when the owner was running on a CPU at the crash.
	CPU       *int       `json:"cpu,omitempty"`
	Backtrace []Frame    `json:"backtrace,omitempty"`
	Container *Container `json:"container,omitempty"`
}

// LogRecord is one kernel log message.
type LogRecord struct {
	// Timestamp in seconds since boot, when the log carried one.
	Time     *float64   `json:"time,omitempty"`
	WallTime *time.Time `json:"wall_time,omitempty"`
	Level    int        `json:"level"` // -1 when unknown
	Host     string     `json:"host,omitempty"`
	Caller   string     `json:"caller,omitempty"` // "T123" or "C1"
	Text     string     `json:"text"`
	Line     int        `json:"line,omitempty"` // 1-based line in the source file
}

// Report is one kernel report found in the log: an oops, a panic, a hung
// task notice, a lockup, a warning, a hardware error block.
type Report struct {
	Kind      string            `json:"kind"`  // see Kind* constants
	Title     string            `json:"title"` // "<kind> in <culprit>"
	Culprit   string            `json:"culprit,omitempty"`
	Message   string            `json:"message"` // the line that opened the report
	CPU       *int              `json:"cpu,omitempty"`
	PID       *int              `json:"pid,omitempty"`
	Comm      string            `json:"comm,omitempty"`
	Taint     string            `json:"taint,omitempty"`
	Release   string            `json:"release,omitempty"`
	Hardware  string            `json:"hardware,omitempty"`
	RIP       *Frame            `json:"rip,omitempty"`
	Registers map[string]uint64 `json:"registers,omitempty"`
	Backtrace []Frame           `json:"backtrace,omitempty"`
	Modules   []string          `json:"modules,omitempty"`
	// Fields holds kind-specific facts, e.g. "address" for a bad pointer,
	// "blocked_seconds" for a hung task, "gpa" for EPT misconfiguration.
	Fields map[string]string `json:"fields,omitempty"`
	Lines  []string          `json:"lines,omitempty"` // the raw report text
	Time   *float64          `json:"time,omitempty"`
	Host   string            `json:"host,omitempty"`
	// FirstLine is the 1-based line (or log record index) where it starts.
	FirstLine int `json:"first_line,omitempty"`
}

// Report kinds. Titles start with the kernel's own words for each kind.
const (
	KindPanic         = "panic"
	KindOops          = "oops"
	KindNullDeref     = "null-deref"
	KindPagingRequest = "paging-request"
	KindGPF           = "general-protection-fault"
	KindBUG           = "bug"
	KindInvalidOpcode = "invalid-opcode"
	KindDoubleFault   = "double-fault"
	KindDivideError   = "divide-error"
	KindHungTask      = "hung-task"
	KindSoftLockup    = "soft-lockup"
	KindHardLockup    = "hard-lockup"
	KindRCUStall      = "rcu-stall"
	KindOOMKill       = "oom-kill"
	KindOOMPanic      = "oom-panic"
	KindWarning       = "warning"
	KindAtomicSleep   = "scheduling-while-atomic"
	KindListCorrupt   = "list-corruption"
	KindKASAN         = "kasan"
	KindMCE           = "machine-check"
	KindHardwareError = "hardware-error"
	KindEPTMisconfig  = "ept-misconfiguration"
	KindSysrq         = "sysrq"
	KindOther         = "other"
)

// HardwareError is a decoded MCE or APEI/GHES block.
type HardwareError struct {
	Source   string            `json:"source"`              // "GHES", "MCE", "EDAC", "AER"
	Severity string            `json:"severity,omitempty"`  // "fatal", "recoverable", "corrected", ...
	Section  string            `json:"section,omitempty"`   // e.g. "PCIe error", "memory error"
	DeviceID string            `json:"device_id,omitempty"` // PCI address "0000:00:03.0"
	Vendor   string            `json:"vendor_id,omitempty"` // "8086"
	Device   string            `json:"dev_id,omitempty"`    // "2f08"
	Fields   map[string]string `json:"fields,omitempty"`
	Lines    []string          `json:"lines,omitempty"`
}

// Finding is an analyzer's conclusion: a known bug or condition.
type Finding struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Severity   Severity   `json:"severity"`
	Confidence Confidence `json:"confidence"`
	Summary    string     `json:"summary,omitempty"`
	Cause      string     `json:"cause,omitempty"`
	Fix        string     `json:"fix,omitempty"`
	Commands   []string   `json:"commands,omitempty"`
	Evidence   []string   `json:"evidence,omitempty"`
	References []string   `json:"references,omitempty"`
	// Applies says whether the crashed kernel is affected: "affected",
	// "fixed" or "unknown", with the reason in AppliesNote.
	Applies     string `json:"applies,omitempty"`
	AppliesNote string `json:"applies_note,omitempty"`
}

// Warn records why something could not be read.
func (in *Incident) Warn(msg string) { in.Warnings = append(in.Warnings, msg) }

// MarshalJSON writes the addresses as hex strings: a kernel address does
// not survive a JSON number (float64) in most readers.
func (r AddrRange) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"lo":"%#x","hi":"%#x"}`, r.Lo, r.Hi)), nil
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *AddrRange) UnmarshalJSON(b []byte) error {
	var s struct{ Lo, Hi string }
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	lo, err := strconv.ParseUint(s.Lo, 0, 64)
	if err != nil {
		return fmt.Errorf("task_stack.lo: %w", err)
	}
	hi, err := strconv.ParseUint(s.Hi, 0, 64)
	if err != nil {
		return fmt.Errorf("task_stack.hi: %w", err)
	}
	r.Lo, r.Hi = lo, hi
	return nil
}
