package symbols

import (
	"fmt"
	"os"
	"testing"
)

// What package symbols_test needs from the internal tests, and the hook by
// which the internal tests get the corpus dump: package kernel imports
// symbols, so only the external test package can read a dump through
// vmcore and kernel.

// SysrqDump is set by package symbols_test: it returns the VMCOREINFO
// symbols and the kernel memory of the corpus sysrq-elf dump, or skips.
var SysrqDump func(t testing.TB) (map[string]uint64, Memory)

// FixtureDump is set by package symbols_test too: the VMCOREINFO symbols
// and kernel memory of a dump fixture, or a skip.
var FixtureDump func(t testing.TB, path string) (map[string]uint64, Memory)

// CrashModules parses crash's `mod` output.
var CrashModules = crashModules

// DumpKallsymsBTF decodes a dump's own kallsyms and BTF.
var DumpKallsymsBTF = dumpKallsymsBTF

// MustLookup returns a symbol's address or fails the test.
var MustLookup = mustLookup

// SystemMapPath finds the corpus kernel's System.map or skips.
var SystemMapPath = systemMapPath

// LayoutChecks are the member paths BTF and DWARF must lay out alike.
var LayoutChecks = layoutChecks

// CorpusBuildID is the build-id of the corpus kernel.
const CorpusBuildID = corpusBuildID

// Entry points the tests use on their own: the production path reads the
// kernel's kallsyms and BTF together (FromDump), and BTF out of a vmlinux
// through Vmlinux.

// BTFFromDump reads the kernel's BTF out of the dump, between __start_BTF
// and __stop_BTF (addresses from kallsyms or any other runtime table).
func BTFFromDump(syms SymbolTable, mem Memory) (*BTF, error) {
	return btfFromDump(syms.Lookup, mem)
}

// OpenBTF reads BTF from a vmlinux (its .BTF section) or a raw BTF file
// such as /sys/kernel/btf/vmlinux.
func OpenBTF(path string) (*BTF, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	defer f.Close()
	b, err := LoadBTF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// KallsymsFromDump decodes the running kernel's own symbol table from the
// dump, given VMCOREINFO's SYMBOL() values (runtime addresses). The result
// holds runtime addresses (slide 0). kernels ≥ 6.0 export the needed entries.
func KallsymsFromDump(vmcoreSymbols map[string]uint64, mem Memory) (*Table, error) {
	ds, err := decodeKallsymsFromDump(vmcoreSymbols, mem)
	if err != nil {
		return nil, err
	}
	return ds.table()
}
