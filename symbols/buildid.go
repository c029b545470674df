package symbols

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// ELFBuildID returns the GNU build-id note of an ELF file in hex.
func ELFBuildID(f *elf.File) (string, error) {
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		if id, ok := findBuildIDNote(data, f.ByteOrder); ok {
			return id, nil
		}
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > 1<<20 {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		if id, ok := findBuildIDNote(data, f.ByteOrder); ok {
			return id, nil
		}
	}
	return "", fmt.Errorf("no GNU build-id note: %w", ErrNotFound)
}

// NoteBuildID finds the GNU build-id in ELF note data (a PT_NOTE segment
// or an SHT_NOTE section), for callers that read the notes themselves.
func NoteBuildID(data []byte, bo binary.ByteOrder) (string, bool) {
	return findBuildIDNote(data, bo)
}

// findBuildIDNote scans ELF notes for NT_GNU_BUILD_ID owned by "GNU".
func findBuildIDNote(data []byte, bo binary.ByteOrder) (string, bool) {
	for len(data) >= 12 {
		nsz := uint64(bo.Uint32(data))
		dsz := uint64(bo.Uint32(data[4:]))
		typ := bo.Uint32(data[8:])
		nameEnd := 12 + (nsz+3)&^3
		descEnd := nameEnd + (dsz+3)&^3
		if nsz > uint64(len(data)) || dsz > uint64(len(data)) || descEnd > uint64(len(data)) {
			return "", false
		}
		if typ == 3 && nsz == 4 && string(data[12:15]) == "GNU" && dsz > 0 {
			return hex.EncodeToString(data[nameEnd : nameEnd+dsz]), true
		}
		data = data[descEnd:]
	}
	return "", false
}
