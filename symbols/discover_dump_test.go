package symbols_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/symbols"
)

// The real vmlinux matches the real dump by build-id and by banner, and is
// refused for a dump claiming another build.
func TestCheckVmlinuxAgainstCorpusDump(t *testing.T) {
	d := sysrqDump(t)
	path := corpus.Vmlinux(t)
	dumpID := d.dump.VMCoreInfo.BuildID()
	if err := symbols.CheckVmlinux(path, symbols.DumpIdentity{BuildID: dumpID}); err != nil {
		t.Fatalf("the corpus vmlinux refused for its own dump: %v", err)
	}
	ks, err := symbols.KallsymsFromDump(d.symbolValues(), d)
	if err != nil {
		t.Fatal(err)
	}
	banner, err := symbols.DumpBanner(ks, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(banner, "Linux version "+corpus.Release) {
		t.Errorf("dump banner %q", banner)
	}
	if err := symbols.CheckVmlinux(path, symbols.DumpIdentity{Banner: banner}); err != nil {
		t.Errorf("banner check refused the matching vmlinux: %v", err)
	}
	var mm *symbols.MismatchError
	if err := symbols.CheckVmlinux(path, symbols.DumpIdentity{Banner: strings.Replace(banner, "6.1.192-2", "6.1.191-1", 1)}); !errors.As(err, &mm) || !mm.ByBanner {
		t.Errorf("different banner accepted: %v", err)
	}
	wrong := strings.Repeat("0", 40)
	err = symbols.CheckVmlinux(path, symbols.DumpIdentity{BuildID: wrong})
	if !errors.As(err, &mm) || mm.VmlinuxID != symbols.CorpusBuildID || mm.DumpID != wrong {
		t.Errorf("wrong build-id: %v", err)
	}
}
