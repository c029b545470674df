package symbols

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateFixtures = flag.Bool("update-fixtures", false, "rewrite testdata/symbols fixtures from the corpus dump")

// kallsymsFixture is the head of the corpus kernel's real kallsyms tables.
type kallsymsFixture struct {
	NumSyms      int
	Names        []byte
	TokenTable   []byte
	TokenIndex   []byte
	Offsets      []byte
	RelativeBase uint64
	Want         []Sym // what the decoder produced when the fixture was cut
}

const kallsymsFixturePath = "testdata/symbols/kallsyms-6.1-head.gob"

func fixturePath(name string) string { return filepath.Join(repoRoot(), name) }

// TestWriteKallsymsFixture cuts the first symbols of the dump's kallsyms
// into a small fixture (run with -update-fixtures).
func TestWriteKallsymsFixture(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to rewrite " + kallsymsFixturePath)
	}
	syms, d := sysrqDump(t)
	k, err := readKallsymsTables(syms, d)
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	full, err := decodeKallsyms(k, true)
	if err != nil {
		t.Fatal(err)
	}
	// Names of the first n symbols: walk the length prefixes.
	pos := 0
	for i := 0; i < n; i++ {
		l := int(k.names[pos])
		pos++
		if l&0x80 != 0 {
			l = l&0x7f | int(k.names[pos])<<7
			pos++
		}
		pos += l
	}
	idx := make([]byte, 512)
	for i, v := range k.tokenIndex {
		binary.LittleEndian.PutUint16(idx[2*i:], v)
	}
	fx := kallsymsFixture{NumSyms: n, Names: k.names[:pos], TokenTable: k.tokenTable, TokenIndex: idx,
		Offsets: k.offsets[:4*n], RelativeBase: k.relativeBase, Want: full[:n]}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(fx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixturePath(kallsymsFixturePath), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadKallsymsFixture(t testing.TB) kallsymsFixture {
	b, err := os.ReadFile(fixturePath(kallsymsFixturePath))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var fx kallsymsFixture
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&fx); err != nil {
		t.Fatalf("fixture %s: %v", kallsymsFixturePath, err)
	}
	return fx
}

func tablesFromRaw(num int, names, tokTab, tokIdx, offsets []byte, base uint64) *kallsymsTables {
	k := &kallsymsTables{numSyms: num, names: names, tokenTable: tokTab, offsets: offsets, relativeBase: base}
	for i := 0; i < 256 && 2*i+1 < len(tokIdx); i++ {
		k.tokenIndex[i] = binary.LittleEndian.Uint16(tokIdx[2*i:])
	}
	return k
}

func TestDecodeKallsymsFixture(t *testing.T) {
	fx := loadKallsymsFixture(t)
	got, err := decodeKallsyms(tablesFromRaw(fx.NumSyms, fx.Names, fx.TokenTable, fx.TokenIndex, fx.Offsets, fx.RelativeBase), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fx.Want) {
		t.Fatalf("decoded %d symbols, want %d", len(got), len(fx.Want))
	}
	for i := range got {
		if got[i] != fx.Want[i] {
			t.Fatalf("symbol %d = %+v, want %+v", i, got[i], fx.Want[i])
		}
	}
	// The first symbols of a 6.1 x86_64 kernel are per-CPU (absolute, small)
	// and then text; the per-CPU rule must keep them below the image.
	if got[0].Addr >= KernelMapBase || got[len(got)-1].Addr < KernelMapBase {
		t.Errorf("absolute-percpu decoding wrong: first %+v, last %+v", got[0], got[len(got)-1])
	}
	// A truncated names table is an error, not a panic or a short result.
	if _, err := decodeKallsyms(tablesFromRaw(fx.NumSyms, fx.Names[:len(fx.Names)/2], fx.TokenTable, fx.TokenIndex, fx.Offsets, fx.RelativeBase), true); err == nil {
		t.Error("truncated names accepted")
	}
}

// Without CONFIG_KALLSYMS_BASE_RELATIVE the kernel stores absolute
// addresses; feed the decoder such a table built from the real one.
func TestKallsymsAbsoluteAddresses(t *testing.T) {
	fx := loadKallsymsFixture(t)
	k := tablesFromRaw(fx.NumSyms, fx.Names, fx.TokenTable, fx.TokenIndex, nil, 0)
	for _, s := range fx.Want {
		k.addresses = binary.LittleEndian.AppendUint64(k.addresses, s.Addr)
	}
	got, err := decodeKallsyms(k, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != fx.Want[i] {
			t.Fatalf("symbol %d = %+v, want %+v", i, got[i], fx.Want[i])
		}
	}
}

func FuzzDecodeKallsyms(f *testing.F) {
	if b, err := os.ReadFile(fixturePath(kallsymsFixturePath)); err == nil {
		var fx kallsymsFixture
		if gob.NewDecoder(bytes.NewReader(b)).Decode(&fx) == nil {
			f.Add(uint16(fx.NumSyms), fx.Names, fx.TokenTable, fx.TokenIndex, fx.Offsets, fx.RelativeBase, true, uint32(0))
			f.Add(uint16(40), fx.Names[:300], fx.TokenTable, fx.TokenIndex, fx.Offsets[:160], fx.RelativeBase, false, uint32(0))
			f.Add(uint16(fx.NumSyms), fx.Names, fx.TokenTable, fx.TokenIndex, fx.Offsets, fx.RelativeBase, true, uint32(len(fx.Names)/2))
		}
	}
	f.Add(uint16(1), []byte{2, 'T', 'x'}, []byte("T\x00x\x00"), []byte{}, []byte{0, 0, 0, 0}, uint64(KernelMapBase), false, uint32(0))
	// lostAt > 0 loses the 4 KiB of names from there, as a dump page the
	// capture could not save: decoding must resume or mark, never fail.
	f.Fuzz(func(t *testing.T, num uint16, names, tokTab, tokIdx, offsets []byte, base uint64, abs bool, lostAt uint32) {
		k := tablesFromRaw(int(num), bytes.Clone(names), tokTab, tokIdx, offsets, base)
		if lostAt > 0 && int(lostAt) < len(names) {
			end := min(int(lostAt)+4096, len(names))
			clear(k.names[lostAt:end])
			k.lost, k.namesCut = [][2]int{{int(lostAt), end}}, true
		}
		syms, err := decodeKallsyms(k, abs)
		if (err == nil) == (syms == nil) && num > 0 {
			t.Fatalf("result %d symbols with err %v", len(syms), err)
		}
		if err == nil && len(syms) != int(num) {
			t.Fatalf("%d symbols decoded, %d announced", len(syms), num)
		}
		for _, s := range syms {
			if s.Name == "" {
				t.Fatal("empty name decoded without error")
			}
		}
	})
}
