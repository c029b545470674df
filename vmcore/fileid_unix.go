//go:build unix

package vmcore

import (
	"fmt"
	"os"
	"syscall"
)

// fileIdentity names an opened file by device, inode, size and
// modification time: what tells a dump file kept counts belong to.
func fileIdentity(st os.FileInfo) string {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("dev %d ino %d size %d mtime %d\n", uint64(s.Dev), uint64(s.Ino), st.Size(), st.ModTime().UnixNano())
}
