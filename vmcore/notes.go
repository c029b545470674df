package vmcore

import (
	"encoding/binary"

	"github.com/ktriage/ktriage/elfcore"
)

// Note is one ELF note from the dump's note area.
type Note struct {
	Name string
	Type uint32
	Desc []byte
}

// parseNotes walks the note area of a kdump-compressed dump (the same ELF
// notes an ELF core carries), with elfcore's bounded parser.
func parseNotes(b []byte) ([]Note, error) {
	ns, err := elfcore.ParseNotes(b, binary.LittleEndian)
	out := make([]Note, 0, len(ns))
	for _, n := range ns {
		out = append(out, Note{Name: n.Name, Type: n.Type, Desc: n.Desc})
	}
	return out, err
}
