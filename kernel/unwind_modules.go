package kernel

import (
	"encoding/binary"
	"errors"
	"sort"

	"github.com/ktriage/ktriage/kernel/unwind"
	"github.com/ktriage/ktriage/symbols"
)

// Loadable modules carry their own ORC tables (struct module's arch
// member) and their own symbols (mod->kallsyms), neither of which the
// core kernel's kallsyms or vmlinux know.

// loadedModule is what unwinding needs from one struct module.
type loadedModule struct {
	name    string
	addr    uint64       // struct module
	buildID string       // of its .ko, from the notes it keeps in memory
	text    []StackRange // text ranges: core text, init text
	orc     *unwind.ORCTable
	syms    []modSym // sorted by addr
	symErr  error
	// objects are the module's data symbols (locks, tables), read on the
	// first Symbolize of an address no text holds.
	objects     []modSym
	objectsRead bool
}

type modSym struct {
	addr, size uint64
	name       string
}

// maxModules and maxModSyms bound reads from a corrupt module list.
const (
	maxModules = 4096
	maxModSyms = 1 << 20
)

func (k *Kernel) modules() []*loadedModule {
	u := &k.unwind
	u.modOnce.Do(func() { u.mods = k.loadModules() })
	return u.mods
}

func (k *Kernel) moduleAt(pc uint64) *loadedModule {
	for _, m := range k.modules() {
		for _, r := range m.text {
			if r.Contains(pc) {
				return m
			}
		}
	}
	return nil
}

// loadModules walks the modules list. Failures leave modules out: their
// frames then show as bare addresses, which is what a reader can check.
func (k *Kernel) loadModules() []*loadedModule {
	head, err := k.Addr("modules")
	if err != nil {
		return nil
	}
	listOff, err := k.Off("module", "list")
	if err != nil {
		return nil
	}
	nameOff, err := k.Off("module", "name")
	if err != nil {
		return nil
	}
	var out []*loadedModule
	enough := errors.New("enough modules")
	_ = k.ListEach(head, listOff, func(mod uint64) error {
		if len(out) >= maxModules {
			return enough
		}
		name, err := k.String(mod+nameOff, 56)
		if err != nil {
			return nil
		}
		m := &loadedModule{name: name, addr: mod, text: k.moduleText(mod), buildID: symbols.ModuleBuildID(mod, k.AS, k.Types)}
		m.orc = k.moduleORC(mod)
		m.syms = k.moduleSyms(mod, stFunc)
		out = append(out, m)
		return nil
	})
	return out
}

// moduleText returns the module's text ranges: 6.4+ mem[MOD_TEXT] and
// mem[MOD_INIT_TEXT], before that core_layout and init_layout (base,
// text_size).
func (k *Kernel) moduleText(mod uint64) []StackRange {
	var out []StackRange
	if k.Types.HasMember("module", "mem") {
		for _, idx := range []string{"mem[0]", "mem[4]"} { // MOD_TEXT, MOD_INIT_TEXT
			base, err1 := k.Field(mod, "module", idx+".base")
			size, err2 := k.Field(mod, "module", idx+".size")
			if err1 == nil && err2 == nil && base != 0 && size != 0 {
				out = append(out, StackRange{Name: "text", Lo: base, Hi: base + size})
			}
		}
		return out
	}
	fields := [][2]string{{"core_layout.base", "core_layout.text_size"}, {"init_layout.base", "init_layout.text_size"}}
	if !k.Types.HasMember("module", "core_layout") { // before 4.5 (3.10, RHEL 7)
		fields = [][2]string{{"module_core", "core_text_size"}, {"module_init", "init_text_size"}}
	}
	for _, f := range fields {
		base, err1 := k.Field(mod, "module", f[0])
		size, err2 := k.Field(mod, "module", f[1])
		if err1 == nil && err2 == nil && base != 0 && size != 0 {
			out = append(out, StackRange{Name: "text", Lo: base, Hi: base + size})
		}
	}
	return out
}

func (k *Kernel) moduleORC(mod uint64) *unwind.ORCTable {
	n, err1 := k.Field(mod, "module", "arch.num_orcs")
	ipAddr, err2 := k.Field(mod, "module", "arch.orc_unwind_ip")
	entAddr, err3 := k.Field(mod, "module", "arch.orc_unwind")
	if err1 != nil || err2 != nil || err3 != nil || n == 0 || n > unwind.MaxORCEntries || ipAddr == 0 || entAddr == 0 {
		return nil
	}
	if k.reserve("a module's ORC table", int64(n)*(4+8+unwind.ORCEntrySize)) != nil {
		return nil
	}
	ipRaw := make([]byte, n*4)
	ents := make([]byte, n*unwind.ORCEntrySize)
	if k.Read(ipRaw, ipAddr) != nil || k.Read(ents, entAddr) != nil {
		return nil
	}
	t, err := unwind.ParseORCTable(ipRaw, ipAddr, ents, k.orcLayoutFor())
	if err != nil {
		return nil
	}
	return t
}

// ELF symbol types (st_info & 0xf).
const (
	stObject = 1
	stFunc   = 2
)

// moduleSyms reads the module's symbols of one type from mod->kallsyms
// (Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64).
func (k *Kernel) moduleSyms(mod uint64, symType byte) []modSym {
	ks, err := k.Field(mod, "module", "kallsyms")
	if err != nil || ks == 0 {
		return nil
	}
	symtab, err1 := k.Field(ks, "mod_kallsyms", "symtab")
	num, err2 := k.Field(ks, "mod_kallsyms", "num_symtab")
	strtab, err3 := k.Field(ks, "mod_kallsyms", "strtab")
	if err1 != nil || err2 != nil || err3 != nil || num == 0 || num > maxModSyms {
		return nil
	}
	if k.reserve("a module's symbol table", int64(num)*24) != nil {
		return nil
	}
	defer k.release(int64(num) * 24) // raw is dropped once decoded
	raw := make([]byte, num*24)
	if k.Read(raw, symtab) != nil {
		return nil
	}
	var out []modSym
	for i := uint64(0); i < num; i++ {
		e := raw[i*24:]
		info := e[4]
		if info&0xf != symType {
			continue
		}
		value := binary.LittleEndian.Uint64(e[8:])
		if value == 0 {
			continue
		}
		name, err := k.String(strtab+uint64(binary.LittleEndian.Uint32(e)), 128)
		if err != nil || name == "" {
			continue
		}
		out = append(out, modSym{addr: value, size: binary.LittleEndian.Uint64(e[16:]), name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	return out
}

// Symbolize names the symbol holding addr — a function, or a global such
// as a lock, of the kernel or of a module — with the offset into it.
func (k *Kernel) Symbolize(addr uint64) (name string, off uint64, module string, ok bool) {
	if name, off, _, module, ok = k.symbolize(addr); ok {
		return
	}
	// Module data: no module's text holds it; a data symbol whose extent does.
	for _, m := range k.modules() {
		if !m.objectsRead {
			m.objects, m.objectsRead = k.moduleSyms(m.addr, stObject), true
		}
		for _, s := range m.objects {
			if addr >= s.addr && addr < s.addr+max(s.size, 1) {
				return s.name, addr - s.addr, m.name, true
			}
		}
	}
	return "", 0, "", false
}

// symbolize names the function holding addr: core kernel symbols first,
// then the module whose text holds it.
func (k *Kernel) symbolize(addr uint64) (name string, off, size uint64, module string, ok bool) {
	if addr < kernelMapEnd && k.Syms != nil {
		if n, o, s, ok := k.Syms.Symbolize(addr); ok {
			// Where the image was limited to 512 MiB (3.10, RHEL 7),
			// modules are mapped right above it, below kernelMapEnd.
			if addr >= oldModulesVaddr {
				if m := k.moduleAt(addr); m != nil {
					return n, o, s, m.name, true
				}
			}
			return n, o, s, "", true
		}
		return "", 0, 0, "", false
	}
	m := k.moduleAt(addr)
	if m == nil {
		return "", 0, 0, "", false
	}
	// The attached symbols hold the modules' symbols too, sized as the
	// kernel sizes them; the module's own table is the fallback when they
	// could not be read.
	if k.Syms != nil {
		if n, o, s, ok := k.Syms.Symbolize(addr); ok {
			return n, o, s, m.name, true
		}
	}
	i := sort.Search(len(m.syms), func(i int) bool { return m.syms[i].addr > addr }) - 1
	if i < 0 {
		return "", addr - m.text[0].Lo, 0, m.name, false
	}
	s := m.syms[i]
	return s.name, addr - s.addr, m.symSize(i), m.name, true
}

// symSize is how far symbol i extends, as the kernel counts it for an oops
// line (find_kallsyms_symbol): to the next symbol, or to the end of the
// text holding it, not the symbol's st_size (which leaves out the padding
// before the next function: 0x26 where the kernel prints 0x30).
func (m *loadedModule) symSize(i int) uint64 {
	s := m.syms[i]
	end := s.addr + s.size
	for _, r := range m.text {
		if s.addr >= r.Lo && s.addr < r.Hi {
			end = r.Hi
		}
	}
	for j := i + 1; j < len(m.syms); j++ {
		if m.syms[j].addr > s.addr {
			end = min(end, m.syms[j].addr)
			break
		}
	}
	return end - s.addr
}
