package symbols

import (
	"debug/elf"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The table read back from the cache answers every question as the one
// built from the ELF does, at a KASLR slide it was not built for.
func TestTableCacheAnswersAsTheELF(t *testing.T) {
	for _, path := range []string{fixturePath("testdata/symbols/dwarf/types-dwarf5.elf"), os.Getenv("KTRIAGE_VMLINUX")} {
		if path == "" {
			continue
		}
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		const slide = 0x1e000000
		want, err := ELFSymbols(f, slide)
		if err != nil {
			t.Fatal(err)
		}
		opts := DWARFOptions{CacheDir: t.TempDir()}
		for run, how := range []string{"built", "from the cache"} {
			got, saving, err := vmlinuxSymbols(path, f, slide, opts)
			if err != nil {
				t.Fatalf("%s, %s: %v", path, how, err)
			}
			if saving != nil {
				<-saving
			}
			if got.Len() != want.Len() || got.Len() == 0 {
				t.Fatalf("%s, %s: %d symbols, want %d", path, how, got.Len(), want.Len())
			}
			for i := range want.Len() {
				s, g := want.sym(i), got.sym(i)
				if g != s {
					t.Fatalf("%s, %s: symbol %d = %+v, want %+v", path, how, i, g, s)
				}
				wa, _ := want.Lookup(s.Name)
				if ga, ok := got.Lookup(s.Name); !ok || ga != wa {
					t.Fatalf("%s, %s: Lookup(%q) = %#x %v, want %#x", path, how, s.Name, ga, ok, wa)
				}
				wn, woff, _, _ := want.Symbolize(s.Addr + 1)
				if gn, goff, _, _ := got.Symbolize(s.Addr + 1); gn != wn || goff != woff {
					t.Fatalf("%s, %s: Symbolize(%#x) = %s+%d, want %s+%d", path, how, s.Addr+1, gn, goff, wn, woff)
				}
			}
			if _, ok := got.Lookup("no such symbol anywhere"); ok {
				t.Errorf("%s, %s: found a symbol that does not exist", path, how)
			}
			if run == 0 {
				if m, _ := filepath.Glob(filepath.Join(opts.CacheDir, "*.syms")); len(m) != 1 {
					t.Fatalf("%s: the first run left %v in the cache, want one table", path, m)
				}
			}
		}
	}
}

// A damaged cache file is not trusted: the table is built again, right.
func TestTableCacheDamageIsRebuilt(t *testing.T) {
	path := fixturePath("testdata/symbols/dwarf/types-dwarf5.elf")
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := ELFSymbols(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	opts := DWARFOptions{CacheDir: t.TempDir()}
	if _, saving, err := vmlinuxSymbols(path, f, 0, opts); err != nil {
		t.Fatal(err)
	} else {
		<-saving
	}
	files, _ := filepath.Glob(filepath.Join(opts.CacheDir, "*.syms"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v", files)
	}
	good, _ := os.ReadFile(files[0])
	for _, at := range []int{0, len(tableMagic) + 3, len(good) / 2, len(good) - 1} {
		bad := append([]byte(nil), good...)
		bad[at] ^= 0x5a
		if _, err := decodeTable(bad, "x", 0, 0); err == nil {
			t.Errorf("a byte flipped at %d of %d: decoded anyway", at, len(good))
		}
		if err := os.WriteFile(files[0], bad, 0o600); err != nil {
			t.Fatal(err)
		}
		got, saving, err := vmlinuxSymbols(path, f, 0, opts)
		if err != nil {
			t.Fatal(err)
		}
		if saving != nil {
			<-saving
		}
		if got.Len() != want.Len() {
			t.Errorf("flip at %d: %d symbols, want %d", at, got.Len(), want.Len())
		}
	}
	if _, err := decodeTable(good[:len(good)-9], "x", 0, 0); err == nil {
		t.Error("a cut cache decoded")
	}
}

// FuzzDecodeTable feeds the frozen-table reader made-up files that pass
// its checksum (the fuzzer's bytes with the CRC made right): decoding may
// refuse them, but a table it accepts must answer every question — every
// symbol, lookups by name and by address — without a panic.
func FuzzDecodeTable(f *testing.F) {
	t := NewTable([]Sym{
		{Name: "_stext", Addr: 0xffffffff81000000, Type: 'T'},
		{Name: "start_kernel", Addr: 0xffffffff81001000, Size: 0x40, Type: 'T'},
		{Name: "runqueues", Addr: 0x2a4c0, Size: 0x1000, Type: 'D'},
		{Name: "_etext", Addr: 0xffffffff82000000, Type: 'T'},
	}, 0)
	good := encodeTable("id", 7, t)
	f.Add(good[:len(good)-4])
	f.Add([]byte(tableMagic))
	f.Fuzz(func(t *testing.T, body []byte) {
		data := binary.LittleEndian.AppendUint32(slices.Clone(body), crc32.ChecksumIEEE(body))
		tab, err := decodeTable(data, "id", 7, 0x1e000000)
		if err != nil {
			return
		}
		for s := range tab.All() {
			tab.Lookup(s.Name)
			tab.SymbolAt(s.Addr)
			tab.Symbolize(s.Addr + 1)
		}
		for _, a := range []uint64{0, 0x2a4c0, 0xffffffff9f001010, ^uint64(0)} {
			tab.SymbolAt(a)
		}
		tab.Lookup("start_kernel")
		tab.Sym("no such symbol")
	})
}
