package minimize

import (
	"github.com/ktriage/ktriage/vmcore"
)

// redactor decides which kept pages may leave the machine and rewrites
// names in the ones that do.
type redactor struct {
	d    *vmcore.Dump
	opts Options
	done []Redaction
}

func newRedactor(d *vmcore.Dump, opts Options) (*redactor, error) {
	return &redactor{d: d, opts: opts}, nil
}

func (r *redactor) filter(pfns []uint64, reason map[uint64]string, m *Manifest) []uint64 {
	return pfns
}

func (r *redactor) rewrite(pfn uint64, page []byte) {}

func (r *redactor) hostname(h string) string { return h }
