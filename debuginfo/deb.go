package debuginfo

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
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

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

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
var packageExts = []string{".deb", ".ddeb"}

func (c *Client) fromPackages(ctx context.Context, id, dir string, pkgDirs []string) (Result, error) {
	var debs []string
	for _, d := range pkgDirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return Result{}, fmt.Errorf("package folder: %w", err)
		}
		for _, e := range ents {
			for _, ext := range packageExts {
				if strings.HasSuffix(e.Name(), ext) && e.Type().IsRegular() {
					debs = append(debs, filepath.Join(d, e.Name()))
				}
			}
		}
	}
	sort.Strings(debs)
	var failures []string
	for _, deb := range debs {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		if idx, ok := c.packageIndex(deb); ok {
			if _, has := idx.IDs[id]; !has {
				continue
			}
		}
		r, err := c.scanDeb(ctx, deb, id, dir)
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
	return Result{}, fmt.Errorf("%w in the %d debug packages of %s", ErrNotFound, len(debs), strings.Join(pkgDirs, ", "))
}

// packageRecord is what a package read to its end holds.
type packageRecord struct {
	Path  string            `json:"path"`
	Size  int64             `json:"size"`
	MTime int64             `json:"mtime_ns"`
	IDs   map[string]string `json:"build_ids"` // build-id → entry name
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

func (c *Client) savePackageIndex(deb string, fi os.FileInfo, ids map[string]string) {
	b, err := json.Marshal(packageRecord{Path: deb, Size: fi.Size(), MTime: fi.ModTime().UnixNano(), IDs: ids})
	if err != nil {
		return
	}
	p := c.packageIndexPath(deb)
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		_ = writeAtomic(p, b) // only a shortcut for later runs
	}
}

// scanDeb reads deb's data member in order and stores the ELF entry whose
// build-id is id. ErrNotFound when the package does not hold it.
func (c *Client) scanDeb(ctx context.Context, deb, id, dir string) (Result, error) {
	start := time.Now()
	f, err := os.Open(deb)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	data, name, err := debData(f)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", deb, err)
	}
	defer data.Close()
	seen := map[string]string{}
	tr := tar.NewReader(data)
	for {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: %s: %w", deb, name, err)
		}
		if h.Typeflag != tar.TypeReg || h.Size < 64 {
			continue
		}
		head, got, err := entryBuildID(tr, h.Size)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %s: %s: %w", deb, name, h.Name, err)
		}
		if got == "" {
			continue
		}
		seen[got] = h.Name
		if got != id {
			continue
		}
		origin := deb + " (" + strings.TrimPrefix(h.Name, ".") + ")"
		if c.Progress != nil {
			c.Progress(Progress{BuildID: id, Kind: Debuginfo, From: deb, Total: h.Size, Elapsed: time.Since(start)})
		}
		r, err := c.store(dir, id, Debuginfo, io.MultiReader(bytes.NewReader(head), tr), h.Size, origin)
		if c.Progress != nil {
			c.Progress(Progress{BuildID: id, Kind: Debuginfo, From: deb, Done: r.Size, Total: h.Size, Final: true, Elapsed: time.Since(start)})
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: %s: %w", deb, h.Name, err)
		}
		return r, nil
	}
	c.savePackageIndex(deb, fi, seen)
	return Result{}, ErrNotFound
}

// debData finds the data.tar member of a .deb and returns it decompressed.
func debData(f *os.File) (io.ReadCloser, string, error) {
	br := bufio.NewReader(f)
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
		switch filepath.Ext(name) {
		case ".xz":
			r, err := xz.NewReader(body)
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", name, err)
			}
			return io.NopCloser(r), name, nil
		case ".zst":
			r, err := zstd.NewReader(body, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", name, err)
			}
			return r.IOReadCloser(), name, nil
		case ".gz":
			r, err := gzip.NewReader(body)
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", name, err)
			}
			return r, name, nil
		case ".tar":
			return io.NopCloser(body), name, nil
		default:
			return nil, "", fmt.Errorf("%s: compression not supported (xz, zst, gz)", name)
		}
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
