package symbols

import (
	"bufio"
	"bytes"
	"os"
	"testing"
)

// FuzzParseSystemMap: any input gives a table or an error; every parsed
// symbol is found again by name and by address.
func FuzzParseSystemMap(f *testing.F) {
	f.Add([]byte("ffffffff81000000 T _text\nffffffff81000040 t helper\n0000000000031980 D runqueues\n"))
	f.Add([]byte("ffffffffc0001000 t vb_probe\t[virtio_blk]\n"))
	// The head of the corpus kernel's real System.map, when present.
	if home, err := os.UserHomeDir(); err == nil {
		if fh, err := os.Open(home + "/.cache/ktriage/System.map-" + corpusRelease); err == nil {
			var b bytes.Buffer
			sc := bufio.NewScanner(fh)
			for i := 0; i < 200 && sc.Scan(); i++ {
				b.Write(sc.Bytes())
				b.WriteByte('\n')
			}
			fh.Close()
			f.Add(b.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := ParseSystemMap(bytes.NewReader(data), 0x24600000)
		if (err == nil) != (tab != nil) {
			t.Fatalf("table %v with error %v", tab != nil, err)
		}
		if err != nil {
			return
		}
		for s := range tab.All() {
			if _, ok := tab.Lookup(s.Name); !ok {
				t.Fatalf("%q parsed but not found by name", s.Name)
			}
			if _, ok := tab.SymbolAt(s.Addr); !ok {
				t.Fatalf("%q at %#x parsed but not found by address", s.Name, s.Addr)
			}
		}
	})
}

// FuzzDecodeModuleSyms: arbitrary Elf64_Sym bytes, type table and string
// table never panic, and every symbol named lies inside the string table.
func FuzzDecodeModuleSyms(f *testing.F) {
	if b, err := os.ReadFile(fixturePath(moduleFixturePath)); err == nil {
		if fx, err := decodeModuleFixture(b); err == nil {
			f.Add(fx.Symtab, fx.Typetab, fx.Strtab)
		}
	}
	f.Add(make([]byte, 48), []byte("tT"), []byte("\x00a\x00b\x00"))
	f.Fuzz(func(t *testing.T, raw, typ, strs []byte) {
		syms := decodeModuleSyms(raw, typ, strs, "m")
		if len(syms) > len(raw)/elf64SymSize {
			t.Fatalf("%d symbols from %d records", len(syms), len(raw)/elf64SymSize)
		}
		for _, s := range syms {
			if s.Name == "" || s.Module != "m" || !bytes.Contains(strs, []byte(s.Name)) {
				t.Fatalf("bad symbol %+v", s)
			}
		}
	})
}
