package symbols

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FindOptions says where to look for a debug vmlinux.
type FindOptions struct {
	Vmlinux      string // --vmlinux: the only candidate when set
	DebuginfoDir string // --debuginfo-dir: searched before the distro paths
	Release      string // the dump's kernel release (VMCOREINFO OSRELEASE)
	BuildID      string // the dump's build-id (VMCOREINFO BUILD-ID), for .build-id links
	Root         string // filesystem root for the distro paths; "" means "/"
	CacheDir     string // ktriage's cache (vmlinux-<release> lives there); "" means ~/.cache/ktriage
}

// NoVmlinuxError lists where a vmlinux was looked for.
type NoVmlinuxError struct {
	Release string
	Tried   []string
}

func (e *NoVmlinuxError) Error() string {
	return fmt.Sprintf("no debug vmlinux for %s (looked in %s)", e.Release, strings.Join(e.Tried, ", "))
}

func (e *NoVmlinuxError) Unwrap() error { return ErrNotFound }

// CandidatePaths lists, in order, where a debug vmlinux for the release may
// be: the debuginfo dir, then RHEL/Fedora, Debian/Ubuntu, SUSE layouts, the
// build-id link tree, and ktriage's own cache.
func CandidatePaths(o FindOptions) []string {
	if o.Vmlinux != "" {
		return []string{o.Vmlinux}
	}
	root := o.Root
	if root == "" {
		root = "/"
	}
	r := o.Release
	var paths []string
	add := func(p ...string) { paths = append(paths, filepath.Join(p...)) }
	if o.DebuginfoDir != "" {
		d := o.DebuginfoDir
		if r != "" {
			add(d, "vmlinux-"+r)
			add(d, "vmlinux-"+r+".debug")
			add(d, r, "vmlinux")
			add(d, "lib", "modules", r, "vmlinux")
			add(d, "boot", "vmlinux-"+r)
			add(d, "usr", "lib", "debug", "lib", "modules", r, "vmlinux")
			add(d, "usr", "lib", "debug", "boot", "vmlinux-"+r)
		}
		if o.BuildID != "" && len(o.BuildID) > 2 {
			add(d, ".build-id", o.BuildID[:2], o.BuildID[2:]+".debug")
		}
		add(d, "vmlinux")
	}
	if r != "" {
		add(root, "usr", "lib", "debug", "lib", "modules", r, "vmlinux")        // RHEL, Fedora, CentOS
		add(root, "usr", "lib", "debug", "boot", "vmlinux-"+r)                  // Debian, Ubuntu
		add(root, "usr", "lib", "debug", "boot", "vmlinux-"+r+".debug")         // SUSE
		add(root, "usr", "lib", "debug", "usr", "lib", "modules", r, "vmlinux") // Fedora with /usr/lib/modules
	}
	if o.BuildID != "" && len(o.BuildID) > 2 {
		add(root, "usr", "lib", "debug", ".build-id", o.BuildID[:2], o.BuildID[2:]+".debug")
	}
	if r != "" {
		cache := o.CacheDir
		if cache == "" {
			if d := os.Getenv("KTRIAGE_CACHE"); d != "" {
				cache = d
			} else if d, err := os.UserCacheDir(); err == nil {
				cache = filepath.Join(d, "ktriage")
			}
		}
		if cache != "" {
			add(cache, "vmlinux-"+r)
		}
		add(root, "lib", "modules", r, "build", "vmlinux") // a kernel built locally
	}
	return paths
}

// FindVmlinux returns the first existing candidate path. It does not check
// that the file matches the dump: call CheckVmlinux for that.
func FindVmlinux(o FindOptions) (string, error) {
	paths := CandidatePaths(o)
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	if o.Vmlinux != "" {
		return "", fmt.Errorf("--vmlinux %s: %w", o.Vmlinux, ErrNotFound)
	}
	return "", &NoVmlinuxError{Release: o.Release, Tried: paths}
}

// DumpIdentity is what a dump says about the kernel that wrote it.
type DumpIdentity struct {
	BuildID string // VMCOREINFO BUILD-ID (hex), "" if absent
	Banner  string // linux_banner read from the dump's memory, "" if unknown
}

// MismatchError refuses a vmlinux that was not built for the dump.
type MismatchError struct {
	Vmlinux   string
	VmlinuxID string // build-id, or banner when compared by banner
	DumpID    string
	ByBanner  bool
}

func (e *MismatchError) Error() string {
	if e.ByBanner {
		return fmt.Sprintf("vmlinux %s has banner %q, dump was made by %q", e.Vmlinux, e.VmlinuxID, e.DumpID)
	}
	id := e.VmlinuxID
	if id == "" {
		id = "no build-id"
	} else {
		id = "build-id " + id
	}
	return fmt.Sprintf("vmlinux %s has %s, dump was made by build-id %s", e.Vmlinux, id, e.DumpID)
}

// ErrCannotVerify means neither a build-id nor a banner was available to
// compare; the caller decides whether to trust the vmlinux.
var ErrCannotVerify = errors.New("cannot verify vmlinux against the dump: no build-id or banner to compare")

func checkELF(f *elf.File, path string, dump DumpIdentity) error {
	if dump.BuildID != "" {
		id, _ := ELFBuildID(f)
		if !strings.EqualFold(id, dump.BuildID) {
			return &MismatchError{Vmlinux: path, VmlinuxID: id, DumpID: dump.BuildID}
		}
		return nil
	}
	if dump.Banner != "" {
		b, err := ELFBanner(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if strings.TrimSpace(b) != strings.TrimSpace(dump.Banner) {
			return &MismatchError{Vmlinux: path, VmlinuxID: strings.TrimSpace(b), DumpID: strings.TrimSpace(dump.Banner), ByBanner: true}
		}
		return nil
	}
	return ErrCannotVerify
}

// ELFBanner reads the linux_banner string out of a vmlinux's data.
func ELFBanner(f *elf.File) (string, error) {
	syms, err := f.Symbols()
	if err != nil {
		return "", fmt.Errorf("reading symbols for linux_banner: %w", err)
	}
	for _, s := range syms {
		if s.Name != "linux_banner" || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Type == elf.SHT_NOBITS || s.Value < sec.Addr {
			break
		}
		n := s.Size
		if n == 0 || n > 1024 {
			n = 1024
		}
		n = min(n, sec.Addr+sec.Size-s.Value)
		b := make([]byte, n)
		if _, err := sec.ReadAt(b, int64(s.Value-sec.Addr)); err != nil {
			return "", fmt.Errorf("reading linux_banner: %w", err)
		}
		return cString(b), nil
	}
	return "", fmt.Errorf("vmlinux has no linux_banner: %w", ErrNotFound)
}
