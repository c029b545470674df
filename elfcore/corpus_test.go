package elfcore

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The real `makedumpfile -E -d 31` vmcore of the sysrq scenario, stored
// zstd-compressed beside the repository (see ../shared/corpus/README.md).
const sysrqELFDir = "../../shared/corpus/dumps/sysrq-elf"

var (
	sysrqOnce sync.Once
	sysrqPath string
	sysrqErr  error
)

// sysrqVMCore decompresses the corpus vmcore once per test binary, into a
// temporary directory (it is 126 MB), or skips when ../shared is absent.
func sysrqVMCore(t *testing.T) *os.File {
	t.Helper()
	src := filepath.Join(sysrqELFDir, "vmcore.zst")
	if _, err := os.Stat(src); err != nil {
		t.Skipf("real-dump corpus not found (it sits beside the repo as ../shared): %v", err)
	}
	sysrqOnce.Do(func() {
		dir, err := os.MkdirTemp("", "elfcore-sysrq-")
		if err != nil {
			sysrqErr = err
			return
		}
		sysrqPath = filepath.Join(dir, "vmcore")
		sysrqErr = decompress(src, sysrqPath)
	})
	if sysrqErr != nil {
		t.Fatal(sysrqErr)
	}
	f, err := os.Open(sysrqPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sysrqPath != "" {
		os.RemoveAll(filepath.Dir(sysrqPath))
	}
	os.Exit(code)
}

func decompress(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	dec, err := zstd.NewReader(in)
	if err != nil {
		return err
	}
	defer dec.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, dec); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func openCorpus(t *testing.T) (*File, *os.File) {
	raw := sysrqVMCore(t)
	st, err := raw.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(raw, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return f, raw
}

// TestCorpusReadPhysMatchesDebugELF checks every PT_LOAD against the
// standard library's reading of the same program headers: the first, a
// middle and the last stored page, and the zero-filled tail.
func TestCorpusReadPhysMatchesDebugELF(t *testing.T) {
	f, raw := openCorpus(t)
	std, err := elf.NewFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	loads := 0
	for i, p := range std.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		loads++
		const page = 4096
		var offsets []uint64
		if p.Filesz >= page {
			offsets = append(offsets, 0, p.Filesz/2&^(page-1), p.Filesz-page)
		}
		for _, off := range offsets {
			want := make([]byte, page)
			if _, err := p.ReadAt(want, int64(off)); err != nil {
				t.Fatalf("debug/elf prog %d at %#x: %v", i, off, err)
			}
			got := make([]byte, page)
			if n, err := f.ReadPhys(got, p.Paddr+off); err != nil || n != page {
				t.Fatalf("ReadPhys(%#x) = %d, %v", p.Paddr+off, n, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("prog %d: ReadPhys(%#x) differs from the file", i, p.Paddr+off)
			}
		}
		if p.Memsz > p.Filesz {
			got := make([]byte, min(p.Memsz-p.Filesz, 3*page))
			addr := p.Paddr + p.Filesz
			// A segment of the kernel image appears twice with the same
			// layout, so its tail is the tail of both.
			if n, err := f.ReadPhys(got, addr); err != nil || n != len(got) || !allZero(got) {
				t.Errorf("zero tail of prog %d at %#x: %d, %v, zero=%v", i, addr, n, err, allZero(got))
			}
		}
	}
	if loads != len(f.Loads) {
		t.Errorf("%d PT_LOAD in debug/elf, %d in Loads", loads, len(f.Loads))
	}
	// Legacy VGA/ROM space below 1 MiB is in no segment.
	if _, err := f.ReadPhys(make([]byte, 8), 0xc0000); !errors.Is(err, ErrNotPresent) {
		t.Errorf("ReadPhys(0xc0000) = %v, want ErrNotPresent", err)
	}
}

// TestCorpusNotesMatchFixture checks the committed fixture against the
// dump it was cut from: the same notes, the same first page per segment.
func TestCorpusNotesMatchFixture(t *testing.T) {
	full, _ := openCorpus(t)
	fix, _ := openFixture(t)
	if len(full.Notes) != len(fix.Notes) {
		t.Fatalf("%d notes in the vmcore, %d in the fixture", len(full.Notes), len(fix.Notes))
	}
	for i := range full.Notes {
		a, b := full.Notes[i], fix.Notes[i]
		if a.Name != b.Name || a.Type != b.Type || !bytes.Equal(a.Desc, b.Desc) {
			t.Errorf("note %d differs: %q/%d vs %q/%d", i, a.Name, a.Type, b.Name, b.Type)
		}
	}
	for i, s := range fix.Loads {
		if s.FileSize == 0 {
			continue
		}
		a, b := make([]byte, s.FileSize), make([]byte, s.FileSize)
		full.ReadPhys(a, s.PAddr)
		if _, err := fix.ReadPhys(b, s.PAddr); err != nil || !bytes.Equal(a, b) {
			t.Errorf("segment %d at %#x: fixture differs from the vmcore (%v)", i, s.PAddr, err)
		}
	}
}

// TestCorpusRegistersMatchCrash compares NT_PRSTATUS with crash 8.0.6's
// `bt -a`: for a CPU stopped by NMI, crash prints the saved registers as the
// "exception RIP" frame, which is exactly what the note holds.
func TestCorpusRegistersMatchCrash(t *testing.T) {
	f, _ := openCorpus(t)
	want := crashExceptionRegs(t, filepath.Join(sysrqELFDir, "crash-8.0.6", "bt_-a.txt"))
	if len(want) == 0 {
		t.Fatal("no exception-frame registers found in crash's bt -a")
	}
	ps := f.PRStatus()
	for cpu, regs := range want {
		if len(regs) != 21 {
			t.Errorf("CPU %d: parsed %d registers from crash's output, want 21", cpu, len(regs))
		}
		if cpu >= len(ps) {
			t.Errorf("crash shows CPU %d, the dump has %d NT_PRSTATUS", cpu, len(ps))
			continue
		}
		r := ps[cpu].Regs
		got := map[string]uint64{
			"RIP": r.RIP, "RSP": r.RSP, "RFLAGS": r.EFLAGS, "RAX": r.RAX, "RBX": r.RBX, "RCX": r.RCX,
			"RDX": r.RDX, "RSI": r.RSI, "RDI": r.RDI, "RBP": r.RBP, "R8": r.R8, "R9": r.R9, "R10": r.R10,
			"R11": r.R11, "R12": r.R12, "R13": r.R13, "R14": r.R14, "R15": r.R15, "ORIG_RAX": r.OrigRAX,
			"CS": r.CS, "SS": r.SS,
		}
		for name, v := range regs {
			if got[name] != v {
				t.Errorf("CPU %d %s = %#x, crash says %#x", cpu, name, got[name], v)
			}
		}
	}
}

var (
	btHeader = regexp.MustCompile(`^PID: .*CPU: (\d+)`)
	btReg    = regexp.MustCompile(`([A-Z0-9_]+): ([0-9a-f]+)`)
)

// crashExceptionRegs returns, per CPU, the registers of the first
// "[exception RIP: ...]" block in a crash `bt -a` output.
func crashExceptionRegs(t *testing.T, path string) map[int]map[string]uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]map[string]uint64{}
	cpu, inBlock := -1, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if m := btHeader.FindStringSubmatch(line); m != nil {
			cpu, _ = strconv.Atoi(m[1])
			inBlock = false
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "[exception RIP:") && out[cpu] == nil:
			out[cpu], inBlock = map[string]uint64{}, true
		case inBlock && btReg.MatchString(trimmed) && !strings.HasPrefix(trimmed, "#"):
			for _, m := range btReg.FindAllStringSubmatch(trimmed, -1) {
				v, err := strconv.ParseUint(m[2], 16, 64)
				if err == nil {
					out[cpu][m[1]] = v
				}
			}
		default:
			inBlock = false
		}
	}
	return out
}
