package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// Kernel is a crashed kernel attached to its names and types: the dump's
// memory read through the kernel's page tables, with symbol addresses and
// struct layouts from vmlinux DWARF or from the dump's own kallsyms and BTF.
// Readers ask for fields by name and never care which source is loaded.
type Kernel struct {
	Dump  *vmcore.Dump
	AS    *AddressSpace
	Syms  symbols.SymbolTable
	Types symbols.Types
	// Source says where names and types came from: a vmlinux path, or
	// "kallsyms+BTF from dump".
	Source string
	// Fetched says where a vmlinux brought by build-id came from (a
	// debuginfod server, a debug package); "" for one found on the machine.
	Fetched string
	// Warnings say what could not be loaded (module symbols, for one).
	Warnings []string

	perCPU []uint64 // __per_cpu_offset, one per possible CPU

	tasksOnce sync.Once
	tasks     []Task
	tasksErr  error

	releaseOnce        sync.Once // releaseNumbers
	relMajor, relMinor int
	relOK              bool

	vmlinux *symbols.Vmlinux // closed by Close

	// debugFrame is the .debug_frame of an attached debuginfo pack (a
	// vmlinux's is read from the file named by Source).
	debugFrame []byte
	// packLines are that pack's source lines (nil: none in it).
	packLines *symbols.LineTable

	unwind unwindTables // the Unwinder and its ORC, CFI and module tables, loaded on first use

	modDebug *moduleDebug // modules' line tables, looked for on first use
}

// Close releases the debug vmlinux, if one was attached, saving how far
// this run extended its DWARF index so the next run starts from there. The
// dump stays open: it belongs to the caller.
func (k *Kernel) Close() error {
	if k.vmlinux == nil {
		return nil
	}
	err := k.vmlinux.Close()
	k.vmlinux = nil
	return err
}

// HasLines says whether frames get file:line: a debug vmlinux (not a
// pack, not the dump's own BTF) is attached.
func (k *Kernel) HasLines() bool { return k.vmlinux != nil }

// New attaches already-loaded symbols and types to a dump.
func New(d *vmcore.Dump, as *AddressSpace, syms symbols.SymbolTable, types symbols.Types, source string) *Kernel {
	return &Kernel{Dump: d, AS: as, Syms: syms, Types: types, Source: source}
}

// Addr returns the runtime address of a kernel symbol, from the loaded
// symbol table or, failing that, VMCOREINFO.
func (k *Kernel) Addr(name string) (uint64, error) {
	if k.Syms != nil {
		if a, ok := k.Syms.Lookup(name); ok {
			return a, nil
		}
	}
	if vi := k.Dump.VMCoreInfo; vi != nil {
		if a, ok := vi.Symbol(name); ok {
			return a, nil
		}
	}
	return 0, fmt.Errorf("symbol %s: %w", name, symbols.ErrNotFound)
}

// Off returns the byte offset of a member path in a struct.
func (k *Kernel) Off(structName, path string) (uint64, error) {
	if k.Types == nil {
		return 0, errors.New("no type information loaded")
	}
	return k.Types.MemberOffset(structName, path)
}

// Read reads raw bytes of kernel memory.
func (k *Kernel) Read(p []byte, addr uint64) error { return k.AS.ReadVirt(p, addr) }

// U64 reads a 64-bit value.
func (k *Kernel) U64(addr uint64) (uint64, error) { return k.AS.ReadU64(addr) }

// U32 reads a 32-bit value.
func (k *Kernel) U32(addr uint64) (uint32, error) { return k.AS.ReadU32(addr) }

// Field reads an unsigned integer member of the struct at base, sized by
// its type (1, 2, 4 or 8 bytes); bitfields are extracted.
func (k *Kernel) Field(base uint64, structName, path string) (uint64, error) {
	m, err := k.Types.MemberInfo(structName, path)
	if err != nil {
		return 0, err
	}
	size := m.Type.Size
	if m.IsBitfield() {
		start := m.BitOffset / 8
		span := (m.BitOffset%8 + m.BitSize + 7) / 8
		var b [16]byte
		if err := k.Read(b[:span], base+start); err != nil {
			return 0, err
		}
		v := binary.LittleEndian.Uint64(b[:8])
		v >>= m.BitOffset % 8
		return v & (1<<m.BitSize - 1), nil
	}
	var b [8]byte
	switch size {
	case 1, 2, 4, 8:
	default:
		return 0, fmt.Errorf("%s.%s is %d bytes, not an integer", structName, path, size)
	}
	if err := k.Read(b[:size], base+m.Offset); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// String reads a NUL-terminated string of at most max bytes.
func (k *Kernel) String(addr uint64, max int) (string, error) { return k.AS.ReadString(addr, max) }

// PerCPUOffsets returns __per_cpu_offset[] for the possible CPUs.
func (k *Kernel) PerCPUOffsets() ([]uint64, error) {
	if k.perCPU != nil {
		return k.perCPU, nil
	}
	base, err := k.Addr("__per_cpu_offset")
	if err != nil {
		return nil, err
	}
	n := k.NrCPUIDs()
	offs := make([]uint64, 0, n)
	for i := 0; i < n; i++ {
		v, err := k.U64(base + uint64(i)*8)
		if err != nil {
			return nil, fmt.Errorf("__per_cpu_offset[%d]: %w", i, err)
		}
		offs = append(offs, v)
	}
	k.perCPU = offs
	return offs, nil
}

// NrCPUIDs is the number of possible CPU ids (nr_cpu_ids), bounded, or the
// number of saved CPU states when the variable cannot be read.
func (k *Kernel) NrCPUIDs() int {
	if a, err := k.Addr("nr_cpu_ids"); err == nil {
		if v, err := k.U32(a); err == nil && v > 0 && v <= 8192 {
			return int(v)
		}
	}
	return max(1, len(k.Dump.PRStatus()), k.Dump.NrCPUs)
}

// PerCPUAddr returns the address of a per-CPU variable on one CPU.
func (k *Kernel) PerCPUAddr(name string, cpu int) (uint64, error) {
	a, err := k.Addr(name)
	if err != nil {
		return 0, err
	}
	offs, err := k.PerCPUOffsets()
	if err != nil {
		return 0, err
	}
	if cpu < 0 || cpu >= len(offs) {
		return 0, fmt.Errorf("cpu %d out of range (%d possible)", cpu, len(offs))
	}
	return a + offs[cpu], nil
}

// maxListLen bounds list walks over a possibly corrupt list.
const maxListLen = 1 << 22

// ListEach calls fn with the address of each entry of a list_head ring
// starting at head (head itself excluded), given the offset of the
// list_head member inside the entries. It stops on a cycle or a bad pointer.
func (k *Kernel) ListEach(head, memberOff uint64, fn func(entry uint64) error) error {
	seen := 0
	for p, err := k.U64(head); ; p, err = k.U64(p) {
		if err != nil {
			return fmt.Errorf("list at %#x: %w", head, err)
		}
		if p == head {
			return nil
		}
		if p == 0 {
			return fmt.Errorf("list at %#x: NULL next pointer after %d entries", head, seen)
		}
		if seen++; seen > maxListLen {
			return fmt.Errorf("list at %#x: more than %d entries (corrupt or cyclic)", head, maxListLen)
		}
		if err := fn(p - memberOff); err != nil {
			return err
		}
	}
}

// offsetReader looks up many member offsets and keeps the first error, so a
// reader can ask for its whole layout and check once.
type offsetReader struct {
	k   *Kernel
	err error
}

func (k *Kernel) offsets() *offsetReader { return &offsetReader{k: k} }

func (o *offsetReader) of(structName, path string) uint64 {
	v, err := o.k.Off(structName, path)
	if err != nil && o.err == nil {
		o.err = err
	}
	return v
}

// HlistEach calls fn with the address of each entry of an hlist (hash
// bucket) whose hlist_head is at head, given the offset of the hlist_node
// member inside the entries. hlists end in NULL rather than looping back.
func (k *Kernel) HlistEach(head, memberOff uint64, fn func(entry uint64) error) error {
	seen := 0
	for p, err := k.U64(head); p != 0; p, err = k.U64(p) {
		if err != nil {
			return fmt.Errorf("hlist at %#x: %w", head, err)
		}
		if seen++; seen > maxListLen {
			return fmt.Errorf("hlist at %#x: more than %d entries (corrupt or cyclic)", head, maxListLen)
		}
		if err := fn(p - memberOff); err != nil {
			return err
		}
	}
	return nil
}

// ArrayElem returns the address of element i of an array member, checking
// the index against the array's length when the type says it.
func (k *Kernel) ArrayElem(base uint64, structName, path string, i uint64) (uint64, error) {
	m, err := k.Types.MemberInfo(structName, path)
	if err != nil {
		return 0, err
	}
	if m.Type.ArrayLen != 0 && i >= m.Type.ArrayLen {
		return 0, fmt.Errorf("%s.%s[%d]: index beyond its %d elements", structName, path, i, m.Type.ArrayLen)
	}
	elem := uint64(0)
	if m.Type.ArrayLen != 0 {
		elem = m.Type.Size / m.Type.ArrayLen
	}
	if elem == 0 {
		return 0, fmt.Errorf("%s.%s: element size unknown", structName, path)
	}
	return base + m.Offset + i*elem, nil
}

// reserve and release use the dump's memory budget (vmcore.Budget) around
// an allocation sized by a value read from the dump.
func (k *Kernel) reserve(what string, n int64) error {
	if k.Dump == nil {
		return nil
	}
	return k.Dump.Reserve(what, n)
}

func (k *Kernel) release(n int64) {
	if k.Dump != nil {
		k.Dump.Release(n)
	}
}
