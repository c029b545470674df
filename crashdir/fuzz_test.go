package crashdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCrashDirName: whatever a directory is called, recognising its layout
// never panics, and a layout that claims a time and host gives sane ones.
func FuzzCrashDirName(f *testing.F) {
	for _, s := range []string{"127.0.0.1-2019-04-23-15:11:36", "fe80::1-2026-11-20-10:23:45", "202611201023",
		"2026-11-20-10:23", "sysrq-kdump-lzo", "-2026-11-20-10:23:45", "2026-13-45-99:99", "20269999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if strings.ContainsAny(name, "/\x00") || name == "" || name == "." || name == ".." {
			return
		}
		files := []dirFile{{name: "dump." + name}, {name: "vmcore"}}
		layout, host, when := layoutOf(filepath.Join("/var/crash", name), files)
		switch layout {
		case LayoutRHEL:
			if when.IsZero() || host != "" && !strings.HasPrefix(name, host+"-") {
				t.Errorf("RHEL %q: host %q time %v", name, host, when)
			}
		case LayoutDebian, LayoutSUSE:
			if host != "" || when.IsZero() {
				t.Errorf("%s %q: host %q time %v", layout, name, host, when)
			}
		case LayoutLoose:
			if host != "" || !when.IsZero() {
				t.Errorf("loose %q carries host %q time %v", name, host, when)
			}
		}
	})
}

// FuzzSUSEReadme: README.txt fields are read whole, one line each.
func FuzzSUSEReadme(f *testing.F) {
	f.Add([]byte("Kernel crashdump\n----------------\n\nCrash time     : 2026-11-23 09:15 (+0100)\n" +
		"Kernel version : 5.14.21-150500.55.7-default\nHost           : db1.example.com\nDump level     : 31\n"))
	f.Add([]byte("Host:\nKernel version:\r\nCrash time : 9999-99-99 99:99 (+9999)"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Crash
		parseSUSEReadme(data, &c)
		for _, v := range []string{c.Host, c.Release} {
			if strings.ContainsAny(v, "\n") || v != strings.TrimSpace(v) {
				t.Errorf("field %q spans lines or keeps blanks", v)
			}
		}
		if !c.Time.IsZero() && c.Time.Location().String() != "UTC" {
			t.Errorf("crash time %v not in UTC", c.Time)
		}
	})
}

// FuzzReleaseFromLog: a release found in a log is one token of the log.
func FuzzReleaseFromLog(f *testing.F) {
	for _, name := range []string{"seed-cfs-null-deref.log", "seed-hung-task-fsfreeze.log", "seed-ghes-fatal.log"} {
		if data, err := os.ReadFile(filepath.Join(repoRoot(), "testdata", "logs", name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)"))
	f.Add([]byte("CPU: 1 PID: 4 Comm: kworker Tainted: G      D W  OE     5.14.0-362.el9.x86_64 #1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel := releaseIn(data)
		if rel == "" {
			return
		}
		if strings.ContainsAny(rel, " \t\n") || !strings.Contains(string(data), rel) {
			t.Errorf("release %q is not one token of the log", rel)
		}
		if utf8.ValidString(string(data)) && !utf8.ValidString(rel) {
			t.Errorf("release %q cut a character", rel)
		}
	})
}
