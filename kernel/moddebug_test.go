package kernel

import (
	"debug/elf"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// Module frames get file:line from the module's debug .ko, found by the
// build-id the module keeps in the dump: here Debian's pvpanic, taken out
// of the kernel's -dbg package (kept by scripts/fetch-debug-vmlinux.sh) by
// the debuginfo client and cached. Every function of the module is placed
// where elfutils' eu-addr2line places it in that .ko.
func TestModuleSourceLinesFromDebugPackage(t *testing.T) {
	a2l, err := exec.LookPath("eu-addr2line")
	if err != nil {
		t.Skip("eu-addr2line (elfutils) not installed")
	}
	if testing.Short() {
		t.Skip("the first run reads the module out of a 283 MB package")
	}
	debs := filepath.Join(corpus.CacheDir(), "debs")
	if m, _ := filepath.Glob(filepath.Join(debs, "linux-image-"+corpus.Release+"-dbg_*.deb")); len(m) == 0 {
		t.Skipf("no -dbg package in %s (scripts/fetch-debug-vmlinux.sh keeps it)", debs)
	}
	dump := corpus.DumpNamed(t, "null-kdump-zstd")
	d, err := vmcore.Open(dump.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The vmlinux is given, so only the module is looked for.
	client := &debuginfo.Client{PackageDirs: []string{debs}}
	k, err := Attach(d, AttachOptions{Vmlinux: corpus.Vmlinux(t), Fetch: client, WantDWARF: true})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var mod *loadedModule
	for _, m := range k.modules() {
		if m.name == "pvpanic" {
			mod = m
		}
	}
	if mod == nil || mod.buildID == "" {
		t.Fatal("module pvpanic or its build-id not found in the dump")
	}
	checked := 0
	for _, s := range mod.syms {
		pos, ok := k.moduleSourceLine("pvpanic", s.name, 4)
		if checked == 0 && !ok {
			t.Fatalf("%s+4: no source line (debuginfo of build-id %s not found)", s.name, mod.buildID)
		}
		ml := k.modDebug.lines["pvpanic"]
		loc := ml.Funcs()[s.name]
		sec, value := elfSymbol(t, ml.Path, s.name)
		out, err := exec.Command(a2l, "-e", ml.Path, "-j", sec, fmt.Sprintf("%#x", value+4)).Output()
		if err != nil {
			t.Fatal(err)
		}
		file, rest, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
		lineStr, _, _ := strings.Cut(rest, ":")
		line, _ := strconv.Atoi(lineStr)
		if file == "??" {
			continue
		}
		if !ok || pos.Line != line || !strings.HasSuffix(path.Clean(file), pos.File) {
			t.Errorf("%s+4 (section %d): %v %v, eu-addr2line %s", s.name, loc.Section, pos, ok, out)
		}
		checked++
	}
	t.Logf("%d functions of pvpanic checked against eu-addr2line", checked)
	if checked < 2 {
		t.Errorf("only %d functions checked", checked)
	}
}

// elfSymbol returns the section name and value of function name in path.
func elfSymbol(t *testing.T, p, name string) (string, uint64) {
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_FUNC && int(s.Section) < len(f.Sections) {
			return f.Sections[s.Section].Name, s.Value
		}
	}
	t.Fatalf("%s: no function %s", p, name)
	return "", 0
}

// A module file found by name is taken only when its functions lie where
// the dump's kallsyms put them, section by section.
func TestSameLayout(t *testing.T) {
	funcs := map[string]symbols.FuncLoc{
		"a": {Section: 3, Addr: 0x1000}, "b": {Section: 3, Addr: 0x1040}, "c": {Section: 3, Addr: 0x10a0},
		"a.cold": {Section: 5, Addr: 0x2000}, "b.cold": {Section: 5, Addr: 0x2010},
	}
	dump := []modSym{{addr: 0xc000, name: "a"}, {addr: 0xc040, name: "b"}, {addr: 0xc0a0, name: "c"},
		{addr: 0xc0c0, name: "a.cold"}, {addr: 0xc0d0, name: "b.cold"}, {addr: 0xc100, name: "other"}}
	if !sameLayout(funcs, dump) {
		t.Error("the same build was refused")
	}
	dump[1].addr = 0xc050 // b grew: another build
	if sameLayout(funcs, dump) {
		t.Error("another build was taken")
	}
	if sameLayout(map[string]symbols.FuncLoc{"a": {Section: 3, Addr: 0x1000}}, dump) {
		t.Error("taken on one function")
	}
}

// The CentOS 7 oops fixture crashed in the testdata module
// (testdata/gen), whose debug file is kept beside it by build-id
// (testdata/dumps-el7/make-debug.sh): loose, and inside kernel-debuginfo
// RPMs with xz and zstd payloads. With any of the three as
// --debuginfo-dir, every module frame of the panic stack gets the file
// and line elfutils' eu-addr2line gives for it in that file.
func TestModuleFramesSourceLinesEl7(t *testing.T) {
	a2l, err := exec.LookPath("eu-addr2line")
	if err != nil {
		t.Skip("eu-addr2line (elfutils) not installed")
	}
	dir := filepath.Join("..", "testdata", "dumps-el7")
	debugFile := filepath.Join(dir, "debug", "ktriage_crash.ko.debug")
	for _, sub := range []string{"debug", "debug-rpm-xz", "debug-rpm-zstd"} {
		t.Run(sub, func(t *testing.T) {
			d, err := vmcore.Open(filepath.Join(dir, "oops-null-kdump-lzo.vmcore"))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			k, err := Attach(d, AttachOptions{Vmlinux: filepath.Join(dir, "vmlinux-3.10.0-1160.el7.x86_64.pack"),
				DebuginfoDir: filepath.Join(dir, sub), Fetch: &debuginfo.Client{CacheDir: t.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			_, frames, err := k.CPUBacktrace(k.PanicCPU())
			if err != nil {
				t.Fatal(err)
			}
			checked := checkModuleLines(t, a2l, frames, "ktriage_crash", debugFile)
			if checked < 3 {
				t.Errorf("%d module frames checked, want the exception RIP's and its two callers'", checked)
			}
		})
	}
}

// checkModuleLines compares the file:line of each frame of module mod with
// what eu-addr2line gives for it in debugFile, and counts the frames.
func checkModuleLines(t *testing.T, a2l string, frames []Frame, mod, debugFile string) int {
	t.Helper()
	checked := 0
	for _, f := range frames {
		if f.Module != mod {
			continue
		}
		sec, value := elfSymbol(t, debugFile, f.Function)
		at := value + f.Offset
		if !f.Interrupted {
			at-- // the call, not the return address
		}
		out, err := exec.Command(a2l, "-e", debugFile, "-j", sec, fmt.Sprintf("%#x", at)).Output()
		if err != nil {
			t.Fatal(err)
		}
		file, rest, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
		line, _ := strconv.Atoi(strings.Split(rest, ":")[0])
		if f.File == "" || !strings.HasSuffix(path.Clean(file), f.File) || f.Line != line {
			t.Errorf("%s+%#x: %s:%d, eu-addr2line %s", f.Function, f.Offset, f.File, f.Line, out)
		}
		t.Logf("%s+%#x [%s] %s:%d", f.Function, f.Offset, f.Module, f.File, f.Line)
		checked++
	}
	return checked
}

// A 6.1 dump (BTF, no vmlinux) whose tasks sleep in the testdata module,
// with that module build's debug file (testdata/dumps-modules, build-id
// read from the module's note in the dump): every module frame of every
// task gets the file and line eu-addr2line gives.
func TestModuleFramesSourceLines61(t *testing.T) {
	a2l, err := exec.LookPath("eu-addr2line")
	if err != nil {
		t.Skip("eu-addr2line (elfutils) not installed")
	}
	dir := filepath.Join("..", "testdata", "dumps-modules")
	debugFile := filepath.Join(dir, "debug", "ktriage_crash.ko.debug")
	d, err := vmcore.Open(filepath.Join(dir, "lock-hold-qemu-kdump-zlib.vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	k, err := Attach(d, AttachOptions{DebuginfoDir: filepath.Join(dir, "debug")})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for _, m := range k.modules() {
		if m.name == "ktriage_crash" && m.buildID != "132f3a009d1d2f6ca461d2f5284eba2fb02f59aa" {
			t.Fatalf("module build-id %q in the dump, the debug file is 132f3a00…: regenerate both (make.sh)", m.buildID)
		}
	}
	tasks, err := k.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	checked, inTasks := 0, 0
	for _, task := range tasks {
		frames, _ := k.Backtrace(task)
		if n := checkModuleLines(t, a2l, frames, "ktriage_crash", debugFile); n > 0 {
			checked += n
			inTasks++
		}
	}
	t.Logf("%d module frames in %d tasks checked against eu-addr2line", checked, inTasks)
	if checked < 4 {
		t.Errorf("%d module frames checked, want the holder's and the waiters'", checked)
	}
}
