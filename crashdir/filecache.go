package crashdir

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/ktriage/ktriage/crashdir/store"
)

// fileCache is what the store remembers of the files an earlier batch saw.
// A file whose size, modification time and inode are unchanged is not read
// again: discovery takes its kind, identification its dump's key, from
// here. A file moved or renamed (same inode, size and time under another
// path) is recognised too. What this batch learns is written back at the end.
type fileCache struct {
	mu      sync.Mutex
	byPath  map[string]store.File
	byStat  map[statKey]store.File
	seen    map[string]bool
	changed map[string]store.File
}

type statKey struct {
	ino     uint64
	size    int64
	mtimeNs int64
}

func newFileCache(files []store.File) *fileCache {
	c := &fileCache{byPath: map[string]store.File{}, byStat: map[statKey]store.File{},
		seen: map[string]bool{}, changed: map[string]store.File{}}
	for _, f := range files {
		c.byPath[f.Path] = f
		if !f.Vanished || f.Key != "" {
			c.byStat[storedStat(f)] = f
		}
	}
	return c
}

func fileStat(st os.FileInfo) statKey {
	k := statKey{size: st.Size(), mtimeNs: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		k.ino = uint64(sys.Ino)
	}
	return k
}

func storedStat(f store.File) statKey { return statKey{f.Inode, f.Size, f.MtimeNs} }

// lookup returns what is known of path if it has not changed since.
func (c *fileCache) lookup(path string, st os.FileInfo) (store.File, bool) {
	if c == nil {
		return store.File{}, false
	}
	k := fileStat(st)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[path] = true
	if f, ok := c.changed[path]; ok && storedStat(f) == k {
		return f, true
	}
	if f, ok := c.byPath[path]; ok && storedStat(f) == k {
		if f.Vanished {
			c.changed[path] = f // back again: recorded as present
		}
		return f, true
	}
	if f, ok := c.byStat[k]; ok && k.ino != 0 {
		f.Path, f.Vanished = path, false
		c.changed[path] = f // renamed or moved: the same file under a new name
		return f, true
	}
	return store.File{}, false
}

// remember records what path is now.
func (c *fileCache) remember(path string, st os.FileInfo, kind fileKind, key string) {
	if c == nil {
		return
	}
	k := fileStat(st)
	f := store.File{Path: path, Key: key, Size: k.size, MtimeNs: k.mtimeNs, Inode: k.ino, Kind: int(kind)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[path] = true
	if old, ok := c.byPath[path]; ok && old == f {
		return
	}
	c.changed[path] = f
}

// setKey gives a file (already classified) its dump's key.
func (c *fileCache) setKey(path string, st os.FileInfo, key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	f, ok := c.changed[path]
	if !ok {
		f, ok = c.byPath[path]
	}
	c.mu.Unlock()
	kind := kindDump
	if ok {
		kind = fileKind(f.Kind)
	}
	c.remember(path, st, kind, key)
}

// key returns the dump key every one of files carries, unchanged since it
// was recorded; "" when any was not recorded or has changed.
func (c *fileCache) key(files []string, sts []os.FileInfo) string {
	if c == nil {
		return ""
	}
	key := ""
	for i, p := range files {
		f, ok := c.lookup(p, sts[i])
		if !ok || f.Key == "" || key != "" && f.Key != key {
			return ""
		}
		key = f.Key
	}
	return key
}

// updates are the files to write back, and vanished the paths below roots
// the store knew and this batch did not see.
func (c *fileCache) updates(roots []string) (changed []store.File, vanished []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.changed {
		changed = append(changed, f)
	}
	var prefixes []string
	for _, r := range roots {
		if a, err := filepath.Abs(r); err == nil {
			prefixes = append(prefixes, a)
		}
	}
	for p, f := range c.byPath {
		if f.Vanished || c.seen[p] {
			continue
		}
		for _, root := range prefixes {
			if p == root || strings.HasPrefix(p, root+string(filepath.Separator)) {
				vanished = append(vanished, p)
				break
			}
		}
	}
	return changed, vanished
}
