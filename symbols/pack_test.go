package symbols

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A pack made the way `ktriage pack` makes one for a kernel without BTF:
// pahole encodes the DWARF of a small program shaped like a kernel (a
// linux_banner, a struct with a bitfield, a function), and the pack must
// give back its types, its symbols at the dump's slide and its banner,
// and refuse a dump of another build.
func TestPackRoundTrip(t *testing.T) {
	for _, tool := range []string{"gcc", "pahole"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian: gcc, dwarves): %v", tool, err)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "k.c")
	if err := os.WriteFile(src, []byte(`
#ifdef OTHER
const char linux_banner[] = "Linux version 3.10.0-1160.el7.x86_64 (ktriage@test) #2 SMP\n";
#else
const char linux_banner[] = "Linux version 3.10.0-1160.el7.x86_64 (ktriage@test) #1 SMP\n";
#endif
struct task_struct { volatile long state; void *stack; unsigned int flags:3, ptrace:5; int pid; };
struct task_struct init_task;
int schedule(struct task_struct *t) { return t->pid + t->ptrace; }
void _start(void) { schedule(&init_task); for (;;); }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	elfPath := filepath.Join(dir, "vmlinux")
	if out, err := exec.Command("gcc", "-g", "-gdwarf-4", "-O1", "-nostdlib", "-static", "-o", elfPath, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	btfPath := filepath.Join(dir, "vmlinux.btf")
	if out, err := exec.Command("pahole", "--btf_encode_detached="+btfPath, elfPath).CombinedOutput(); err != nil {
		t.Fatalf("pahole: %v\n%s", err, out)
	}
	packPath := filepath.Join(dir, "vmlinux.pack")
	f, err := os.Create(packPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePack(f, elfPath, btfPath); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !IsPack(packPath) || IsPack(elfPath) {
		t.Fatal("IsPack does not tell the pack from the ELF")
	}

	const slide = 0x1000000
	banner := "Linux version 3.10.0-1160.el7.x86_64 (ktriage@test) #1 SMP\n"
	p, err := OpenPack(packPath, slide, DumpIdentity{Banner: banner})
	if err != nil {
		t.Fatal(err)
	}
	state, err := p.BTF.MemberInfo("task_struct", "state")
	if err != nil || state.Type.Size != 8 {
		t.Errorf("task_struct.state: %+v %v", state, err)
	}
	ptrace, err := p.BTF.MemberInfo("task_struct", "ptrace")
	if err != nil || !ptrace.IsBitfield() || ptrace.BitSize != 5 {
		t.Errorf("task_struct.ptrace: %+v %v", ptrace, err)
	}
	ef, err := OpenELFSymbols(elfPath, slide)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"schedule", "init_task", "linux_banner"} {
		want, ok1 := ef.Lookup(name)
		got, ok2 := p.Syms.Lookup(name)
		if !ok1 || !ok2 || got != want {
			t.Errorf("%s: pack %#x %v, vmlinux %#x %v", name, got, ok2, want, ok1)
		}
	}
	if p.Banner != banner {
		t.Errorf("banner %q", p.Banner)
	}
	// The pack's lines answer as the program's DWARF, at every byte of
	// schedule (link-time addresses: lines are not relocated).
	d, err := OpenDWARF(elfPath, DWARFOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var sched uint64
	elfSyms, _ := d.ELF().Symbols()
	for _, s := range elfSyms {
		if s.Name == "schedule" {
			sched = s.Value
		}
	}
	lined := 0
	for pc := sched; pc < sched+16; pc++ {
		want, wok := d.SourceLine(pc)
		got, gok := p.Lines.SourceLine(pc)
		if got != want || gok != wok {
			t.Errorf("%#x: pack %v %v, DWARF %v %v", pc, got, gok, want, wok)
		}
		if wok && strings.HasSuffix(want.File, "k.c") {
			lined++
		}
	}
	if lined == 0 {
		t.Errorf("no line of schedule (%#x) in k.c: nothing compared", sched)
	}
	checkOlderPacks(t, packPath, slide, banner)

	// A pack lends its BTF to a new pack of its own build only.
	var again bytes.Buffer
	if err := WritePack(&again, elfPath, packPath); err != nil {
		t.Fatalf("BTF from the pack of the same build: %v", err)
	}
	other := filepath.Join(dir, "other")
	if out, err := exec.Command("gcc", "-g", "-O1", "-nostdlib", "-static", "-DOTHER", "-Wl,--build-id", "-o", other, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	if err := WritePack(io.Discard, other, packPath); err == nil || !strings.Contains(err.Error(), "another build") {
		t.Errorf("BTF from the pack of another build: %v, want it refused", err)
	}
	var mismatch *MismatchError
	if _, err := OpenPack(packPath, slide, DumpIdentity{Banner: "Linux version 3.10.0-957.el7.x86_64"}); !errors.As(err, &mismatch) {
		t.Errorf("a dump of another build: %v, want a MismatchError", err)
	}
}

// checkOlderPacks: the pack at path with its line table left out (as packs
// made before it had one) still opens, without lines; with the table
// damaged it fails, naming the pack.
func checkOlderPacks(t *testing.T, path string, slide uint64, banner string) {
	t.Helper()
	rewrite := func(name string, lines func([]byte) []byte) string {
		z, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		out := filepath.Join(t.TempDir(), name)
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		w := zip.NewWriter(f)
		for _, e := range z.File {
			r, err := e.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if e.Name == PackLinesEntry {
				if b = lines(b); b == nil {
					continue
				}
			}
			ew, err := w.Create(e.Name)
			if err != nil {
				t.Fatal(err)
			}
			ew.Write(b)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return out
	}
	old := rewrite("old.pack", func([]byte) []byte { return nil })
	p, err := OpenPack(old, slide, DumpIdentity{Banner: banner})
	if err != nil {
		t.Fatalf("a pack without lines: %v", err)
	}
	if p.Lines != nil {
		t.Error("a pack without lines has a line table")
	}
	if _, ok := p.Lines.SourceLine(0x401000); ok {
		t.Error("no line table, yet a line")
	}
	bad := rewrite("bad.pack", func(b []byte) []byte { return b[:len(b)-1] })
	if _, err := OpenPack(bad, slide, DumpIdentity{Banner: banner}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a pack with a cut line table: %v, want an error naming it", err)
	}
}

// A pack's entries are read whole only as the zip vouches for them: an
// entry cut short or with a wrong CRC is an error, and a header claiming
// a huge size over a few stored bytes does not get a buffer that size.
func TestPackEntryReaderDistrustsHeaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.pack")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	z := zip.NewWriter(f)
	for _, h := range []*zip.FileHeader{
		{Name: "short", Method: zip.Store, CRC32: 0x0d4a1185, CompressedSize64: 5, UncompressedSize64: 1 << 30},
		{Name: "badcrc", Method: zip.Store, CRC32: 1, CompressedSize64: 5, UncompressedSize64: 5},
	} {
		w, err := z.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("hello"))
	}
	if err := errors.Join(z.Close(), f.Close()); err != nil {
		t.Fatal(err)
	}
	r, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := packEntryReader(r, path)
	for _, name := range []string{"short", "badcrc"} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b, err := read(name)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: read %q without an error", name, b)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("%s: %d MB allocated for 5 stored bytes", name, grew>>20)
		}
	}
}
