package symbols_test

import (
	"sync"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// corpusDump is a corpus dump read by the production readers: vmcore for
// the file and its VMCOREINFO, kernel for the page tables. Its ReadVirt
// makes it a symbols.Memory.
type corpusDump struct {
	*kernel.AddressSpace
	dump *vmcore.Dump
}

func openCorpusDump(files ...string) (*corpusDump, error) {
	d, err := vmcore.Open(files...)
	if err != nil {
		return nil, err
	}
	as, err := kernel.NewAddressSpace(d)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &corpusDump{AddressSpace: as, dump: d}, nil
}

// symbolValues returns the VMCOREINFO SYMBOL(x) entries keyed by x.
func (d *corpusDump) symbolValues() map[string]uint64 { return d.dump.VMCoreInfo.Symbols() }

var (
	sysrqOnce sync.Once
	sysrqVal  *corpusDump
	sysrqErr  error
)

// sysrqDump opens the sysrq-elf corpus dump once, or skips.
func sysrqDump(t testing.TB) *corpusDump {
	t.Helper()
	var files []string
	for _, c := range corpus.Dumps(t) {
		if c.Name == "sysrq-elf" {
			files = c.Files // unpacked once by internal/corpus
		}
	}
	if files == nil {
		t.Skip("sysrq-elf not in the corpus")
	}
	sysrqOnce.Do(func() { sysrqVal, sysrqErr = openCorpusDump(files...) })
	if sysrqErr != nil {
		t.Skipf("sysrq-elf dump unavailable: %v", sysrqErr)
	}
	return sysrqVal
}

// The internal tests that need the dump get it from here.
func init() {
	symbols.SysrqDump = func(t testing.TB) (map[string]uint64, symbols.Memory) {
		d := sysrqDump(t)
		return d.symbolValues(), d
	}
	symbols.FixtureDump = func(t testing.TB, path string) (map[string]uint64, symbols.Memory) {
		d, err := openCorpusDump(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.dump.Close() })
		return d.symbolValues(), d
	}
}
