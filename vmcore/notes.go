package vmcore

import (
	"encoding/binary"

	"github.com/ktriage/ktriage/elfcore"
)

// Note is one ELF note from the dump's note area: elfcore's, whichever
// format the dump is in (a kdump-compressed dump carries the same notes).
type Note = elfcore.Note

// parseNotes walks the note area of a kdump-compressed dump with elfcore's
// bounded parser.
func parseNotes(b []byte) ([]Note, error) {
	return elfcore.ParseNotes(b, binary.LittleEndian)
}
