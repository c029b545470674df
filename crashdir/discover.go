package crashdir

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ktriage/ktriage/internal/lazyre"
	"github.com/ktriage/ktriage/internal/unpack"
	"github.com/ktriage/ktriage/vmcore"
)

// Layout names the tool that wrote a crash directory.
type Layout string

const (
	LayoutRHEL   Layout = "rhel-kdump"   // kexec-tools: <ip>-<YYYY-MM-DD-HH:MM:SS>/vmcore
	LayoutDebian Layout = "debian-kdump" // kdump-tools: <YYYYMMDDHHMM>/dump.<stamp>
	LayoutSUSE   Layout = "suse-kdump"   // kdumptool: <YYYY-MM-DD-HH:MM>/vmcore + README.txt
	LayoutLoose  Layout = "loose"        // a dump or log found outside those layouts
	// LayoutArchive is a tar (or tar.gz, tar.zst …) of a crash folder; the
	// commands unpack it (internal/unpack) and read the crash inside.
	LayoutArchive Layout = "archive"
)

// Crash is one crash found on disk: a dump (several files for a split
// set), its companion log, or a log alone.
type Crash struct {
	// Dir is the folder the crash was found in.
	Dir    string
	Layout Layout
	// Dumps are the dump files, sorted; several for a split set. Empty when
	// only a log was left (a capture that failed, or a loose log).
	Dumps []string
	// Log is the companion kernel log (vmcore-dmesg.txt, dmesg.<stamp>,
	// dmesg.txt) or, without Dumps, the log to analyze.
	Log string
	// Host and Time come from the directory name or SUSE's README.txt;
	// empty or zero when the layout does not say. The analysis refines them.
	Host string
	Time time.Time
	// Release is a hint of the crashed kernel's release (README.txt or the
	// companion log), used to choose debuginfo before the dump is read.
	Release string
	// Incomplete is set when the capture did not finish (vmcore-incomplete,
	// dump-incomplete).
	Incomplete bool
	// Flattened is set for makedumpfile -F streams (vmcore.flat).
	Flattened bool
	// NotADump names dump-like files (by name) whose first bytes are no
	// dump signature; the crash fails with that reason unless a log remains.
	NotADump []string
	// Empty is set for a crash folder (named as kdump names them) with no
	// file in it: a capture that failed before writing anything.
	Empty bool
}

// Name is how reports refer to the crash: its dump (or log) path.
func (c *Crash) Name() string {
	switch {
	case len(c.Dumps) > 0:
		return c.Dumps[0]
	case len(c.NotADump) > 0:
		return c.NotADump[0]
	case c.Log == "" && c.Empty:
		return c.Dir
	}
	return c.Log
}

// Files are every file the crash's identity covers, in a stable order.
func (c *Crash) Files() []string {
	if len(c.Dumps) > 0 {
		return c.Dumps
	}
	if len(c.NotADump) > 0 {
		return c.NotADump
	}
	if c.Log != "" {
		return []string{c.Log}
	}
	return nil
}

// Skipped is a file discovery looked at and left out, with the reason.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Discovery is what the roots hold.
type Discovery struct {
	Crashes []Crash
	Skipped []Skipped

	// cache, when set, answers for files unchanged since an earlier batch
	// (no read at all); lazyRelease leaves the release a log names to the
	// analysis, which reads the log anyway.
	cache       *fileCache
	lazyRelease bool
}

// classify is classify through the batch's file cache.
func (d *Discovery) classify(path string) (fileKind, error) {
	if d.cache == nil {
		return classify(path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return classify(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return kindOther, err
	}
	if f, ok := d.cache.lookup(abs, st); ok {
		return fileKind(f.Kind), nil
	}
	kind, err := classify(path)
	if err == nil {
		d.cache.remember(abs, st, kind, "")
	}
	return kind, err
}

// releaseFromLog is releaseFromLog unless the analysis will find it.
func (d *Discovery) releaseFromLog(path string) string {
	if d.lazyRelease {
		return ""
	}
	return releaseFromLog(path)
}

// fileKind is what a file's first bytes and name say it is.
type fileKind int

const (
	kindOther fileKind = iota
	kindDump
	kindFlatDump
	kindLog
	kindPacked  // a compressed dump (vmcore.zst): read through a cached unpacked copy
	kindArchive // a tar, or compressed tar, of a crash folder
)

var (
	// Names distributions give dump files; such a file that is no dump is a
	// broken capture, not something to ignore.
	dumpNameRe = lazyre.New(`^(vmcore(-incomplete)?(\.flat)?|dump\.\d+|dump-incomplete|` +
		`.*\.(vmcore|kdump|core|dump))(\.\d+)?$`)
	companionRe = lazyre.New(`^(vmcore-dmesg(-incomplete)?\.txt|dmesg\.\d+|dmesg\.txt|dmesg\.makedumpfile\.txt)$`)
	// Loose kernel logs: what syslog, journald exports and consoles are called.
	looseLogRe = lazyre.New(`^(.*\.log|messages|kern\.log|syslog|dmesg|console|journal|` +
		`vmcore-dmesg)([.-][\w.-]*)?$`)
	splitPartRe = lazyre.New(`^(.*)\.(\d+)$`)
	// What kdump services and apport leave beside the dumps: kernels and
	// maps they copied, their scripts, user-space crash reports. Not worth a
	// "skipped" line each.
	companionArtefactRe = lazyre.New(`^(README\.txt|kexec_cmd|rearrange\.sh|makedumpfile-R\.pl|` + reportPattern + `|` +
		`(vmlinu[xz]|System\.map|config|initrd|linux-image)(-.*)?|.*\.(crash|upload|uploaded|lock))$`)
)

// reportPattern names the reports `ktriage report-new` leaves beside a
// crash (ktriage-report.txt, vmcore.zst.ktriage-report.json …): ours, never
// a crash or a log.
const reportPattern = `(.*\.)?ktriage-report\.(txt|json|html)(\.partial)?`

var reportRe = lazyre.New(`^` + reportPattern + `$`)

// classify tells what one file is, by its first bytes (under one layer of
// compression: what a compressed file holds) and its name. Only regular
// files are opened (vmcore.SniffFile).
func classify(path string) (fileKind, error) {
	name := filepath.Base(path)
	bytesRead.Add(vmcore.SniffLen)
	s, err := vmcore.SniffFile(path)
	if err != nil {
		return kindOther, err
	}
	switch {
	case s.Kind == vmcore.InputFlattened:
		return kindFlatDump, nil
	case s.Kind.IsDump():
		return kindDump, nil
	case s.Kind == vmcore.InputTar:
		return kindArchive, nil
	case s.Kind == vmcore.InputPacked:
		inner, err := unpack.Peek(path, unpack.Options{})
		switch {
		case err != nil && dumpNameRe.MatchString(strings.TrimSuffix(name, filepath.Ext(name))):
			// A vmcore.zst that cannot be read: say why.
			return kindOther, fmt.Errorf("a %s-compressed dump that cannot be unpacked: %w", s.Container, err)
		case err != nil:
		case inner.Kind.IsDump(), inner.Kind == vmcore.InputPacked:
			return kindPacked, nil
		case inner.Kind == vmcore.InputTar:
			return kindArchive, nil
		}
	}
	if companionRe.MatchString(name) || looseLogRe.MatchString(name) {
		return kindLog, nil // plain, or compressed (the log reader decompresses)
	}
	return kindOther, nil
}

// Discover walks the roots (directories or single files) and returns every
// crash below them. Symbolic links to files are followed, links to
// directories are not (they could loop).
func Discover(roots []string) (*Discovery, error) {
	d := &Discovery{}
	return d, d.walk(roots)
}

func (d *Discovery) walk(roots []string) error {
	seen := map[string]bool{}
	for _, root := range roots {
		st, err := os.Stat(root)
		if err != nil {
			return fmt.Errorf("crash directory %s: %w", root, err)
		}
		before := len(d.Crashes)
		if !st.IsDir() {
			d.addLooseFile(root, seen)
			continue
		}
		err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				d.Skipped = append(d.Skipped, Skipped{Path: path, Reason: err.Error()})
				if e != nil && e.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !e.IsDir() {
				return nil
			}
			abs, _ := filepath.Abs(path)
			if seen[abs] || path != root && strings.HasPrefix(e.Name(), ".") {
				return fs.SkipDir // visited, or hidden (.snapshot, .git)
			}
			seen[abs] = true
			d.scanDir(path)
			return nil
		})
		if err != nil {
			return err
		}
		for i := before; i < len(d.Crashes); i++ {
			if c := &d.Crashes[i]; c.Host == "" {
				c.Host = hostFromPath(root, c)
			}
		}
	}
	sort.SliceStable(d.Crashes, func(i, j int) bool { return d.Crashes[i].Name() < d.Crashes[j].Name() })
	return nil
}

// addLooseFile handles a root that is a file: a dump, or else a log (the
// user named it, so it is analyzed whatever its name).
func (d *Discovery) addLooseFile(path string, seen map[string]bool) {
	abs, _ := filepath.Abs(path)
	if seen[abs] {
		return
	}
	seen[abs] = true
	kind, err := d.classify(path)
	switch {
	case err != nil:
		d.Skipped = append(d.Skipped, Skipped{Path: path, Reason: err.Error()})
	case kind == kindDump || kind == kindFlatDump:
		// One part of a split set is read with all its parts: alone it
		// holds only some of the memory.
		parts := []dirFile{{name: filepath.Base(path), path: path, kind: kind}}
		if m := splitPartRe.FindStringSubmatch(parts[0].name); m != nil && m[1] != "dump" {
			siblings, _ := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(m[1])+".*"))
			for _, sib := range siblings {
				sm := splitPartRe.FindStringSubmatch(filepath.Base(sib))
				sabs, _ := filepath.Abs(sib)
				if sm == nil || sm[1] != m[1] || seen[sabs] {
					continue
				}
				if k, err := d.classify(sib); err == nil && (k == kindDump || k == kindFlatDump) {
					seen[sabs] = true
					parts = append(parts, dirFile{name: filepath.Base(sib), path: sib, kind: k})
				}
			}
		}
		d.Crashes = append(d.Crashes, groupDumps(Crash{Dir: filepath.Dir(path), Layout: LayoutLoose}, parts)...)
	case kind == kindPacked:
		d.Crashes = append(d.Crashes, Crash{Dir: filepath.Dir(path), Layout: LayoutLoose, Dumps: []string{path}})
	case kind == kindArchive:
		d.Crashes = append(d.Crashes, Crash{Dir: filepath.Dir(path), Layout: LayoutArchive, Dumps: []string{path}})
	default:
		d.Crashes = append(d.Crashes, Crash{Dir: filepath.Dir(path), Layout: LayoutLoose, Log: path,
			Release: d.releaseFromLog(path)})
	}
}

// globEscape quotes the characters filepath.Glob would read as a pattern.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

// dirFile is one regular file of a directory being scanned.
type dirFile struct {
	name string
	path string
	kind fileKind
}

// scanDir finds the crashes whose files sit directly in dir.
func (d *Discovery) scanDir(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		d.Skipped = append(d.Skipped, Skipped{Path: dir, Reason: err.Error()})
		return
	}
	var files []dirFile
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			if err != nil {
				d.Skipped = append(d.Skipped, Skipped{Path: p, Reason: "dangling symbolic link"})
				continue
			}
			if st.IsDir() {
				continue // not followed: links to directories could loop
			}
			if !st.Mode().IsRegular() {
				// A link to a FIFO or device: opening it could block forever.
				d.Skipped = append(d.Skipped, Skipped{Path: p, Reason: "symbolic link to something not a regular file (" + st.Mode().Type().String() + ")"})
				continue
			}
		} else if !e.Type().IsRegular() {
			continue
		}
		if reportRe.MatchString(e.Name()) {
			continue // ours
		}
		if why := transientName(e.Name()); why != "" {
			d.Skipped = append(d.Skipped, Skipped{Path: p, Reason: why})
			continue
		}
		kind, err := d.classify(p)
		if err != nil {
			d.Skipped = append(d.Skipped, Skipped{Path: p, Reason: err.Error()})
			continue
		}
		files = append(files, dirFile{name: e.Name(), path: p, kind: kind})
	}
	if len(files) == 0 {
		// Empty but for the report `ktriage report-new` left on a failed capture.
		others := 0
		for _, e := range entries {
			if !reportRe.MatchString(e.Name()) {
				others++
			}
		}
		if others == 0 {
			if layout, host, when := layoutOf(dir, nil); layout != LayoutLoose {
				// kdump made the folder and the capture wrote nothing into it.
				d.Crashes = append(d.Crashes, Crash{Dir: dir, Layout: layout, Host: host, Time: when, Empty: true})
			}
		}
		return
	}
	layout, host, when := layoutOf(dir, files)

	var dumps, notDumps, companions, logs, archives []dirFile
	for _, f := range files {
		switch {
		case f.kind == kindDump || f.kind == kindFlatDump || f.kind == kindPacked:
			dumps = append(dumps, f)
		case f.kind == kindArchive:
			archives = append(archives, f)
		case dumpNameRe.MatchString(f.name) && !companionRe.MatchString(f.name):
			notDumps = append(notDumps, f)
		case companionRe.MatchString(f.name):
			companions = append(companions, f)
		case f.kind == kindLog:
			logs = append(logs, f)
		}
	}

	base := Crash{Dir: dir, Layout: layout, Host: host, Time: when}
	if layout == LayoutSUSE {
		readSUSEReadme(filepath.Join(dir, "README.txt"), &base)
	}
	crashes := groupDumps(base, dumps)
	if len(crashes) > 0 {
		for _, f := range notDumps {
			d.Skipped = append(d.Skipped, Skipped{Path: f.path,
				Reason: "named like a dump but has no dump signature (the folder's real dump is analyzed)"})
		}
	} else if len(notDumps) > 0 {
		// A file named like a dump that is none: the capture is broken.
		c := base
		for _, f := range notDumps {
			c.NotADump = append(c.NotADump, f.path)
		}
		c.Incomplete = hasIncompleteName(notDumps)
		crashes = append(crashes, c)
	}
	attachCompanions(&crashes, base, companions)
	for i := range crashes {
		if crashes[i].Release == "" && crashes[i].Log != "" {
			crashes[i].Release = d.releaseFromLog(crashes[i].Log)
		}
	}
	d.Crashes = append(d.Crashes, crashes...)
	for _, f := range archives {
		d.Crashes = append(d.Crashes, Crash{Dir: dir, Layout: LayoutArchive, Dumps: []string{f.path}})
	}

	// Loose logs count only in folders without dumps: beside a dump, a
	// console.log or messages file tells the same crash again.
	if len(dumps) == 0 && len(notDumps) == 0 {
		for _, f := range logs {
			d.Crashes = append(d.Crashes, Crash{Dir: dir, Layout: LayoutLoose, Log: f.path,
				Release: d.releaseFromLog(f.path)})
		}
	}
	for _, f := range files {
		if f.kind == kindOther && !dumpNameRe.MatchString(f.name) && !companionArtefactRe.MatchString(f.name) {
			d.Skipped = append(d.Skipped, Skipped{Path: f.path, Reason: "neither a crash dump nor a kernel log"})
		}
	}
}

// transientName says why a file's name marks it as a copy in progress, or
// "". Such files are not read: once the copy ends they are renamed.
func transientName(name string) string {
	switch {
	case strings.HasPrefix(name, ".") && len(name) > 1:
		return "hidden file (rsync copies into .NAME.XXXXXX and renames it when done): not read"
	case strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".partial") ||
		strings.HasSuffix(name, ".crdownload"):
		return "temporary file of a copy in progress: not read"
	}
	return ""
}

// genericDirs are folder names of archive trees that name no host.
var genericDirs = map[string]bool{"var": true, "crash": true, "crashes": true, "kdump": true, "dump": true,
	"dumps": true, "archive": true, "archives": true, "core": true, "cores": true, "vmcore": true, "vmcores": true,
	"log": true, "logs": true, "data": true, "spool": true, "collected": true, "tmp": true, "srv": true, "mnt": true}

// dateLikeRe: numbers and dates, and folder names that begin with a date
// (20261206-oops, 2026-12-06_web): time stamps of one crash, not hosts.
var dateLikeRe = lazyre.New(`^([\d:._-]+|(\d{8}|\d{4}-\d{2}-\d{2})([-_.T].*)?)$`)

// hostFromPath names the host of a crash from the folders between the root
// and the crash (archive/<host>/var/crash/<stamp>/, archive/<host>/vmcore.zst):
// the deepest folder that is neither a generic name nor a date or number
// (an IP address counts as a host). The dump's own nodename, when it can be
// read, wins over this.
func hostFromPath(root string, c *Crash) string {
	rel, err := filepath.Rel(root, c.Dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return ""
	}
	parts := strings.Split(rel, string(filepath.Separator))
	if c.Layout != LayoutLoose && c.Layout != LayoutArchive {
		parts = parts[:len(parts)-1] // the crash folder itself is a time stamp
	}
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if net.ParseIP(p) != nil {
			if ip := net.ParseIP(p); ip.IsLoopback() {
				continue
			}
			return p
		}
		if genericDirs[strings.ToLower(p)] || dateLikeRe.MatchString(p) {
			continue
		}
		return p
	}
	return ""
}

// hasIncompleteName tells the names kdump gives a capture it did not finish.
func hasIncompleteName(fs []dirFile) bool {
	for _, f := range fs {
		if strings.HasPrefix(f.name, "vmcore-incomplete") || strings.HasPrefix(f.name, "dump-incomplete") {
			return true
		}
	}
	return false
}

// groupDumps makes one crash per dump, joining split sets (name.1, name.2,
// … of one base name) into one.
func groupDumps(base Crash, dumps []dirFile) []Crash {
	sets := map[string][]dirFile{}
	var order []string
	for _, f := range dumps {
		key := f.name
		if m := splitPartRe.FindStringSubmatch(f.name); m != nil && m[1] != "dump" {
			key = m[1] + ".*"
		}
		if _, ok := sets[key]; !ok {
			order = append(order, key)
		}
		sets[key] = append(sets[key], f)
	}
	sort.Strings(order)
	var out []Crash
	for _, key := range order {
		parts := sets[key]
		sort.Slice(parts, func(i, j int) bool { return splitIndex(parts[i].name) < splitIndex(parts[j].name) })
		c := base
		c.Dumps = nil
		for _, p := range parts {
			c.Dumps = append(c.Dumps, p.path)
			c.Flattened = c.Flattened || p.kind == kindFlatDump
		}
		c.Incomplete = hasIncompleteName(parts)
		out = append(out, c)
	}
	return out
}

// splitIndex is the part number of a split file (vmcore.12 → 12), so that
// vmcore.10 sorts after vmcore.9.
func splitIndex(name string) int {
	m := splitPartRe.FindStringSubmatch(name)
	if m == nil {
		return 0
	}
	n := 0
	for _, c := range m[2] {
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			break
		}
	}
	return n
}

// attachCompanions gives each crash its companion log. With one crash in
// the folder the folder's log is its log; with several (loose dumps), a
// dmesg.<stamp> goes to the dump.<stamp> it names. Companion logs no crash
// claims are crashes of their own (the capture wrote the log, not the dump).
func attachCompanions(crashes *[]Crash, base Crash, companions []dirFile) {
	if len(companions) == 0 {
		return
	}
	sort.SliceStable(companions, func(i, j int) bool { return companionRank(companions[i].name) < companionRank(companions[j].name) })
	used := map[string]bool{}
	cs := *crashes
	if len(cs) == 1 {
		cs[0].Log = companions[0].path
		return
	}
	for i := range cs {
		for _, f := range companions {
			stamp := strings.TrimPrefix(f.name, "dmesg.")
			if stamp != f.name && len(cs[i].Dumps) > 0 && strings.HasPrefix(filepath.Base(cs[i].Dumps[0]), "dump."+stamp) {
				cs[i].Log = f.path
				used[f.path] = true
			}
		}
	}
	if len(cs) == 0 {
		c := base
		c.Log = companions[0].path
		cs = append(cs, c)
	}
	*crashes = cs
}

// companionRank prefers the log the capture kernel wrote from the dump's
// own printk buffer, then makedumpfile's, then the rest.
func companionRank(name string) int {
	switch {
	case name == "vmcore-dmesg.txt":
		return 0
	case strings.HasPrefix(name, "dmesg.") && name != "dmesg.txt" && name != "dmesg.makedumpfile.txt":
		return 1
	case name == "dmesg.txt", name == "dmesg.makedumpfile.txt":
		return 2
	}
	return 3
}

// SkipGroup is the files discovery left out for one reason.
type SkipGroup struct {
	Reason string   `json:"reason"`
	Paths  []string `json:"paths"`
}

// GroupSkipped groups skipped files by their reason (a reason that names
// its own file is compared without it), the largest group first: a tree
// with 170 tool outputs reads as one line, not 170.
func GroupSkipped(skipped []Skipped) []SkipGroup {
	index := map[string]int{}
	var groups []SkipGroup
	for _, s := range skipped {
		why := strings.ReplaceAll(s.Reason, s.Path, "the file")
		i, ok := index[why]
		if !ok {
			i = len(groups)
			index[why] = i
			groups = append(groups, SkipGroup{Reason: why})
		}
		groups[i].Paths = append(groups[i].Paths, s.Path)
	}
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].Paths) > len(groups[j].Paths) })
	return groups
}
