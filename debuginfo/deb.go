package debuginfo

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ktriage/ktriage/symbols"
)

// Distribution debug packages are read where they lie: a .deb is an ar
// archive (deb(5)) whose data.tar.{xz,zst,gz} member is decompressed as a
// stream and its tar entries read in order; an ELF entry's build-id is
// read from the first bytes of the entry (its program headers point at the
// notes) or, for a relocatable module, from the whole entry held in
// memory. Only the entry asked for is written, into the cache. A package
// read to its end is remembered (path, size, mtime → the build-ids in it)
// so it is not read again for a build-id it does not hold.

// maxHeadBytes bounds the prefix of an entry read to find its build-id
// through program headers (a vmlinux's notes sit after its text, ~20 MB in).
const maxHeadBytes = 96 << 20

// maxWholeELF bounds a relocatable ELF (a module's debug .ko) read whole to
// find its notes through section headers at its end.
const maxWholeELF = 128 << 20

// packageExts are the debug package files looked at in a folder.
var packageExts = []string{".deb", ".ddeb", ".rpm"}

// listPackages returns the debug packages in dirs, sorted.
func listPackages(dirs []string) ([]string, error) {
	var pkgs []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return nil, fmt.Errorf("package folder: %w", err)
		}
		for _, e := range ents {
			for _, ext := range packageExts {
				if strings.HasSuffix(e.Name(), ext) && e.Type().IsRegular() {
					pkgs = append(pkgs, filepath.Join(d, e.Name()))
				}
			}
		}
	}
	sort.Strings(pkgs)
	return pkgs, nil
}

// fromPackages looks for build-id id in the debug packages of pkgDirs.
func (c *Client) fromPackages(ctx context.Context, id string, pkgDirs []string) (Result, error) {
	return c.searchPackages(ctx, pkgDirs, func(rec packageRecord) (string, bool) {
		_, has := rec.IDs[id]
		return id, has
	}, func(got, _ string) bool { return got == id })
}

// searchPackages reads the packages of pkgDirs until one holds a file that
// match takes. known answers from a package's remembered contents: the
// build-id it would take, and whether it holds one.
func (c *Client) searchPackages(ctx context.Context, pkgDirs []string, known func(packageRecord) (string, bool),
	match func(id, name string) bool) (Result, error) {
	pkgs, err := listPackages(pkgDirs)
	if err != nil {
		return Result{}, err
	}
	var failures []string
	for _, pkg := range pkgs {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		if idx, ok := c.packageIndex(pkg); ok {
			id, has := known(idx)
			if has {
				if r, ok := c.Cached(id, Debuginfo); ok {
					return r, nil
				}
			} else if !idx.Partial {
				continue
			}
		}
		r, err := c.scanPackage(ctx, pkg, match)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ErrNotFound) {
			failures = append(failures, err.Error())
		}
	}
	if len(failures) > 0 {
		return Result{}, fmt.Errorf("not found in the debug packages of %s (%s)", strings.Join(pkgDirs, ", "), strings.Join(failures, "; "))
	}
	return Result{}, fmt.Errorf("%w in the %d debug packages of %s", ErrNotFound, len(pkgs), strings.Join(pkgDirs, ", "))
}

// vmlinuxPaths are where debug packages put a release's vmlinux: Debian
// and Ubuntu's linux-image-*-dbg, and Fedora/RHEL's kernel-debuginfo.
func vmlinuxPaths(release string) []string {
	return []string{"usr/lib/debug/boot/vmlinux-" + release, "usr/lib/debug/lib/modules/" + release + "/vmlinux"}
}

func isVmlinuxOf(name, release string) bool {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "."), "/")
	for _, p := range vmlinuxPaths(release) {
		if name == p {
			return true
		}
	}
	return false
}

// FetchLocalByRelease finds the debug vmlinux of a kernel release in the
// debug packages of pkgDirs (and PackageDirs) by its path there, for a
// dump that names no build-id (Linux before 5.9). The file is cached under
// its own build-id, which the result's Path names; whether it is the
// dump's build is for the caller to check (linux_banner).
func (c *Client) FetchLocalByRelease(ctx context.Context, release string, pkgDirs []string) (Result, error) {
	dirs := append(append([]string(nil), c.PackageDirs...), pkgDirs...)
	if release == "" || strings.ContainsAny(release, "/\x00") {
		return Result{}, fmt.Errorf("kernel release %q: %w", release, ErrNotFound)
	}
	if len(dirs) == 0 {
		return Result{}, fmt.Errorf("vmlinux of %s: %w (no package folder)", release, ErrNotFound)
	}
	if c.Offline {
		return Result{}, fmt.Errorf("vmlinux of %s: %w", release, ErrOffline)
	}
	return c.shared(ctx, release, Debuginfo, "release", func() (Result, error) {
		return c.searchPackages(ctx, dirs, func(rec packageRecord) (string, bool) {
			for id, name := range rec.IDs {
				if isVmlinuxOf(name, release) {
					return id, true
				}
			}
			return "", false
		}, func(_, name string) bool { return isVmlinuxOf(name, release) })
	})
}

// packageRecord is what a package read to its end holds.
type packageRecord struct {
	Path  string            `json:"path"`
	Size  int64             `json:"size"`
	MTime int64             `json:"mtime_ns"`
	IDs   map[string]string `json:"build_ids"` // build-id → entry name
	// Partial: the package was read only up to the file taken from it,
	// so IDs may lack build-ids further on.
	Partial bool `json:"partial,omitempty"`
}

func (c *Client) packageIndexPath(deb string) string {
	abs, err := filepath.Abs(deb)
	if err != nil {
		abs = deb
	}
	key := strings.NewReplacer("/", "_", "\\", "_").Replace(strings.TrimPrefix(abs, "/"))
	return filepath.Join(c.cacheDir(), "packages", key+".json")
}

// packageIndex returns the remembered contents of deb, if it was read to
// its end before and has not changed since.
func (c *Client) packageIndex(deb string) (packageRecord, bool) {
	var rec packageRecord
	fi, err := os.Stat(deb)
	if err != nil {
		return rec, false
	}
	b, err := os.ReadFile(c.packageIndexPath(deb))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		return rec, false
	}
	return rec, rec.Size == fi.Size() && rec.MTime == fi.ModTime().UnixNano() && rec.IDs != nil
}

func (c *Client) savePackageIndex(deb string, fi os.FileInfo, ids map[string]string, partial bool) {
	if partial {
		if old, ok := c.packageIndex(deb); ok {
			if !old.Partial {
				return // a whole record already says more
			}
			for id, name := range old.IDs { // what earlier partial reads saw
				if _, seen := ids[id]; !seen {
					ids[id] = name
				}
			}
		}
	}
	b, err := json.Marshal(packageRecord{Path: deb, Size: fi.Size(), MTime: fi.ModTime().UnixNano(), IDs: ids, Partial: partial})
	if err != nil {
		return
	}
	p := c.packageIndexPath(deb)
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		_ = writeAtomic(p, b) // only a shortcut for later runs
	}
}

// packageFiles walks a package's regular files in order: next names the
// next one and its size, Read reads its bytes.
type packageFiles interface {
	io.Reader
	next() (name string, size int64, err error)
}

type tarFiles struct{ r *tar.Reader }

func (t tarFiles) Read(p []byte) (int, error) { return t.r.Read(p) }

func (t tarFiles) next() (string, int64, error) {
	for {
		h, err := t.r.Next()
		if err != nil {
			return "", 0, err
		}
		if h.Typeflag == tar.TypeReg {
			return h.Name, h.Size, nil
		}
	}
}

// openPackage returns the files of a .deb (its data.tar member) or an
// .rpm (its cpio payload), and what is read, for messages.
func openPackage(f *os.File, size int64) (packageFiles, io.Closer, string, error) {
	br := bufio.NewReaderSize(f, 1<<16)
	if strings.HasSuffix(f.Name(), ".rpm") {
		r, closer, comp, err := rpmPayload(br, size)
		if err != nil {
			return nil, nil, "", err
		}
		return cpioFiles{r}, closer, "payload (cpio." + comp + ")", nil
	}
	data, name, err := debData(br)
	if err != nil {
		return nil, nil, "", err
	}
	return tarFiles{tar.NewReader(data)}, data, name, nil
}

// scanPackage reads pkg's files in order and stores the first ELF file
// that match takes (by its build-id and its name in the package) into
// the cache under its build-id. ErrNotFound when none is taken.
func (c *Client) scanPackage(ctx context.Context, pkg string, match func(id, name string) bool) (Result, error) {
	start := time.Now()
	f, err := os.Open(pkg)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	files, closer, what, err := openPackage(f, fi.Size())
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", pkg, err)
	}
	defer closer.Close()
	seen := map[string]string{}
	for {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		name, size, err := files.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: %s: %w", pkg, what, err)
		}
		if size < 64 {
			continue
		}
		head, got, err := entryBuildID(files, size)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %s: %s: %w", pkg, what, name, err)
		}
		if got == "" {
			continue
		}
		seen[got] = name
		if !match(got, name) {
			continue
		}
		dir := filepath.Join(c.cacheDir(), got)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Result{}, fmt.Errorf("debuginfo cache: %w", err)
		}
		origin := pkg + " (" + strings.TrimPrefix(name, ".") + ")"
		if c.Progress != nil {
			c.Progress(Progress{BuildID: got, Kind: Debuginfo, From: pkg, Total: size, Elapsed: time.Since(start)})
		}
		r, err := c.store(dir, got, Debuginfo, io.MultiReader(bytes.NewReader(head), files), size, origin)
		if c.Progress != nil {
			c.Progress(Progress{BuildID: got, Kind: Debuginfo, From: pkg, Done: r.Size, Total: size, Final: true, Elapsed: time.Since(start)})
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: %s: %w", pkg, name, err)
		}
		c.savePackageIndex(pkg, fi, seen, true)
		return r, nil
	}
	c.savePackageIndex(pkg, fi, seen, false)
	return Result{}, ErrNotFound
}

// debData finds the data.tar member of a .deb and returns it decompressed.
func debData(br *bufio.Reader) (io.ReadCloser, string, error) {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, "", errors.New("not a .deb (no ar archive header)")
	}
	for {
		var hdr [60]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF {
				return nil, "", errors.New("no data.tar member")
			}
			return nil, "", fmt.Errorf("ar member header: %w", err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, "", errors.New("damaged ar member header")
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, "", fmt.Errorf("ar member %q: bad size %q", name, strings.TrimSpace(string(hdr[48:58])))
		}
		if !strings.HasPrefix(name, "data.tar") {
			if _, err := br.Discard(int(size + size%2)); err != nil {
				return nil, "", fmt.Errorf("ar member %q: %w", name, err)
			}
			continue
		}
		body := io.LimitReader(br, size)
		kind, ok := map[string]string{".xz": "xz", ".zst": "zstd", ".gz": "gzip", ".tar": "none"}[filepath.Ext(name)]
		if !ok {
			return nil, "", fmt.Errorf("%s: compression not supported (xz, zst, gz)", name)
		}
		r, err := decompress(kind, body)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		return r, name, nil
	}
}

// entryBuildID reads the start of a tar entry of size bytes and returns
// what it read and the entry's build-id ("" for a non-ELF entry or one
// without a build-id). The caller reads the rest of the entry after head.
func entryBuildID(r io.Reader, size int64) (head []byte, id string, err error) {
	head = make([]byte, 64)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, "", err
	}
	if string(head[:4]) != elf.ELFMAG || head[elf.EI_CLASS] != byte(elf.ELFCLASS64) {
		return head, "", nil
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if head[elf.EI_DATA] == byte(elf.ELFDATA2MSB) {
		bo = binary.BigEndian
	}
	typ := elf.Type(bo.Uint16(head[16:]))
	phoff, phentsize, phnum := bo.Uint64(head[32:]), uint64(bo.Uint16(head[54:])), uint64(bo.Uint16(head[56:]))
	more := func(n uint64) error { // grow head to n bytes
		if n <= uint64(len(head)) {
			return nil
		}
		if n > uint64(size) {
			return fmt.Errorf("ELF header points past the entry's %d bytes", size)
		}
		buf := make([]byte, n-uint64(len(head)))
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		head = append(head, buf...)
		return nil
	}
	if typ != elf.ET_REL && phnum > 0 && phentsize >= 56 && phoff < maxHeadBytes {
		if err := more(phoff + phnum*phentsize); err != nil {
			return head, "", err
		}
		for i := range phnum {
			ph := head[phoff+i*phentsize:]
			if elf.ProgType(bo.Uint32(ph)) != elf.PT_NOTE {
				continue
			}
			off, filesz := bo.Uint64(ph[8:]), bo.Uint64(ph[32:])
			if off+filesz > maxHeadBytes || off+filesz < off {
				continue
			}
			if err := more(off + filesz); err != nil {
				return head, "", err
			}
			if id, ok := symbols.NoteBuildID(head[off:off+filesz], bo); ok {
				return head, id, nil
			}
		}
	}
	if size > maxWholeELF {
		return head, "", nil
	}
	if err := more(uint64(size)); err != nil {
		return head, "", err
	}
	ef, err := elf.NewFile(bytes.NewReader(head))
	if err != nil {
		return head, "", nil // not an ELF file after all
	}
	id, _ = symbols.ELFBuildID(ef)
	return head, id, nil
}
