package vmcore

import "syscall"

// changeTime is the inode change time (ctime) of s.
func changeTime(s *syscall.Stat_t) (sec, nsec int64, ok bool) {
	return int64(s.Ctim.Sec), int64(s.Ctim.Nsec), true
}
