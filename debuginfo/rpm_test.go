package debuginfo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures are real rpmbuild output (testdata/dumps-el7/make-debug.sh):
// kernel-debuginfo-3.10.0-1160.el7.x86_64.rpm holding the debug file of
// the module loaded in a CentOS 7 fixture dump, at RHEL's path.
const (
	el7Release  = "3.10.0-1160.el7.x86_64"
	el7ModuleID = "2bbe0f66970c28903bfcb2cd8de94413a17410f3"
	el7Member   = "/usr/lib/debug/lib/modules/" + el7Release + "/extra/ktriage_crash.ko.debug"
)

func el7Dir(parts ...string) string {
	return filepath.Join(append([]string{"..", "testdata", "dumps-el7"}, parts...)...)
}

func el7ModuleDebug(t testing.TB) []byte {
	b, err := os.ReadFile(el7Dir("debug", "ktriage_crash.ko.debug"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkRPMHolds fetches the module's debug file out of the RPM in dir and
// compares it with the file that was put in.
func checkRPMHolds(t *testing.T, dir string, want []byte) {
	t.Helper()
	c := &Client{PackageDirs: []string{dir}, CacheDir: t.TempDir()}
	r, err := c.Fetch(context.Background(), el7ModuleID, Debuginfo)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(r.Path); !bytes.Equal(got, want) {
		t.Errorf("%s: the file taken from the RPM differs from the one put in", dir)
	}
	if !strings.HasSuffix(r.Origin, ".rpm ("+el7Member+")") {
		t.Errorf("origin %q does not name the RPM member %s", r.Origin, el7Member)
	}
	// A second client on the same cache finds it there.
	c2 := &Client{PackageDirs: []string{dir}, CacheDir: c.CacheDir}
	if r2, err := c2.Fetch(context.Background(), el7ModuleID, Debuginfo); err != nil || !r2.Cached {
		t.Errorf("second lookup: %+v %v, want it from the cache", r2, err)
	}
}

func TestFindInRPM(t *testing.T) {
	want := el7ModuleDebug(t)
	for _, comp := range []string{"xz", "zstd"} {
		t.Run(comp, func(t *testing.T) { checkRPMHolds(t, el7Dir("debug-rpm-"+comp), want) })
	}
}

// Every payload compressor rpmbuild offers, on an RPM made here.
func TestRPMPayloadCompressors(t *testing.T) {
	if _, err := exec.LookPath("rpmbuild"); err != nil {
		t.Skip("no rpmbuild (apt-get install rpm)")
	}
	want := el7ModuleDebug(t)
	src, _ := filepath.Abs(el7Dir("debug", "ktriage_crash.ko.debug"))
	for _, p := range []struct{ comp, payload string }{{"gzip", "w9.gzdio"}, {"bzip2", "w9.bzdio"},
		{"xz", "w6.xzdio"}, {"zstd", "w3.zstdio"}, {"lzma", "w6.lzdio"}, {"none", "w0.ufdio"}} {
		t.Run(p.comp, func(t *testing.T) {
			dir := t.TempDir()
			out, err := exec.Command("sh", "../scripts/make-debuginfo-rpm.sh", dir, el7Release, p.payload, src+"="+el7Member).CombinedOutput()
			if err != nil {
				t.Fatalf("make-debuginfo-rpm.sh: %v\n%s", err, out)
			}
			checkRPMHolds(t, dir, want)
		})
	}
}

// An RPM cut short inside the file asked for, or with a damaged header,
// gives an error naming it and leaves nothing in the cache.
func TestDamagedRPM(t *testing.T) {
	b, err := os.ReadFile(el7Dir("debug-rpm-xz", "kernel-debuginfo-"+el7Release+".rpm"))
	if err != nil {
		t.Fatal(err)
	}
	damaged := map[string][]byte{
		"cut":      b[:len(b)*2/3],
		"lead":     append([]byte("not an rpm"), b[10:]...),
		"header":   append(append(append([]byte(nil), b[:96+8]...), 0x7f, 0xff, 0xff, 0xff), b[96+12:]...), // 2^31 index entries
		"payload":  append(append([]byte(nil), b[:len(b)-40000]...), bytes.Repeat([]byte{0x55}, 40000)...),
		"headless": b[:96],
	}
	for name, data := range damaged {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pkg := filepath.Join(dir, "kernel-debuginfo-"+el7Release+".rpm")
			os.WriteFile(pkg, data, 0o644)
			c := &Client{PackageDirs: []string{dir}, CacheDir: t.TempDir()}
			_, err := c.Fetch(context.Background(), el7ModuleID, Debuginfo)
			if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), pkg) {
				t.Fatalf("got %v, want an error naming %s", err, pkg)
			}
			t.Log(err)
			ents, _ := os.ReadDir(filepath.Join(c.CacheDir, el7ModuleID))
			for _, e := range ents {
				t.Errorf("cache holds %s after a damaged package", e.Name())
			}
		})
	}
}

// A kernel before 5.9 names no build-id in its dump: its vmlinux is found
// by the release's path in the packages, cached under its own build-id,
// and found again without reading the package — also after a module that
// lies before it in the package was taken out (the package record the
// module's shorter read leaves is merged with the earlier one).
func TestFetchLocalByRelease(t *testing.T) {
	pkgs := t.TempDir()
	vmlinux := makeELF(t, wantID, 1<<20)
	module := makeRelELF(t, otherID, 10<<10)
	pkg := filepath.Join(pkgs, "linux-image-r-dbg_1_amd64.deb")
	makeDeb(t, pkg, "xz", []debEntry{
		{name: "./usr/lib/debug/boot/vmlinux-r-other", body: makeELF(t, "aa"+wantID[2:], 1000)},
		{name: "./usr/lib/debug/lib/modules/r/kernel/m.ko", body: module},
		{name: "./usr/lib/debug/boot/vmlinux-r", body: vmlinux},
	})
	ctx := context.Background()
	c := &Client{CacheDir: t.TempDir()}
	r, err := c.FetchLocalByRelease(ctx, "r", []string{pkgs})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(r.Path); !bytes.Equal(got, vmlinux) || filepath.Base(filepath.Dir(r.Path)) != wantID {
		t.Errorf("%s: got another file than vmlinux-r", r.Path)
	}
	if _, err := c.FetchLocal(ctx, otherID, Debuginfo, []string{pkgs}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FetchLocalByRelease(ctx, "q", []string{pkgs}); !errors.Is(err, ErrNotFound) {
		t.Errorf("release q: %v, want not found", err)
	}
	if _, err := c.FetchLocalByRelease(ctx, "../r", []string{pkgs}); !errors.Is(err, ErrNotFound) {
		t.Errorf("release ../r: %v, want not found", err)
	}
	// The package is now unreadable: the record and the cache answer.
	fi, _ := os.Stat(pkg)
	os.WriteFile(pkg, bytes.Repeat([]byte{'x'}, int(fi.Size())), 0o644)
	os.Chtimes(pkg, fi.ModTime(), fi.ModTime())
	if r2, err := c.FetchLocalByRelease(ctx, "r", []string{pkgs}); err != nil || r2.Path != r.Path {
		t.Errorf("second lookup by release: %+v %v", r2, err)
	}
	if _, err := c.FetchLocal(ctx, otherID, Debuginfo, []string{pkgs}); err != nil {
		t.Errorf("second lookup of the module: %v", err)
	}
}

// FuzzRPMPayload: any bytes give either an error or a cpio stream whose
// files read within their stated sizes; never a panic or a runaway
// allocation.
func FuzzRPMPayload(f *testing.F) {
	for _, comp := range []string{"xz", "zstd"} {
		if b, err := os.ReadFile(el7Dir("debug-rpm-"+comp, "kernel-debuginfo-"+el7Release+".rpm")); err == nil {
			f.Add(b[:min(len(b), 4096)])
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, closer, _, err := rpmPayload(bufio.NewReader(bytes.NewReader(data)), int64(len(data)))
		if (err == nil) != (r != nil) {
			t.Fatalf("reader %v with error %v", r != nil, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rpm: ") && !strings.HasPrefix(err.Error(), "signature rpm: ") {
				t.Fatalf("error %q does not say it is the rpm", err)
			}
			return
		}
		defer closer.Close()
		files := cpioFiles{r}
		var total int64
		for range 64 {
			_, size, err := files.next()
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, io.LimitReader(files, 1<<20))
			if n > size {
				t.Fatalf("read %d bytes of a %d-byte file", n, size)
			}
			if total += n; total > 4<<20 {
				return
			}
		}
	})
}
