package kernel

import (
	"fmt"

	"github.com/ktriage/ktriage/kernel/unwind"
)

// The kernel keeps its ORC tables in memory (kernel/unwind reads the
// format); here is where they lie and which layout their entries use.

// orcLayoutFor picks the entry layout from struct orc_entry's last bit
// field (6.4 replaced "end" by "signal"), or, when the types do not
// describe the struct, from the kernel release.
func (k *Kernel) orcLayoutFor() unwind.ORCLayout {
	if k.Types != nil {
		switch {
		case k.Types.HasMember("orc_entry", "signal"):
			return unwind.ORCLayout64
		case k.Types.HasMember("orc_entry", "end"):
			return unwind.ORCLayout61
		}
	}
	if k.kernelBefore(6, 4) {
		return unwind.ORCLayout61
	}
	return unwind.ORCLayout64
}

// kernelORCBounds locates the kernel's ORC arrays through the
// __start/__stop_orc_unwind* symbols (kallsyms carries them, so no vmlinux
// is needed).
func (k *Kernel) kernelORCBounds() (unwind.ORCBounds, error) {
	ipStart, err := k.Addr("__start_orc_unwind_ip")
	if err != nil {
		return unwind.ORCBounds{}, fmt.Errorf("orc: %w", err)
	}
	ipStop, err := k.Addr("__stop_orc_unwind_ip")
	if err != nil {
		return unwind.ORCBounds{}, fmt.Errorf("orc: %w", err)
	}
	entStart, err := k.Addr("__start_orc_unwind")
	if err != nil {
		return unwind.ORCBounds{}, fmt.Errorf("orc: %w", err)
	}
	if ipStop <= ipStart || (ipStop-ipStart)%4 != 0 || (ipStop-ipStart)/4 > unwind.MaxORCEntries {
		return unwind.ORCBounds{}, fmt.Errorf("orc: implausible .orc_unwind_ip bounds %#x..%#x", ipStart, ipStop)
	}
	// The last entry is objtool's terminator; anything up to the end of
	// the kernel image (modules live above it) falls under it.
	return unwind.ORCBounds{IPAddr: ipStart, EntAddr: entStart, N: int((ipStop - ipStart) / 4), End: kernelMapEnd}, nil
}

// openKernelORC opens the kernel's table where it lies in the dump.
func (k *Kernel) openKernelORC() (*unwind.InPlaceORC, error) {
	b, err := k.kernelORCBounds()
	if err != nil {
		return nil, err
	}
	return unwind.OpenInPlaceORC(k.AS, b, k.orcLayoutFor())
}
