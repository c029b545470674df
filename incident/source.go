package incident

// SourceKind is which front end filled the incident.
type SourceKind string

const (
	SourceVmcore SourceKind = "vmcore" // a crash dump
	SourceLog    SourceKind = "log"    // a kernel text log
)

func (k SourceKind) String() string { return string(k) }
