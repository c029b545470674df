package symbols

import "testing"

// What package symbols_test needs from the internal tests, and the hook by
// which the internal tests get the corpus dump: package kernel imports
// symbols, so only the external test package can read a dump through
// vmcore and kernel.

// SysrqDump is set by package symbols_test: it returns the VMCOREINFO
// symbols and the kernel memory of the corpus sysrq-elf dump, or skips.
var SysrqDump func(t testing.TB) (map[string]uint64, Memory)

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
