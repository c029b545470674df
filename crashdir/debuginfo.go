package crashdir

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/triage"
)

// Debuginfo finds the debug vmlinux for a kernel release. Crashes of a fleet
// run many kernels, so the choice is per dump; without one, triage reads
// names and types from the dump's own kallsyms and BTF.
type Debuginfo struct {
	// Dirs are searched first, as given with --debuginfo-dir: each may hold
	// vmlinux-<release>, <release>/vmlinux, or a distribution's tree
	// (usr/lib/debug/…) below it.
	Dirs []string
	// System adds the distributions' own places: Debian and Ubuntu's
	// /usr/lib/debug/boot/vmlinux-<release>, Fedora, RHEL and SUSE's
	// /usr/lib/debug/lib/modules/<release>/vmlinux.
	System bool
	// Fetch, when set, brings a dump's debug vmlinux by build-id where
	// none is found (its cache; debuginfod servers when the dump has no BTF
	// or WantDWARF): one client for the whole run, so every crash of one
	// kernel shares one download.
	Fetch     *debuginfo.Client
	WantDWARF bool

	mu    sync.Mutex
	found map[string]string
}

// systemDebugRoots are prefixed to the per-release paths below.
var systemDebugRoots = []string{"/"}

// releasePaths are where distributions install a release's debug vmlinux,
// relative to a root.
func releasePaths(release string) []string {
	return []string{
		"usr/lib/debug/boot/vmlinux-" + release,                 // Debian, Ubuntu
		"usr/lib/debug/lib/modules/" + release + "/vmlinux",     // RHEL, Fedora, SUSE
		"usr/lib/debug/usr/lib/modules/" + release + "/vmlinux", // merged /usr (Fedora, newer SUSE)
		"usr/lib/debug/boot/vmlinux-" + release + ".debug",      // SUSE debuginfo split files
	}
}

// Find returns the debug vmlinux for release, or "" when there is none.
func (d *Debuginfo) Find(release string) string {
	if d == nil || release == "" {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.found[release]; ok {
		return p
	}
	if d.found == nil {
		d.found = map[string]string{}
	}
	p := d.search(release)
	d.found[release] = p
	return p
}

func (d *Debuginfo) search(release string) string {
	var cands []string
	for _, dir := range d.Dirs {
		cands = append(cands,
			filepath.Join(dir, "vmlinux-"+release),
			filepath.Join(dir, release, "vmlinux"),
			filepath.Join(dir, "lib", "modules", release, "vmlinux"))
		for _, rel := range releasePaths(release) {
			cands = append(cands, filepath.Join(dir, rel))
		}
	}
	if d.System {
		for _, root := range systemDebugRoots {
			for _, rel := range releasePaths(release) {
				cands = append(cands, filepath.Join(root, rel))
			}
		}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Size() > 0 {
			return c
		}
	}
	return ""
}

// fetchOptions are the triage options that let a dump's debug vmlinux be
// fetched by build-id.
func (d *Debuginfo) fetchOptions(o triage.Options) triage.Options {
	if d != nil && d.Fetch != nil {
		o.Fetch, o.WantDWARF = d.Fetch, d.WantDWARF
	}
	return o
}
