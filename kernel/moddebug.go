package kernel

import (
	"context"
	"debug/elf"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/symbols"
)

// Module debuginfo: the file:line of a module's frames comes from its
// .ko's DWARF, found by the build-id the module keeps in memory — in the
// debuginfo cache, in --debuginfo-dir (any .ko or .ko.debug below it, or
// inside the .deb and .rpm debug packages there),
// in the distributions' /usr/lib/debug trees, or, when DWARF was asked
// for, from the debuginfod servers. A module whose build-id the dump lost
// may be matched by name in --debuginfo-dir, and is taken only when its
// functions lie at the distances the dump's own kallsyms put them.

// moduleDebug finds and keeps modules' line tables, one lookup per module.
type moduleDebug struct {
	fetch   *debuginfo.Client
	dirs    []string // --debuginfo-dir
	roots   []string // distribution debug trees
	fetchOK bool     // servers may be asked (WantDWARF)
	release string

	mu     sync.Mutex
	lines  map[string]*symbols.ModuleLines // by module name; nil: none found
	byID   map[string]string               // build-id → file, of the .ko files below dirs
	walked bool
}

func newModuleDebug(opts AttachOptions, release string) *moduleDebug {
	md := &moduleDebug{fetch: opts.Fetch, fetchOK: opts.WantDWARF, release: release,
		roots: []string{"/usr/lib/debug"}, lines: map[string]*symbols.ModuleLines{}}
	if opts.DebuginfoDir != "" {
		md.dirs = []string{opts.DebuginfoDir}
	}
	return md
}

// moduleSourceLine is the source line of off bytes into function fn of
// module mod, when its debuginfo is found.
func (k *Kernel) moduleSourceLine(mod, fn string, off uint64) (symbols.SourcePos, bool) {
	md := k.modDebug
	if md == nil || fn == "" {
		return symbols.SourcePos{}, false
	}
	var m *loadedModule
	for _, lm := range k.modules() {
		if lm.name == mod {
			m = lm
		}
	}
	if m == nil {
		return symbols.SourcePos{}, false
	}
	md.mu.Lock()
	ml, done := md.lines[mod]
	if !done {
		ml = md.find(m)
		md.lines[mod] = ml
	}
	md.mu.Unlock()
	if ml == nil {
		return symbols.SourcePos{}, false
	}
	return ml.SourceLine(fn, off)
}

// find looks for m's debuginfo; nil when there is none that fits.
func (md *moduleDebug) find(m *loadedModule) *symbols.ModuleLines {
	if m.buildID == "" {
		return md.findByName(m)
	}
	open := func(p string) *symbols.ModuleLines {
		ml, err := symbols.OpenModuleLines(p)
		if err != nil || !strings.EqualFold(ml.BuildID, m.buildID) {
			return nil
		}
		return ml
	}
	if md.fetch != nil {
		if r, ok := md.fetch.Cached(m.buildID, debuginfo.Debuginfo); ok {
			if ml := open(r.Path); ml != nil {
				return ml
			}
		}
	}
	if p := md.inDirs(m.buildID); p != "" {
		if ml := open(p); ml != nil {
			return ml
		}
	}
	if md.fetch != nil && len(md.dirs) > 0 { // debug packages (.deb, .rpm) there
		if r, err := md.fetch.FetchLocal(context.Background(), m.buildID, debuginfo.Debuginfo, md.dirs); err == nil {
			if ml := open(r.Path); ml != nil {
				return ml
			}
		}
	}
	for _, root := range md.roots {
		p := filepath.Join(root, ".build-id", m.buildID[:2], m.buildID[2:]+".debug")
		if ml := open(p); ml != nil {
			return ml
		}
		for _, p := range md.byName(filepath.Join(root, "lib", "modules", md.release), m.name) {
			if ml := open(p); ml != nil {
				return ml
			}
		}
	}
	if md.fetch != nil && md.fetchOK && md.fetch.CanFetch() {
		if r, err := md.fetch.Fetch(context.Background(), m.buildID, debuginfo.Debuginfo); err == nil {
			return open(r.Path)
		}
	}
	return nil
}

// inDirs returns the file below --debuginfo-dir with the build-id, reading
// the notes of every .ko and .ko.debug there once.
func (md *moduleDebug) inDirs(id string) string {
	if !md.walked {
		md.walked = true
		md.byID = map[string]string{}
		for _, d := range md.dirs {
			for _, p := range koFiles(d) {
				if got := fileBuildID(p); got != "" {
					md.byID[got] = p
				}
			}
		}
	}
	return md.byID[strings.ToLower(id)]
}

// maxKoFiles bounds the walk of a debug tree (Debian's has ~4000 modules).
const maxKoFiles = 20000

func koFiles(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || len(out) >= maxKoFiles {
			return filepath.SkipDir
		}
		if n := e.Name(); e.Type().IsRegular() && (strings.HasSuffix(n, ".ko") || strings.HasSuffix(n, ".ko.debug")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func fileBuildID(p string) string {
	f, err := elf.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	id, _ := symbols.ELFBuildID(f)
	return strings.ToLower(id)
}

// byName lists the files below dir named after the module (the kernel
// turns '-' into '_' in module names, so both spellings are tried).
func (md *moduleDebug) byName(dir, name string) []string {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	want := map[string]bool{}
	for _, n := range []string{name, strings.ReplaceAll(name, "_", "-")} {
		want[n+".ko"], want[n+".ko.debug"] = true, true
	}
	var out []string
	for _, p := range koFiles(dir) {
		if want[filepath.Base(p)] {
			out = append(out, p)
		}
	}
	return out
}

// findByName is the lookup for a module whose build-id the dump does not
// hold: a file of that name in --debuginfo-dir whose functions sit at the
// same distances from each other as the dump's kallsyms say.
func (md *moduleDebug) findByName(m *loadedModule) *symbols.ModuleLines {
	for _, d := range md.dirs {
		for _, p := range md.byName(d, m.name) {
			ml, err := symbols.OpenModuleLines(p)
			if err == nil && sameLayout(ml.Funcs(), m.syms) {
				return ml
			}
		}
	}
	return nil
}

// sameLayout: within each section of the file, every function the dump's
// module kallsyms also name is at the same distance from the section's
// first such function as in the dump, and at least two are compared.
func sameLayout(funcs map[string]symbols.FuncLoc, syms []modSym) bool {
	type base struct{ dump, file uint64 }
	first := map[int]base{}
	compared := 0
	for _, s := range syms {
		loc, ok := funcs[s.name]
		if !ok {
			continue
		}
		b, seen := first[loc.Section]
		if !seen {
			first[loc.Section] = base{s.addr, loc.Addr}
			continue
		}
		if s.addr-b.dump != loc.Addr-b.file {
			return false
		}
		compared++
	}
	return compared >= 2
}
