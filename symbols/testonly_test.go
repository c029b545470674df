package symbols

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
)

// Functions only the tests use: kept beside them rather than as API no
// command calls.

// CheckVmlinux verifies that the vmlinux at path was built for the dump:
// build-ids first; when the dump has none, the linux_banner texts.
func CheckVmlinux(path string, dump DumpIdentity) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("symbols: %w", err)
	}
	defer f.Close()
	return checkELF(f, path, dump)
}

// DumpBanner reads linux_banner from the dump's memory.
func DumpBanner(syms SymbolTable, mem Memory) (string, error) {
	a, ok := syms.Lookup("linux_banner")
	if !ok {
		return "", fmt.Errorf("linux_banner: %w", ErrNotFound)
	}
	b := make([]byte, 512)
	if err := mem.ReadVirt(b, a); err != nil {
		return "", fmt.Errorf("reading linux_banner at %#x: %w", a, err)
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}

// buildDWARFIndex walks every unit.
func buildDWARFIndex(s *dwarfSections, workers int) (*dwarfIndex, error) {
	x, err := newDWARFIndex(s)
	if err != nil {
		return nil, err
	}
	if err := x.walkTo(s, len(x.units), workers); err != nil {
		return nil, err
	}
	return x, nil
}

// OpenELFSymbols opens path and reads its symbol table.
func OpenELFSymbols(path string, slide uint64) (*Table, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	defer f.Close()
	t, err := ELFSymbols(f, slide)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// OpenSystemMap parses the System.map file at path.
func OpenSystemMap(path string, slide uint64) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	defer f.Close()
	t, err := ParseSystemMap(f, slide)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
