package kernel

import "github.com/ktriage/ktriage/vmcore"

// Attach sets up a Kernel over a dump with an address space of its own
// (the tests; commands go through Open).
func Attach(d *vmcore.Dump, opts AttachOptions) (*Kernel, error) {
	as, err := NewAddressSpace(d)
	if err != nil {
		return nil, err
	}
	return attach(d, as, opts, nil)
}
