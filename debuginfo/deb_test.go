package debuginfo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/ktriage/ktriage/internal/corpus"
)

type debEntry struct {
	name, link string
	body       []byte
}

// makeDeb writes a .deb (ar: debian-binary, control.tar.gz, data.tar.<comp>)
// holding entries, the way dpkg-deb lays one out.
func makeDeb(t *testing.T, path, comp string, entries []debEntry) {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}
		if e.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.link == "" {
			tw.Write(e.body)
		}
	}
	tw.Close()
	var data bytes.Buffer
	switch comp {
	case "xz":
		w, _ := xz.NewWriter(&data)
		w.Write(tarBuf.Bytes())
		w.Close()
	case "zst":
		w, _ := zstd.NewWriter(&data)
		w.Write(tarBuf.Bytes())
		w.Close()
	case "gz":
		w := gzip.NewWriter(&data)
		w.Write(tarBuf.Bytes())
		w.Close()
	}
	var ctl bytes.Buffer
	gw := gzip.NewWriter(&ctl)
	ctw := tar.NewWriter(gw)
	ctw.WriteHeader(&tar.Header{Name: "./control", Size: 9, Mode: 0o644})
	ctw.Write([]byte("Package:\n"))
	ctw.Close()
	gw.Close()

	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	member := func(name string, b []byte) {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 1700000000, 0, 0, "100644", len(b))
		ar.Write(b)
		if len(b)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.gz", ctl.Bytes())
	member("data.tar."+comp, data.Bytes())
	if err := os.WriteFile(path, ar.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeRelELF is makeELF as a relocatable object (a module's .ko): no
// program headers, the build-id found only through section headers.
func makeRelELF(t *testing.T, id string, pad int) []byte {
	b := makeELF(t, id, pad)
	binary.LittleEndian.PutUint16(b[16:], uint16(elf.ET_REL))
	binary.LittleEndian.PutUint16(b[56:], 0)
	return b
}

func TestFindInDebPackages(t *testing.T) {
	pkgs := t.TempDir()
	vmlinux := makeELF(t, wantID, 2<<20)
	module := makeRelELF(t, otherID, 50<<10)
	makeDeb(t, filepath.Join(pkgs, "linux-image-dbg_1_amd64.deb"), "xz", []debEntry{
		{name: "./usr/share/doc/linux/changelog", body: []byte("nothing to see\n")},
		{name: "./usr/lib/debug/.build-id/36/8582.debug", link: "../../boot/x"},
		{name: "./usr/lib/debug/boot/System.map-r", body: bytes.Repeat([]byte("ffffffff81000000 T _text\n"), 100)},
		{name: "./usr/lib/debug/boot/vmlinux-r", body: vmlinux},
	})
	makeDeb(t, filepath.Join(pkgs, "modules-dbg_1_amd64.deb"), "zst", []debEntry{
		{name: "./usr/lib/debug/lib/modules/r/kernel/fs/foo.ko", body: module},
	})
	c := &Client{PackageDirs: []string{pkgs}, CacheDir: t.TempDir()}
	for _, tc := range []struct {
		id     string
		body   []byte
		member string
	}{{wantID, vmlinux, "/usr/lib/debug/boot/vmlinux-r"}, {otherID, module, "/usr/lib/debug/lib/modules/r/kernel/fs/foo.ko"}} {
		r, err := c.Fetch(context.Background(), tc.id, Debuginfo)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(r.Path); !bytes.Equal(got, tc.body) {
			t.Errorf("%s: the file taken from the package differs from the one put in", tc.member)
		}
		if !strings.Contains(r.Origin, ".deb ("+tc.member+")") {
			t.Errorf("origin %q does not name the package member %s", r.Origin, tc.member)
		}
	}
}

// A package read to its end without the build-id is remembered and not
// read again while its size and mtime stay the same.
func TestDebPackageIndexSkipsRereading(t *testing.T) {
	pkgs := t.TempDir()
	deb := filepath.Join(pkgs, "other-dbg_1_amd64.deb")
	makeDeb(t, deb, "gz", []debEntry{{name: "./usr/lib/debug/boot/vmlinux-q", body: makeELF(t, otherID, 1000)}})
	c := &Client{PackageDirs: []string{pkgs}, CacheDir: t.TempDir(), MissTTL: -1}
	if _, err := c.Fetch(context.Background(), wantID, Debuginfo); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want not found", err)
	}
	fi, _ := os.Stat(deb)
	// Same size and mtime, contents unreadable: the index answers.
	os.WriteFile(deb, bytes.Repeat([]byte{'x'}, int(fi.Size())), 0o644)
	os.Chtimes(deb, fi.ModTime(), fi.ModTime())
	if _, err := c.Fetch(context.Background(), wantID, Debuginfo); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second lookup read the package again: %v", err)
	}
	// A changed package is read again (and its damage named).
	os.Chtimes(deb, fi.ModTime().Add(time.Second), fi.ModTime().Add(time.Second))
	_, err := c.Fetch(context.Background(), wantID, Debuginfo)
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), deb) {
		t.Fatalf("changed package: %v, want an error naming %s", err, deb)
	}
}

// A package cut short inside the wanted file leaves nothing in the cache.
func TestTruncatedDebLeavesNothing(t *testing.T) {
	pkgs := t.TempDir()
	deb := filepath.Join(pkgs, "cut-dbg_1_amd64.deb")
	makeDeb(t, deb, "gz", []debEntry{{name: "./usr/lib/debug/boot/vmlinux-r", body: makeELF(t, wantID, 4<<20)}})
	b, _ := os.ReadFile(deb)
	os.WriteFile(deb, b[:len(b)*2/3], 0o644)
	c := &Client{PackageDirs: []string{pkgs}, CacheDir: t.TempDir()}
	_, err := c.Fetch(context.Background(), wantID, Debuginfo)
	if err == nil || !strings.Contains(err.Error(), deb) {
		t.Fatalf("got %v, want an error naming %s", err, deb)
	}
	t.Log(err)
	if got := cacheLeftovers(t, c); len(got) != 0 {
		t.Errorf("cache holds %v after a cut-short package", got)
	}
}

// The corpus kernel's real -dbg package (283 MB, kept by scripts/fetch-debug-vmlinux.sh):
// its vmlinux is found by build-id and comes out whole.
func TestFindInRealDebianDebugPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 600 MB out of an xz stream")
	}
	dir := os.Getenv("KTRIAGE_DEBUG_DEBS")
	if dir == "" {
		dir = filepath.Join(corpus.CacheDir(), "debs")
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "linux-image-"+corpus.Release+"-dbg_*.deb"))
	if len(debs) == 0 {
		t.Skipf("no linux-image-%s-dbg .deb in %s (scripts/fetch-debug-vmlinux.sh keeps it)", corpus.Release, dir)
	}
	c := &Client{PackageDirs: []string{dir}, CacheDir: t.TempDir()}
	start := time.Now()
	r, err := c.Fetch(context.Background(), corpus.BuildID, Debuginfo)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes from %s in %v", r.Path, r.Size, r.Origin, time.Since(start).Round(time.Millisecond))
	if !strings.HasSuffix(r.Origin, "/usr/lib/debug/boot/vmlinux-"+corpus.Release+")") {
		t.Errorf("origin %q", r.Origin)
	}
}
