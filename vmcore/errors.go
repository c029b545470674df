package vmcore

import (
	"errors"
	"fmt"
)

// Errors a physical read can return. They tell "the page was never in the
// dump" apart from "the file is damaged", which matters to a user deciding
// whether a dump can be trusted.
var (
	// ErrExcluded: the page was RAM but makedumpfile filtered it out (-d).
	ErrExcluded = errors.New("page excluded from the dump by filtering")
	// ErrNotPresent: no RAM at that physical address (a hole), or beyond the dump.
	ErrNotPresent = errors.New("physical address not in the dump")
	// ErrLost: the dump is incomplete (the capture ran out of space) and this page was not written.
	ErrLost = errors.New("page lost: the dump is incomplete")
	// ErrDamaged: the page's data is in the file but fails the format's own
	// check (zlib adler32, a decompressed length, a codec error): its
	// content is not used.
	ErrDamaged = errors.New("page damaged")
)

// FormatError reports damage or an unsupported format, naming the file and
// the offset where it was found.
type FormatError struct {
	Path   string
	Offset int64
	Msg    string
	Err    error // a sentinel the damage is an instance of (ErrDamaged), or nil
}

func (e *FormatError) Unwrap() error { return e.Err }

func (e *FormatError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s: %s (at offset %#x)", e.Path, e.Msg, e.Offset)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

func formatErr(path string, off int64, format string, args ...any) error {
	return &FormatError{Path: path, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// formatErrWrap is formatErr for damage another layer reported (elfcore's
// typed errors, a read error): the message says it, and errors.As and
// errors.Is still reach it through Unwrap.
func formatErrWrap(path string, off int64, cause error, format string, args ...any) error {
	return &FormatError{Path: path, Offset: off, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// damagedPage reports a page whose stored data fails its check.
func damagedPage(path string, off int64, pfn uint64, why error) error {
	return &FormatError{Path: path, Offset: off, Msg: fmt.Sprintf("pfn %#x: page damaged: %v", pfn, why), Err: ErrDamaged}
}
