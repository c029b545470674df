package symbols

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
)

const corpusRelease = corpus.Release
const corpusBuildID = "3b43fad5034874490492495d552c0af6a5fab235"

// repoRoot is the module root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// vmlinuxPath finds the corpus kernel's debug vmlinux or skips.
func vmlinuxPath(t testing.TB) string { return corpus.Vmlinux(t) }

func systemMapPath(t testing.TB) string {
	p := filepath.Join(filepath.Dir(vmlinuxPath(t)), "System.map-"+corpusRelease)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("System.map not found at %s: %v", p, err)
	}
	return p
}

// sysrqDump returns the VMCOREINFO symbols and the kernel memory of the
// corpus sysrq-elf dump, which package symbols_test opens through the
// production readers (vmcore, kernel) and hands over by SysrqDump; or skips.
func sysrqDump(t testing.TB) (map[string]uint64, Memory) {
	t.Helper()
	if SysrqDump == nil {
		t.Skip("no dump reader: package symbols_test sets SysrqDump")
	}
	return SysrqDump(t)
}

// dumpKallsymsBTF decodes the dump's own kallsyms and BTF.
func dumpKallsymsBTF(t testing.TB, syms map[string]uint64, mem Memory) (*Table, *BTF) {
	t.Helper()
	ks, err := KallsymsFromDump(syms, mem)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BTFFromDump(ks, mem)
	if err != nil {
		t.Fatal(err)
	}
	return ks, b
}
