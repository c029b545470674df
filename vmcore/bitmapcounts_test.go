package vmcore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// copyFixtures copies fixtures into a folder of the test's: the counts
// are keyed by inode and mtime, which the test then changes at will.
func copyFixtures(t *testing.T, names ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(fixtureDir, n))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// pageSums reads every pfn below the dump's end: a digest of each page
// read, or the error's sentinel.
func pageSums(t *testing.T, d *Dump) map[uint64]string {
	t.Helper()
	sums := map[uint64]string{}
	page := make([]byte, d.PageSize)
	for pfn := uint64(0); pfn < d.MaxPFN(); pfn++ {
		_, err := d.ReadPhys(page, pfn*uint64(d.PageSize))
		switch {
		case errors.Is(err, ErrExcluded), errors.Is(err, ErrNotPresent):
			// the common case: not worth a map entry
		case err != nil:
			sums[pfn] = err.Error()
		default:
			s := sha256.Sum256(page)
			sums[pfn] = string(s[:])
		}
	}
	return sums
}

func openCounted(t *testing.T, dir string, paths ...string) (*Dump, int64) {
	t.Helper()
	d, err := OpenWith(OpenOptions{BitmapCountsDir: dir}, paths...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, d.BytesRead()
}

// withKeptCounts copies fixture name, opens it without kept counts (ref,
// and what its open read) and once keeping them in a new folder, dir,
// whose one counts file is files[0].
func withKeptCounts(t *testing.T, name string) (paths []string, ref *Dump, refOpen int64, dir string, files []string) {
	t.Helper()
	paths = copyFixtures(t, name)
	ref, refOpen = openCounted(t, "", paths...)
	dir = t.TempDir()
	openCounted(t, dir, paths...)
	if files = countsFiles(t, dir); len(files) != 1 {
		t.Fatalf("counts files %v", files)
	}
	return paths, ref, refOpen, dir, files
}

func countsFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.counts"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBitmapCountsKept: a rerun takes the counts kept by the first run,
// reads less while opening, and serves every page as a run without them.
func TestBitmapCountsKept(t *testing.T) {
	for _, set := range [][]string{{"sysrq-kdump-lzo.vmcore"}, {"sysrq-flat-lzo.vmcore"}, {"sysrq-split-lzo.vmcore.1", "sysrq-split-lzo.vmcore.2"}} {
		t.Run(set[0], func(t *testing.T) {
			paths := copyFixtures(t, set...)
			ref, refOpen := openCounted(t, "", paths...)
			want, wantCounts := pageSums(t, ref), pagesOf(t, ref)

			dir := t.TempDir()
			first, firstOpen := openCounted(t, dir, paths...)
			if firstOpen != refOpen {
				t.Errorf("first run read %d bytes opening, %d without keeping counts", firstOpen, refOpen)
			}
			if n := len(countsFiles(t, dir)); n != len(paths) {
				t.Fatalf("%d counts files kept for %d dump files", n, len(paths))
			}
			_ = first
			again, againOpen := openCounted(t, dir, paths...)
			// The kept counts spare reading bitmap 2 (32 KiB here) to count it.
			if againOpen > refOpen-16<<10 {
				t.Errorf("rerun read %d bytes opening, the first %d: the counts were not used", againOpen, refOpen)
			}
			if got := pageSums(t, again); len(got) != len(want) {
				t.Errorf("rerun serves %d pages, want %d", len(got), len(want))
			} else {
				for pfn, s := range want {
					if got[pfn] != s {
						t.Fatalf("pfn %#x differs on the rerun: %q", pfn, got[pfn])
					}
				}
			}
			if c := pagesOf(t, again); c != wantCounts {
				t.Errorf("rerun counts %+v, want %+v", c, wantCounts)
			}
			if again.Incomplete != ref.Incomplete || strings.Join(again.Warnings, "\n") != strings.Join(ref.Warnings, "\n") {
				t.Errorf("rerun: incomplete %v %q, want %v %q", again.Incomplete, again.Warnings, ref.Incomplete, ref.Warnings)
			}
		})
	}
}

// TestBitmapCountsDamaged: a counts file that fails its checks is
// ignored and replaced; one that checks out but disagrees with a block
// that is read fails that read, naming the dump and the counts file,
// which is removed; a dump file changed since gets counts of its own.
// (A wrong count of a block never read is not seen here: see
// TestBitmapCountsWrongUnread and TestBitmapCountsRewrittenInPlace.)
func TestBitmapCountsDamaged(t *testing.T) {
	paths, ref, refOpen, dir, files := withKeptCounts(t, "sysrq-kdump-lzo.vmcore")
	want := pageSums(t, ref)
	good, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}

	for name, bad := range map[string][]byte{
		"empty":     {},
		"cut short": good[:len(good)-3],
		"bad sum":   append(append([]byte(nil), good[:len(good)-1]...), good[len(good)-1]^1),
		"longer":    append(append([]byte(nil), good...), 0),
	} {
		if err := os.WriteFile(files[0], bad, 0o600); err != nil {
			t.Fatal(err)
		}
		d, n := openCounted(t, dir, paths...)
		if n != refOpen {
			t.Errorf("%s: read %d bytes opening, want %d (counted afresh)", name, n, refOpen)
		}
		if got := pageSums(t, d); len(got) != len(want) {
			t.Errorf("%s: %d pages served, want %d", name, len(got), len(want))
		}
		if again, _ := os.ReadFile(files[0]); string(again) != string(good) {
			t.Errorf("%s: the counts file was not replaced", name)
		}
	}

	// Counts that check out but are wrong: move a page's count from one
	// block to the next.
	le := binary.LittleEndian
	head := len(countsMagic) + 8
	known := int(le.Uint32(good[len(countsMagic)+4:]))
	lie := append([]byte(nil), good[:len(good)-4]...)
	moved := -1
	for i := 0; i+1 < known; i++ {
		if c := le.Uint32(lie[head+4*i:]); c > 0 {
			le.PutUint32(lie[head+4*i:], c-1)
			le.PutUint32(lie[head+4*i+4:], le.Uint32(lie[head+4*i+4:])+1)
			moved = i
			break
		}
	}
	if moved < 0 {
		t.Fatal("no block with dumped pages")
	}
	lie = le.AppendUint32(lie, crc32.ChecksumIEEE(lie))
	if err := os.WriteFile(files[0], lie, 0o600); err != nil {
		t.Fatal(err)
	}
	// Open reads a block to place the last descriptor: the lie may show there.
	d, failed := OpenWith(OpenOptions{BitmapCountsDir: dir}, paths...)
	if failed == nil {
		defer d.Close()
	}
	page := make([]byte, ref.PageSize)
	for pfn := uint64(moved) * bitmapBlockPFNs; pfn < uint64(moved+1)*bitmapBlockPFNs && failed == nil; pfn++ {
		_, failed = d.ReadPhys(page, pfn*uint64(d.PageSize))
		if errors.Is(failed, ErrExcluded) || errors.Is(failed, ErrNotPresent) {
			failed = nil
		}
	}
	var fe *FormatError
	if !errors.As(failed, &fe) || fe.Path != paths[0] || !strings.Contains(failed.Error(), files[0]) || strings.Contains(failed.Error(), "\n") {
		t.Errorf("a page of block %d with wrong kept counts: %v, want an error naming the dump and the counts file", moved, failed)
	}
	if _, err := os.Lstat(files[0]); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(fmt.Sprint(failed), "removed; run again") {
		t.Errorf("wrong kept counts: the file is still there (%v) or the error does not say it was removed: %v", err, failed)
	}
	if err := os.WriteFile(files[0], lie, 0o600); err != nil {
		t.Fatal(err)
	}

	// The dump file changed: counts of its own, the lying ones untouched.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(paths[0], future, future); err != nil {
		t.Fatal(err)
	}
	d, n := openCounted(t, dir, paths...)
	if n != refOpen || len(countsFiles(t, dir)) != 2 {
		t.Errorf("after a change of mtime: read %d bytes opening (want %d), counts files %v", n, refOpen, countsFiles(t, dir))
	}
	if got := pageSums(t, d); len(got) != len(want) {
		t.Errorf("after a change of mtime: %d pages served, want %d", len(got), len(want))
	}
}

// TestBitmapCutAfterOpen: the bitmaps are read when asked for, so a file
// cut short after it was opened fails there; the error names the file and
// says which bitmap is cut short, and nothing panics.
func TestBitmapCutAfterOpen(t *testing.T) {
	paths := copyFixtures(t, "sysrq-kdump-lzo.vmcore")
	dir := t.TempDir()
	openCounted(t, dir, paths...) // keeps the counts: a rerun reads no bitmap 2 block below the one asked
	ref := openFixture(t, paths...)
	k := ref.kdumps[0]
	// A dumped pfn in a block open does not read (open reads the block
	// where max_mapnr ends, to rank it), and a pfn not dumped beside it.
	last := int(k.endPFN / bitmapBlockPFNs)
	var dumped, hole uint64
	for pfn := uint64(1); pfn < k.endPFN && hole == 0; pfn++ {
		if int(pfn/bitmapBlockPFNs) == last || !dumpedBit(k, pfn) {
			continue
		}
		dumped = pfn
		for h := pfn &^ (bitmapBlockPFNs - 1); h < pfn; h++ {
			if !dumpedBit(k, h) {
				hole = h
				break
			}
		}
	}
	if hole == 0 {
		t.Fatal("no block with a pfn dumped and one not")
	}
	i := int64(dumped / bitmapBlockPFNs)
	for _, c := range []struct {
		bitmap string
		cut    int64  // where the file is cut, after the open
		first  uint64 // a pfn read before the cut (0: none)
		pfn    uint64 // the pfn read after it
	}{
		// The dumped pfn's read brings its bitmap 2 block in, so the hole's
		// read asks bitmap 1 only.
		{"bitmap 1", k.ram.off + i*bitmapBlockBytes + 100, dumped, hole},
		{"bitmap 2", k.dumped.off + i*bitmapBlockBytes + 100, 0, dumped},
	} {
		d, _ := openCounted(t, dir, paths...)
		page := make([]byte, d.PageSize)
		if c.first != 0 {
			if _, err := d.ReadPhys(page, c.first*uint64(d.PageSize)); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(paths[0])
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(paths[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(paths[0], c.cut); err != nil {
			t.Fatal(err)
		}
		_, err = d.ReadPhys(page, c.pfn*uint64(d.PageSize))
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Path != paths[0] || !strings.Contains(err.Error(), "kdump "+c.bitmap+" cut short") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s cut after the open, pfn %#x: %v, want an error naming the file and the bitmap cut short", c.bitmap, c.pfn, err)
		}
		_, _ = d.Pages()
		// The file as it was, with its mtime: the kept counts are its own again.
		if err := os.WriteFile(paths[0], b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(paths[0], st.ModTime(), st.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHasExcluded: what sys asks (was anything filtered out) agrees with
// the page counts on the kdump fixtures, while reading less of the bitmaps.
func TestHasExcluded(t *testing.T) {
	sets := [][]string{{"sysrq-split-lzo.vmcore.1", "sysrq-split-lzo.vmcore.2"}}
	for _, n := range []string{"sysrq-kdump-lzo", "sysrq-flat-lzo", "sysrq-incomplete-lzo", "sysrq-kdump-zlib", "hung-qemu-kdump-zlib"} {
		sets = append(sets, []string{n + ".vmcore"})
	}
	for _, set := range sets {
		var paths []string
		for _, p := range set {
			paths = append(paths, filepath.Join(fixtureDir, p))
		}
		d := openFixture(t, paths...)
		before := d.BytesRead()
		has, err := d.HasExcluded()
		if err != nil {
			t.Fatal(err)
		}
		asked := d.BytesRead() - before
		c := pagesOf(t, d)
		if has != (c.Excluded > 0) {
			t.Errorf("%s: HasExcluded %v, page counts %+v", set[0], has, c)
		}
		if whole := d.BytesRead() - before; has && asked >= whole {
			t.Errorf("%s: HasExcluded read %d bytes, counting every page %d", set[0], asked, whole)
		}
	}
}

// TestBitmapBlocksConcurrent: readers on several goroutines bring the
// same blocks in and count them at once (run with -race); each gets what
// a lone reader does. They ask the kdump file itself: through a Dump, the
// page cache's lock would order them.
func TestBitmapBlocksConcurrent(t *testing.T) {
	paths := copyFixtures(t, "sysrq-kdump-lzo.vmcore")
	raw, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	openK := func(keep countsKeeping) *kdumpFile {
		k, err := openKdump(bytes.NewReader(raw), int64(len(raw)), paths[0], nil, keep)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// A lone reader's answers, at a sample of pfns.
	type answer struct {
		dumped, ram bool
		rank        uint64
	}
	ref := openK(countsKeeping{})
	const step = 61
	var want []answer
	for pfn := uint64(0); pfn < ref.maxMapnr; pfn += step {
		d, _ := ref.isDumped(pfn)
		r, _ := ref.isRAM(pfn)
		n, _ := ref.rankOf(pfn)
		want = append(want, answer{d, r, n})
	}
	keep := countsKeeping{dir: t.TempDir(), id: "concurrent"}
	openK(keep)                                        // keeps the counts for the second round
	for round, kc := range []countsKeeping{{}, keep} { // counted as asked, and kept
		k := openK(kc)
		var wg sync.WaitGroup
		errs := make(chan string, 4)
		start := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				// Two walk memory up, two down: every block is asked for by
				// two goroutines at about the same time.
				for i := range want {
					if g%2 == 1 {
						i = len(want) - 1 - i
					}
					pfn := uint64(i) * step
					d, err1 := k.isDumped(pfn)
					r, err2 := k.isRAM(pfn)
					n, err3 := k.rankOf(pfn)
					if got := (answer{d, r, n}); got != want[i] || errors.Join(err1, err2, err3) != nil {
						errs <- fmt.Sprintf("pfn %#x: %+v, want %+v (%v)", pfn, got, want[i], errors.Join(err1, err2, err3))
						return
					}
				}
			}(g)
		}
		close(start)
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("round %d: %s", round, e)
		}
	}
}

// lieCounts rewrites the counts file with the count of block i raised by
// one (CRC, per-count bound and block number still good), returning the
// good bytes.
func lieCounts(t *testing.T, file string, i int) []byte {
	t.Helper()
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	head := len(countsMagic) + 8
	lie := append([]byte(nil), good[:len(good)-4]...)
	le.PutUint32(lie[head+4*i:], le.Uint32(lie[head+4*i:])+1)
	lie = le.AppendUint32(lie, crc32.ChecksumIEEE(lie))
	if err := os.WriteFile(file, lie, 0o600); err != nil {
		t.Fatal(err)
	}
	return good
}

// TestBitmapCountsWrongUnread: a kept count one too high in a block no
// read asks for (block 1, below the last block that has pages) would
// rank every page above it one too high without a block read to notice;
// the check at open sees the total past the first page's data, drops the
// counts, counts afresh and keeps good ones.
func TestBitmapCountsWrongUnread(t *testing.T) {
	paths, ref, refOpen, dir, files := withKeptCounts(t, "sysrq-kdump-lzo.vmcore")
	want := pageSums(t, ref)
	good := lieCounts(t, files[0], 1)
	d, n := openCounted(t, dir, paths...)
	if n <= refOpen {
		t.Errorf("read %d bytes opening, want more than %d (counted afresh after the check)", n, refOpen)
	}
	got := pageSums(t, d)
	for pfn, s := range want {
		if got[pfn] != s {
			t.Errorf("pfn %#x served differently with the wrong counts", pfn)
			break
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d pages served, want %d", len(got), len(want))
	}
	if again, _ := os.ReadFile(files[0]); string(again) != string(good) {
		t.Errorf("the wrong counts were not replaced by good ones")
	}
}

// TestBitmapCountsRewrittenInPlace: a dump file rewritten in place, same
// size, its mtime then set back (cp -p, rsync -t --inplace, tar) keeps
// device, inode, size and mtime; its inode change time moved, so the
// counts kept for it are not used.
func TestBitmapCountsRewrittenInPlace(t *testing.T) {
	paths := copyFixtures(t, "sysrq-kdump-lzo.vmcore")
	_, refOpen := openCounted(t, "", paths...)
	dir := t.TempDir()
	_, kept := openCounted(t, dir, paths...)
	if _, n := openCounted(t, dir, paths...); n >= kept {
		t.Fatalf("a rerun read %d bytes opening, the first %d: counts not kept", n, kept)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	st0, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	// The ctime has the kernel's clock tick: rewrite until it moves.
	ctime := func(st os.FileInfo) [2]int64 {
		s, nsec, ok := changeTime(st.Sys().(*syscall.Stat_t))
		if !ok {
			t.Skip("no inode change time here: no counts are kept")
		}
		return [2]int64{s, nsec}
	}
	for i := 0; ctime(mustStat(t, paths[0])) == ctime(st0); i++ {
		if i == 1000 {
			t.Fatal("the inode change time does not move")
		}
		time.Sleep(time.Millisecond)
		f, err := os.OpenFile(paths[0], os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.WriteAt(b, 0)
		if err := errors.Join(werr, f.Close(), os.Chtimes(paths[0], st0.ModTime(), st0.ModTime())); err != nil {
			t.Fatal(err)
		}
	}
	st1 := mustStat(t, paths[0])
	if !os.SameFile(st0, st1) || st1.Size() != st0.Size() || !st1.ModTime().Equal(st0.ModTime()) {
		t.Fatalf("not rewritten in place: %v %v", st0, st1)
	}
	if _, n := openCounted(t, dir, paths...); n != refOpen || len(countsFiles(t, dir)) != 2 {
		t.Errorf("rewritten in place: read %d bytes opening (want %d, counted afresh), counts files %v", n, refOpen, countsFiles(t, dir))
	}
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestBitmapCountsNotOurs: at the counts file's path, a FIFO (which
// would block a plain open), a symbolic link to good counts, or good
// counts others may write are not read: the run counts afresh and puts
// a file of its own there.
func TestBitmapCountsNotOurs(t *testing.T) {
	paths, _, refOpen, dir, files := withKeptCounts(t, "sysrq-kdump-lzo.vmcore")
	good, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "good.counts")
	if err := os.WriteFile(elsewhere, good, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, plant := range map[string]func(string) error{
		"fifo":     func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"symlink":  func(p string) error { return os.Symlink(elsewhere, p) },
		"writable": func(p string) error { return errors.Join(os.WriteFile(p, good, 0o600), os.Chmod(p, 0o666)) },
	} {
		if err := errors.Join(os.Remove(files[0]), plant(files[0])); err != nil {
			t.Fatal(err)
		}
		if _, n := openCounted(t, dir, paths...); n != refOpen {
			t.Errorf("%s: read %d bytes opening, want %d (counted afresh)", name, n, refOpen)
		}
		st, err := os.Lstat(files[0])
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s: not replaced by a counts file of ours: %v %v", name, st, err)
		}
	}
	if b, _ := os.ReadFile(elsewhere); string(b) != string(good) {
		t.Error("the symbolic link's target was changed")
	}
}
