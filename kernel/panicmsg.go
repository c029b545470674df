package kernel

import (
	"bytes"
	"fmt"
	"strings"
)

// panicMarkers are the substrings crash's sys looks for, in its order, to
// name the line that explains the crash (crash task.c panic_msg[]).
var panicMarkers = []string{
	"SysRq : Crash", "SysRq : Trigger a crash", "SysRq : Netdump",
	"Kernel panic: ", "Kernel panic - ", "Kernel BUG at", "kernel BUG at",
	"Unable to handle kernel paging request", "Unable to handle kernel NULL pointer dereference",
	"BUG: unable to handle kernel ", "general protection fault: ", "double fault: ",
	"divide error: ", "stack segment: ", "[Hardware Error]: ", "Bad mode in ", "Oops: ",
}

// SysPanicField is PanicMessage as crash's sys shows it: quoted, and for an
// oops (no panic() message, kdump took over in oops_end) followed by
// " (check log for details)" (crash kernel.c display_sys_stats).
func SysPanicField(msg string) string {
	field := fmt.Sprintf("%q", msg)
	if strings.Contains(msg, "Oops: ") {
		field += " (check log for details)"
	}
	return field
}

// PanicMessage returns the log line that explains the crash, as crash's
// sys PANIC finds it: the first record holding a marker, tried marker by
// marker. Empty when none matches.
func PanicMessage(recs []LogRecord) string {
	for _, m := range panicMarkers {
		for _, r := range recs {
			if i := bytes.Index(r.Text, []byte(m)); i >= 0 {
				line := r.Text[i:]
				if j := bytes.IndexByte(line, '\n'); j >= 0 {
					line = line[:j]
				}
				return string(line)
			}
		}
	}
	return ""
}
