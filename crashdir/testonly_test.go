package crashdir

import (
	"os"
	"path/filepath"
	"strings"
)

// Functions only the tests use: kept beside them rather than as API no
// command calls.

// IsCrashDir reports whether path is a directory of crash directories — a
// /var/crash tree or an archive — rather than one crash's own directory:
// it holds more than one crash, or its one crash lies in a subdirectory.
// `analyze` hands such a path to the batch runner.
func IsCrashDir(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return false
	}
	d, err := Discover([]string{path})
	if err != nil || len(d.Crashes) == 0 {
		return false
	}
	// A kdump directory (vmcore or dump.<stamp> in a known layout) is one
	// crash, whatever logs lie below it (tool outputs, old dmesg files); a
	// folder of loose dumps and logs is an archive.
	kdumpHere, dumpsBelow := false, 0
	for _, c := range d.Crashes {
		here := filepath.Clean(c.Dir) == filepath.Clean(path)
		switch {
		case len(c.Dumps) > 0 && here && (c.Layout != LayoutLoose || kdumpName(c.Dumps[0])):
			kdumpHere = true
		case len(c.Dumps) > 0:
			dumpsBelow++
		case here && companionLogName(c.Log):
			kdumpHere = true // the dump is gone or packed; its kdump log remains
		}
	}
	if kdumpHere && dumpsBelow == 0 {
		return false
	}
	return len(d.Crashes) > 1 || filepath.Clean(d.Crashes[0].Dir) != filepath.Clean(path)
}

// kdumpName tells whether a file has the name kdump gives a dump: vmcore,
// vmcore.N (split), vmcore.flat, vmcore-incomplete, dump.<stamp>[.N].
func kdumpName(path string) bool {
	b := filepath.Base(path)
	return b == "vmcore" || b == "vmcore.flat" || b == "vmcore-incomplete" ||
		strings.HasPrefix(b, "vmcore.") && strings.Trim(b[len("vmcore."):], "0123456789") == "" ||
		strings.HasPrefix(b, "dump.")
}

// companionLogName tells whether a file has the name kdump gives the log it
// saves beside a dump: vmcore-dmesg.txt, dmesg.<stamp>.
func companionLogName(path string) bool {
	b := filepath.Base(path)
	return b == "vmcore-dmesg.txt" || strings.HasPrefix(b, "dmesg.") && b != "dmesg.txt"
}
