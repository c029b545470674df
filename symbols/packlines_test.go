package symbols

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// lineTableKernels are the debug vmlinuxes a line table is checked on: the
// older generations' (named by the environment, as kernel's old-kernel
// tests name them) and the corpus kernel's.
func lineTableKernels(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, env := range []string{"KTRIAGE_EL7_VMLINUX", "KTRIAGE_54_VMLINUX"} {
		if v := os.Getenv(env); v != "" {
			out[env] = v
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		v := filepath.Join(home, ".cache/ktriage/vmlinux-"+corpusRelease)
		if _, err := os.Stat(v); err == nil {
			out["corpus"] = v
		}
	}
	if len(out) == 0 {
		t.Skip("no debug vmlinux: set KTRIAGE_EL7_VMLINUX / KTRIAGE_54_VMLINUX (testdata/gen/build-old-kernel.sh) or fetch the corpus kernel's (scripts/fetch-debug-vmlinux.sh)")
	}
	return out
}

// allSpans decodes every block of t into one run of spans.
func allSpans(t *LineTable) (*lineSpans, error) {
	var all lineSpans
	for i := range t.blocks {
		s, err := t.block(i)
		if err != nil {
			return nil, err
		}
		all.start, all.file, all.line = append(all.start, s.start...), append(all.file, s.file...), append(all.line, s.line...)
	}
	return &all, nil
}

// TestLineTableMatchesDWARF: the table a pack carries, encoded and decoded
// again, answers as DWARF.SourceLine at every span's first and last
// address and at random addresses over the kernel's text.
func TestLineTableMatchesDWARF(t *testing.T) {
	for name, vmlinux := range lineTableKernels(t) {
		t.Run(name, func(t *testing.T) {
			d, err := OpenDWARF(vmlinux, DWARFOptions{NoCache: true})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			start := time.Now()
			built, err := d.LineTable()
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			enc, _ := built.MarshalBinary()
			t.Logf("%s: %d spans in %d blocks, %d files, built in %v; %d bytes", vmlinux, built.Len(), len(built.blocks), len(built.files), took, len(enc))
			tab, err := ParseLineTable(enc)
			if err != nil {
				t.Fatal(err)
			}
			if err := tab.Check(); err != nil {
				t.Fatal(err)
			}
			check := func(pc uint64) {
				want, wok := d.SourceLine(pc)
				got, gok := tab.SourceLine(pc)
				if want != got || wok != gok {
					t.Fatalf("%#x: table %v %v, DWARF %v %v", pc, got, gok, want, wok)
				}
			}
			spans, err := allSpans(tab)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range spans.start {
				check(a)
				check(a - 1)
				if i+1 < len(spans.start) {
					check(spans.start[i+1] - 1)
				}
			}
			lo, hi := spans.start[0], spans.start[len(spans.start)-1]
			r := rand.New(rand.NewPCG(1, 2))
			for range 200000 {
				check(lo + r.Uint64N(hi-lo+0x1000))
			}
		})
	}
}

// testLineTable encodes spans and decodes them again.
func testLineTable(t testing.TB, files []string, s *lineSpans) (*LineTable, []byte) {
	t.Helper()
	b, err := encodeLineTable(files, s)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ParseLineTable(b)
	if err != nil {
		t.Fatal(err)
	}
	return tab, b
}

// TestLineTableEncoding: a table survives encoding, answers by span, and a
// cut or grown encoding is refused.
func TestLineTableEncoding(t *testing.T) {
	// The last two names end in one byte (what follows a shared prefix
	// is shorter than the prefix).
	files := []string{"arch/x86/kernel/smp.c", "arch/x86/kernel/smpboot.c", "kernel/sched/core.c", "kernel/sched/core.h"}
	small := &lineSpans{
		start: []uint64{0xffffffff81000000, 0xffffffff81000004, 0xffffffff81000010, 0xffffffff81000200, 0xffffffff81000201},
		file:  []uint32{1, 3, 0, 2, 3},
		line:  []uint32{120, 4100, 0, 7, 4099},
	}
	tab, b := testLineTable(t, files, small)
	if got, err := allSpans(tab); err != nil || !reflect.DeepEqual(got, small) || !slices.Equal(tab.files, files) {
		t.Fatalf("decoded %+v %q (%v), want %+v", got, tab.files, err, small)
	}
	for _, c := range []struct {
		pc   uint64
		want string
	}{
		{0xffffffff80ffffff, ""},
		{0xffffffff81000000, "arch/x86/kernel/smp.c:120"},
		{0xffffffff81000003, "arch/x86/kernel/smp.c:120"},
		{0xffffffff81000004, "kernel/sched/core.c:4100"},
		{0xffffffff81000010, ""},
		{0xffffffff810001ff, ""},
		{0xffffffff81000200, "arch/x86/kernel/smpboot.c:7"},
		{0xffffffff81000201, "kernel/sched/core.c:4099"},
		{0xffffffffffffffff, "kernel/sched/core.c:4099"},
	} {
		pos, ok := tab.SourceLine(c.pc)
		if s := pos.String(); ok != (c.want != "") || ok && s != c.want {
			t.Errorf("%#x: %v %v, want %q", c.pc, s, ok, c.want)
		}
	}
	for _, bad := range [][]byte{b[:len(b)-1], append(slices.Clone(b), 0), []byte("ktlines\x01"), []byte("ktlines"), nil} {
		if _, err := ParseLineTable(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}

	// Many blocks: every span found at its first and last address.
	var many lineSpans
	r := rand.New(rand.NewPCG(3, 4))
	a := uint64(0xffffffff81000000)
	for i := range 3*lineBlockSpans + 17 {
		f := uint32(r.IntN(len(files) + 1))
		l := uint32(0)
		if f != 0 {
			l = 1 + uint32(r.IntN(5000))
		}
		if i > 0 && f == many.file[i-1] && l == many.line[i-1] {
			l++
		}
		many.add(a, f, l)
		a += 1 + uint64(r.IntN(40))
	}
	tab, _ = testLineTable(t, files, &many)
	if len(tab.blocks) != 4 {
		t.Fatalf("%d blocks, want 4", len(tab.blocks))
	}
	for i, a := range many.start {
		for _, pc := range []uint64{a, a + 1} {
			if i+1 < len(many.start) && pc >= many.start[i+1] {
				continue
			}
			pos, ok := tab.SourceLine(pc)
			if ok != (many.file[i] != 0) || ok && (pos.File != files[many.file[i]-1] || pos.Line != int(many.line[i])) {
				t.Fatalf("span %d at %#x: %v %v", i, pc, pos, ok)
			}
		}
	}
}

// FuzzParseLineTable: any input gives a table or an error; a table's
// blocks decode (Check) or say why; decoded, its spans are in address
// order with files and lines in range, each span's start finds that span,
// and encoding them again gives a table that decodes to the same.
func FuzzParseLineTable(f *testing.F) {
	files := []string{"fs/read_write.c", "kernel/sched/core.c"}
	small := &lineSpans{start: []uint64{0x1000, 0x1004, 0x1010}, file: []uint32{1, 0, 2}, line: []uint32{592, 0, 3}}
	if b, err := encodeLineTable(files, small); err == nil {
		f.Add(b)
	}
	// The head of the 5.4 fixtures' real table, with the files it names.
	if p, err := OpenPack("../testdata/dumps-5.4/vmlinux-5.4.286.pack", 0, DumpIdentity{}); err == nil && p.Lines != nil {
		if s, err := p.Lines.block(0); err == nil {
			var head lineSpans
			var names []string
			for i := range min(300, len(s.start)) {
				f := s.file[i]
				if f != 0 {
					names = append(names, p.Lines.files[f-1])
				}
				head.add(s.start[i], f, s.line[i])
			}
			slices.Sort(names)
			names = slices.Compact(names)
			for i, f := range head.file {
				if f != 0 {
					j, _ := slices.BinarySearch(names, p.Lines.files[f-1])
					head.file[i] = uint32(j + 1)
				}
			}
			if b, err := encodeLineTable(names, &head); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := ParseLineTable(data)
		if (tab == nil) != (err != nil) {
			t.Fatalf("table %v with error %v", tab != nil, err)
		}
		if err != nil {
			return
		}
		if !slices.IsSorted(tab.files) || len(slices.Compact(slices.Clone(tab.files))) != len(tab.files) {
			t.Fatalf("files not in strict order: %q", tab.files)
		}
		spans, err := allSpans(tab)
		if (err == nil) != (tab.Check() == nil) {
			t.Fatalf("allSpans: %v, Check: %v", err, tab.Check())
		}
		if err != nil {
			return
		}
		for i, a := range spans.start {
			if i > 0 && a <= spans.start[i-1] {
				t.Fatalf("span %d at %#x after %#x", i, a, spans.start[i-1])
			}
			if spans.file[i] > uint32(len(tab.files)) || (spans.file[i] != 0) != (spans.line[i] != 0) || spans.line[i] > maxLine {
				t.Fatalf("span %d: file %d of %d, line %d", i, spans.file[i], len(tab.files), spans.line[i])
			}
			pos, ok := tab.SourceLine(a)
			if ok != (spans.file[i] != 0) || ok && (pos.File != tab.files[spans.file[i]-1] || pos.Line != int(spans.line[i])) {
				t.Fatalf("span %d: SourceLine %v %v", i, pos, ok)
			}
		}
		again, err := encodeLineTable(tab.files, spans)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseLineTable(again)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := allSpans(back); err != nil || !reflect.DeepEqual(got, spans) || !slices.Equal(back.files, tab.files) {
			t.Fatalf("re-encoded table decodes to %+v (%v)", got, err)
		}
	})
}

// BenchmarkLineTableLookups: opening the 5.4 fixtures' table and looking
// up 40 addresses in as many blocks, as a triage's frames do.
func BenchmarkLineTableLookups(b *testing.B) {
	p, err := OpenPack("../testdata/dumps-5.4/vmlinux-5.4.286.pack", 0, DumpIdentity{})
	if err != nil || p.Lines == nil {
		b.Skipf("no 5.4 pack with lines: %v", err)
	}
	data, _ := p.Lines.MarshalBinary()
	for b.Loop() {
		tab, err := ParseLineTable(data)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 40 {
			tab.SourceLine(tab.blocks[i*len(tab.blocks)/40].first + 5)
		}
	}
}
