//go:build unix

package vmcore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// fileIdentity names an opened file by device, inode, size, modification
// and inode change time: what tells a dump file kept counts belong to.
// The change time is what a rewrite in place cannot hide: every write
// sets it and no utime call can (touch -d, cp -p, rsync -t, tar all set
// the mtime back). Where it is not known, no counts are kept.
func fileIdentity(st os.FileInfo) string {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	csec, cnsec, ok := changeTime(s)
	if !ok {
		return ""
	}
	return fmt.Sprintf("dev %d ino %d size %d mtime %d ctime %d.%09d\n",
		uint64(s.Dev), uint64(s.Ino), st.Size(), st.ModTime().UnixNano(), csec, cnsec)
}

// openCounts opens a counts file for reading: a regular file, not a
// symbolic link (the cache directory is ours; a link there was not put by
// us), owned by us and writable by no one else, whose counts could
// otherwise be forged. The open does not block on a FIFO.
func openCounts(path string) (*os.File, error) {
	return openRegular(path, syscall.O_NOFOLLOW, func(st os.FileInfo) error {
		s, ok := st.Sys().(*syscall.Stat_t)
		if !ok || int(s.Uid) != os.Getuid() || st.Mode().Perm()&0o022 != 0 {
			return errors.New("not a file of ours")
		}
		return nil
	})
}
