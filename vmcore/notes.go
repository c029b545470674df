package vmcore

import (
	"encoding/binary"
	"fmt"
)

// Note is one ELF note from the dump's note area.
type Note struct {
	Name string
	Type uint32
	Desc []byte
}

// maxNotes bounds the note count of a damaged area.
const maxNotes = 1 << 16

// parseNotes walks an ELF note area (4-byte aligned name and desc, as Linux
// writes them even in ELF64 cores).
func parseNotes(b []byte) ([]Note, error) {
	var out []Note
	le := binary.LittleEndian
	for off := 0; off+12 <= len(b); {
		if len(out) >= maxNotes {
			return out, fmt.Errorf("more than %d notes", maxNotes)
		}
		nsz := int(le.Uint32(b[off:]))
		dsz := int(le.Uint32(b[off+4:]))
		typ := le.Uint32(b[off+8:])
		if nsz == 0 && dsz == 0 && typ == 0 {
			break // zero padding after the last note
		}
		p := off + 12
		nEnd := p + align4(nsz)
		if nsz < 0 || dsz < 0 || nEnd < p || nEnd > len(b) || nEnd+align4(dsz) < nEnd || nEnd+dsz > len(b) {
			return out, fmt.Errorf("note at offset %d overruns the note area (name %d, desc %d bytes)", off, nsz, dsz)
		}
		name := b[p : p+nsz]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		out = append(out, Note{Name: string(name), Type: typ, Desc: b[nEnd : nEnd+dsz]})
		off = nEnd + align4(dsz)
	}
	return out, nil
}

func align4(n int) int { return (n + 3) &^ 3 }
