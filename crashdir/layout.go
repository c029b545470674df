package crashdir

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/ktriage/ktriage/internal/lazyre"
	"github.com/ktriage/ktriage/vmcore"
)

// The names kdump services give crash directories.
var (
	rhelDirRe   = lazyre.New(`^(.+)-(\d{4}-\d{2}-\d{2}-\d{2}:\d{2}:\d{2})$`)
	debianDirRe = lazyre.New(`^\d{12}$`)
	suseDirRe   = lazyre.New(`^\d{4}-\d{2}-\d{2}-\d{2}:\d{2}$`)
)

// layoutOf recognises a crash directory by its name and files, and reads
// the host and time its name carries.
func layoutOf(dir string, files []dirFile) (Layout, string, time.Time) {
	name := filepath.Base(dir)
	has := func(pred func(string) bool) bool {
		for _, f := range files {
			if pred(f.name) {
				return true
			}
		}
		return false
	}
	if m := rhelDirRe.FindStringSubmatch(name); m != nil {
		if t, err := time.Parse("2006-01-02-15:04:05", m[2]); err == nil {
			host := m[1]
			if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
				host = "" // a local dump: 127.0.0.1 names every machine; the dump's nodename will tell
			}
			return LayoutRHEL, host, t
		}
	}
	if debianDirRe.MatchString(name) && has(func(n string) bool {
		return strings.HasPrefix(n, "dump."+name) || n == "dmesg."+name || n == "dump-incomplete"
	}) {
		if t, err := time.Parse("200601021504", name); err == nil {
			return LayoutDebian, "", t
		}
	}
	if suseDirRe.MatchString(name) {
		if t, err := time.Parse("2006-01-02-15:04", name); err == nil {
			return LayoutSUSE, "", t
		}
	}
	return LayoutLoose, "", time.Time{}
}

// readSUSEReadme reads kdumptool's README.txt: "Crash time     : 2024-01-15
// 10:23 (+0100)", "Kernel version : …", "Host           : …".
func readSUSEReadme(path string, c *Crash) {
	if data, err := readHead(path, 64<<10); err == nil {
		parseSUSEReadme(data, c)
	}
}

func parseSUSEReadme(data []byte, c *Crash) {
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "Kernel version":
			c.Release = val
		case "Host":
			c.Host = val
		case "Crash time":
			if t, err := time.Parse("2006-01-02 15:04 (-0700)", val); err == nil {
				c.Time = t.UTC()
			}
		}
	}
}

// readHead reads at most limit bytes from the start of a file.
func readHead(path string, limit int64) ([]byte, error) {
	f, err := vmcore.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

var (
	linuxVersionRe = lazyre.New(`Linux version (\S+)`)
	// "CPU: 0 PID: 1 Comm: sh Not tainted 6.1.0-56-cloud-amd64 #1 Debian …"
	taintReleaseRe = lazyre.New(`(?:Not tainted|Tainted: [A-Z ]+?) +(\d\S*) #`)
)

// releaseFromLog finds the kernel release a log names (its boot banner or
// the release in an oops header), to choose debuginfo before the dump is
// read. The analysis itself takes the release from the dump.
func releaseFromLog(path string) string {
	data, err := readHead(path, 4<<20)
	if err != nil {
		return ""
	}
	return releaseIn(data)
}

func releaseIn(data []byte) string {
	if m := linuxVersionRe.Re().FindSubmatch(data); m != nil {
		return string(m[1])
	}
	if m := taintReleaseRe.Re().FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}
