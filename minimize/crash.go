package minimize

import (
	"encoding/binary"
	"fmt"

	"github.com/ktriage/ktriage/kernel"
)

// What crash reads when it opens a dump and runs log, sys, bt, bt -a, ps
// and foreach bt, beyond what ktriage's own readers touch. The classes
// were found by running crash -d4 on the corpus dumps (its readmem trace
// names every read) and are read here the way the kernel lays them out,
// not as a list of addresses: any kernel's copy gets the same classes.
const (
	ReasonCrashVars    = "crash: the kernel's variables (.data, .bss, per-CPU areas)"
	ReasonCrashSection = "crash: the memory section tables (SPARSEMEM)"
	ReasonCrashStacks  = "crash: whole kernel stacks of running and blocked tasks, IRQ and exception stacks"
	ReasonCrashText    = "crash: code and ORC entries around every kernel return address on those stacks"
	ReasonCrashModules = "crash: loaded modules (struct module, code and symbols)"
	ReasonCrashPIDs    = "crash: the PID table (init_pid_ns radix tree, struct pid)"
	ReasonCrashNodes   = "crash: memory nodes and zones, memory block devices"
	ReasonAllStacks    = "stacks: the whole kernel stack of every other task (foreach bt)"
)

// crashReader reads for crash with the hook crediting each class.
type crashReader struct {
	g     *gatherer
	k     *kernel.Kernel
	tasks []kernel.Task
}

func (g *gatherer) keepForCrash(k *kernel.Kernel, tasks []kernel.Task) {
	c := &crashReader{g: g, k: k, tasks: tasks}
	g.cur = ReasonCrashVars
	c.kernelVariables()
	g.cur = ReasonCrashSection
	c.memSections()
	g.cur = ReasonCrashNodes
	c.nodes()
	c.memoryBlocks()
	g.cur = ReasonCrashModules
	c.modules()
	g.cur = ReasonCrashPIDs
	c.pidTable()
	g.cur = ReasonCrashStacks
	var stacks []kernel.StackRange
	for cpu := 0; cpu < k.NrCPUIDs(); cpu++ {
		if rs, err := k.CPUStacks(cpu); err == nil {
			stacks = append(stacks, rs...)
		}
	}
	var others []kernel.StackRange
	for _, t := range tasks {
		r, ok := k.TaskStack(t)
		if !ok {
			continue
		}
		if t.Active || t.State == kernel.StateUninterruptible {
			stacks = append(stacks, r)
		} else {
			others = append(others, r)
		}
	}
	words := c.readStacks(stacks)
	g.cur = ReasonCrashText
	c.returnAddresses(words)
	g.cur = ReasonAllStacks
	words = c.readStacks(others)
	c.returnAddresses(words)
}

// span reads [lo, hi) page by page, so the hook sees every page and the
// page tables reaching it; unreadable pages are skipped.
func (c *crashReader) span(lo, hi uint64) {
	if hi <= lo || hi-lo > 256<<20 {
		return
	}
	readRange(c.k, lo, hi-lo)
}

func (c *crashReader) symSpan(start, end string) {
	lo, err1 := c.k.Addr(start)
	hi, err2 := c.k.Addr(end)
	if err1 == nil && err2 == nil {
		c.span(lo, hi)
	}
}

// kernelVariables: crash reads dozens of globals (page_offset_base, the
// CPU masks, jiffies, the printk ring, idt_table, runqueues …) wherever
// they lie in the image's data, and per-CPU variables on every CPU.
func (c *crashReader) kernelVariables() {
	c.symSpan("_sdata", "_edata")
	c.symSpan("__bss_start", "__bss_stop")
	c.symSpan("__start_ro_after_init", "__end_ro_after_init")
	// Read-only data crash checks: the banner it compares with the
	// vmlinux, taint flag names, page flag names, task state names, the
	// maple tree's node geometry (crash 8.0.3+).
	for _, name := range []string{"linux_banner", "taint_flags", "pageflag_names", "task_state_array", "mt_slots", "mt_pivots"} {
		if a, err := c.k.Addr(name); err == nil {
			size := uint64(512)
			if _, _, sz, ok := c.k.Syms.Symbolize(a); ok && sz > 0 && sz < 64<<10 {
				size = sz
			}
			c.span(a, a+size)
		}
	}
	if a, err := c.k.Addr("task_state_array"); err == nil {
		c.stringsAt(a, 16)
	}
	// pageflag_names: {mask, name} pairs ending in a NULL name.
	if a, err := c.k.Addr("pageflag_names"); err == nil {
		for i := uint64(0); i < 64; i++ {
			name, err := c.k.U64(a + i*16 + 8)
			if err != nil || name == 0 {
				break
			}
			c.stringsAt(a+i*16+8, 1)
		}
	}
	if a, err := c.k.Addr("pv_info"); err == nil {
		if off, err := c.k.Off("pv_info", "name"); err == nil {
			c.stringsAt(a+off, 1)
		}
	}
	// crash tells a frame-pointer kernel from the first bytes of these.
	for _, name := range []string{"__x64_sys_open", "sys_open", "__x64_sys_fork", "sys_fork",
		"__x64_sys_read", "sys_read", "vfs_read", "do_futex"} {
		if a, err := c.k.Addr(name); err == nil {
			c.span(a, a+16)
		}
	}
	// It finds where a switched-out task resumes by disassembling
	// __schedule (schedule on old kernels), and how an interrupt frame
	// links to the task's stack from common_interrupt, as many
	// instructions as the function has bytes, so gdb reads well past its
	// end.
	for _, names := range [][]string{{"__schedule", "schedule"}, {"common_interrupt"}} {
		for _, name := range names {
			if a, err := c.k.Addr(name); err == nil {
				size := uint64(4096)
				if _, off, sz, ok := c.k.Syms.Symbolize(a); ok && off == 0 && sz > 0 && sz < 64<<10 {
					size = sz
				}
				c.span(a, a+min(15*size, 256<<10))
				break
			}
		}
	}
	if p, err := c.k.Addr("kmem_cache"); err == nil {
		if cache, err := c.k.U64(p); err == nil && cache != 0 {
			c.structAt(cache, "kmem_cache")
		}
	}
	// crash reads __per_cpu_offset whole (NR_CPUS entries).
	if a, err := c.k.Addr("__per_cpu_offset"); err == nil {
		c.span(a, a+8*8192)
	}
	lo, err1 := c.k.Addr("__per_cpu_start")
	hi, err2 := c.k.Addr("__per_cpu_end")
	offs, err3 := c.k.PerCPUOffsets()
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	for _, off := range offs {
		c.span(lo+off, hi+off)
	}
}

// memSections reads the mem_section root table and every section array it
// points to (SPARSEMEM_EXTREME), or the static array.
func (c *crashReader) memSections() {
	vi := c.k.Dump.VMCoreInfo
	addr, ok := vi.Symbol("mem_section")
	if !ok {
		return
	}
	length, okLen := vi.Length("mem_section")
	size, okSize := vi.Size("mem_section")
	if !okLen || !okSize || length <= 0 || size <= 0 || length > 1<<20 {
		return
	}
	perRoot := uint64(4096 / size)
	// SPARSEMEM_EXTREME (every distribution's x86_64 kernel): VMCOREINFO
	// names the root table the kernel allocated, in the direct map;
	// otherwise the static two-level array in the kernel image.
	if po := c.k.AS.PageOffset; po == 0 || addr < po || addr >= 0xffffffff80000000 {
		c.span(addr, addr+uint64(length)*perRoot*uint64(size))
		return
	}
	c.span(addr, addr+uint64(length)*8)
	for i := uint64(0); i < uint64(length); i++ {
		p, err := c.k.U64(addr + i*8)
		if err != nil || p == 0 {
			continue
		}
		c.span(p, p+perRoot*uint64(size))
	}
}

// nodes reads each online node's pglist_data (crash reads its zones).
func (c *crashReader) nodes() {
	base, err := c.k.Addr("node_data")
	if err != nil {
		return
	}
	size, err := c.k.Types.StructSize("pglist_data")
	if err != nil || size > 1<<20 {
		return
	}
	n := uint64(1)
	if v, ok := c.k.Dump.VMCoreInfo.Length("node_data"); ok && v > 0 && v <= 1<<10 {
		n = uint64(v)
	}
	for i := uint64(0); i < n; i++ {
		p, err := c.k.U64(base + i*8)
		if err != nil || p == 0 {
			continue
		}
		c.span(p, p+size)
		c.zoneNames(p)
	}
}

// zoneNames keeps the name of every zone of a node.
func (c *crashReader) zoneNames(pgdat uint64) {
	m, err := c.k.Types.MemberInfo("pglist_data", "node_zones")
	if err != nil || m.Type.ArrayLen == 0 || m.Type.ArrayLen > 16 {
		return
	}
	nameOff, err := c.k.Off("zone", "name")
	if err != nil {
		return
	}
	for i := uint64(0); i < m.Type.ArrayLen; i++ {
		if z, err := c.k.ArrayElem(pgdat, "pglist_data", "node_zones", i); err == nil {
			c.stringsAt(z+nameOff, 1)
		}
	}
}

// memoryBlocks reads the memory block devices of memory_subsys (crash
// lists them when it opens a dump): the subsystem's private part, its
// device klist, each device_private, device and memory_block.
func (c *crashReader) memoryBlocks() {
	k := c.k
	sub, err := k.Addr("memory_subsys")
	if err != nil {
		return
	}
	p, err := k.Field(sub, "bus_type", "p")
	if err != nil || p == 0 {
		return
	}
	c.structAt(p, "subsys_private")
	klistOff, err1 := k.Off("subsys_private", "klist_devices")
	listOff, err2 := k.Off("klist", "k_list")
	nodeOff, err3 := k.Off("device_private", "knode_bus")
	nOff, err4 := k.Off("klist_node", "n_node")
	devOff, err5 := k.Off("device_private", "device")
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil {
		return
	}
	memDevOff, errMem := k.Off("memory_block", "dev")
	kobjNameOff, errName := k.Off("device", "kobj.name")
	k.ListEach(p+klistOff+listOff, nodeOff+nOff, func(priv uint64) error {
		c.structAt(priv, "device_private")
		dev, err := k.U64(priv + devOff)
		if err != nil || dev == 0 {
			return nil
		}
		c.structAt(dev, "device")
		if errName == nil {
			c.stringsAt(dev+kobjNameOff, 1)
		}
		if errMem == nil && dev > memDevOff {
			c.structAt(dev-memDevOff, "memory_block")
		}
		return nil
	})
}

// crashStringLen is how much crash reads at once for a string: a string
// is kept with what follows it up to there, or crash's read fails.
const crashStringLen = 1500

// stringsAt keeps the strings n consecutive pointers at addr point to.
func (c *crashReader) stringsAt(addr uint64, n int) {
	for i := 0; i < n; i++ {
		p, err := c.k.U64(addr + uint64(i)*8)
		if err != nil {
			return
		}
		if p != 0 {
			c.span(p, p+crashStringLen)
		}
	}
}

// structAt reads one struct whole.
func (c *crashReader) structAt(addr uint64, name string) {
	if size, err := c.k.Types.StructSize(name); err == nil && size < 1<<20 {
		c.span(addr, addr+size)
	}
}

// modules reads every loaded module's struct module and its memory
// (code, data, ORC tables, symbol tables: crash reads its kallsyms there).
func (c *crashReader) modules() {
	k := c.k
	head, err := k.Addr("modules")
	if err != nil {
		return
	}
	listOff, err := k.Off("module", "list")
	if err != nil {
		return
	}
	n := 0
	k.ListEach(head, listOff, func(mod uint64) error {
		if n++; n > 4096 {
			return fmt.Errorf("too many modules")
		}
		c.structAt(mod, "module")
		if k.Types.HasMember("module", "mem") {
			for i := 0; i < 7; i++ { // enum mod_mem_type
				base, err1 := k.Field(mod, "module", fmt.Sprintf("mem[%d].base", i))
				size, err2 := k.Field(mod, "module", fmt.Sprintf("mem[%d].size", i))
				if err1 == nil && err2 == nil && base != 0 {
					c.span(base, base+size)
				}
			}
		} else {
			base, err1 := k.Field(mod, "module", "core_layout.base")
			size, err2 := k.Field(mod, "module", "core_layout.size")
			if err1 == nil && err2 == nil && base != 0 {
				c.span(base, base+size)
			}
		}
		// The symbol tables live in the module's memory (read above) on
		// recent kernels; older ones point at them from mod->kallsyms.
		if ks, err := k.Field(mod, "module", "kallsyms"); err == nil && ks != 0 {
			c.structAt(ks, "mod_kallsyms")
			symtab, e1 := k.Field(ks, "mod_kallsyms", "symtab")
			num, e2 := k.Field(ks, "mod_kallsyms", "num_symtab")
			if e1 == nil && e2 == nil && num < 1<<20 {
				c.span(symtab, symtab+num*24)
			}
		}
		return nil
	})
}

// pidTable walks init_pid_ns's IDR (an xarray) and reads every node and
// struct pid: crash finds tasks through it.
func (c *crashReader) pidTable() {
	k := c.k
	ns, err := k.Addr("init_pid_ns")
	if err != nil {
		return
	}
	headOff, err := k.Off("pid_namespace", "idr.idr_rt.xa_head")
	if err != nil {
		return
	}
	slotsOff, err1 := k.Off("xa_node", "slots")
	nodeSize, err2 := k.Types.StructSize("xa_node")
	pidSize, err3 := k.Types.StructSize("pid")
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	head, err := k.U64(ns + headOff)
	if err != nil {
		return
	}
	budget := 1 << 20
	var walk func(entry uint64, depth int)
	walk = func(entry uint64, depth int) {
		if entry == 0 || budget <= 0 || depth > 16 {
			return
		}
		budget--
		if entry&3 == 2 && entry > 4096 { // an internal entry: a node
			node := entry - 2
			c.span(node, node+nodeSize)
			buf := make([]byte, 64*8)
			if k.Read(buf, node+slotsOff) != nil {
				return
			}
			for i := 0; i < 64; i++ {
				walk(binary.LittleEndian.Uint64(buf[i*8:]), depth+1)
			}
			return
		}
		if entry&3 == 0 { // a struct pid
			// struct pid ends in numbers[] (one per namespace level).
			c.span(entry, entry+pidSize+16)
		}
	}
	walk(head, 0)
}

// readStacks reads the stacks whole and returns their 8-byte words.
func (c *crashReader) readStacks(rs []kernel.StackRange) []uint64 {
	var words []uint64
	for _, r := range rs {
		if r.Hi <= r.Lo || r.Hi-r.Lo > 1<<20 {
			continue
		}
		for a := r.Lo; a < r.Hi; a += 4096 {
			page := make([]byte, min(4096, r.Hi-a))
			if c.k.Read(page, a) != nil {
				continue
			}
			for i := 0; i+8 <= len(page); i += 8 {
				words = append(words, binary.LittleEndian.Uint64(page[i:]))
			}
		}
	}
	return words
}

// returnAddresses reads, for every kernel text address among words, the
// bytes before it (crash checks for the call instruction) and the ORC
// lookup block and entries covering it (crash's ORC search reads them).
func (c *crashReader) returnAddresses(words []uint64) {
	k := c.k
	stext, err1 := k.Addr("_stext")
	etext, err2 := k.Addr("_etext")
	if err1 != nil || err2 != nil {
		return
	}
	lookup, errL := k.Addr("orc_lookup")
	ipStart, errI := k.Addr("__start_orc_unwind_ip")
	entStart, errE := k.Addr("__start_orc_unwind")
	const lookupBlock = 256 // LOOKUP_BLOCK_SIZE: text bytes per orc_lookup slot
	seen := map[uint64]bool{}
	for _, w := range words {
		if w < stext || w >= etext || seen[w] {
			continue
		}
		seen[w] = true
		// gdb reads the function from its start to a few hundred bytes
		// past the address (seen: 0xe7 bytes), in 64-byte pieces.
		if _, off, size, ok := k.Syms.Symbolize(w); ok && off < 64<<10 {
			c.span(w-off, max(w+512, w-off+min(size, 64<<10)))
		} else {
			c.span(w-8, w+512)
		}
		if errL != nil || errI != nil || errE != nil {
			continue
		}
		idx := (w - stext) / lookupBlock
		start, err1 := k.U32(lookup + idx*4)
		stop, err2 := k.U32(lookup + idx*4 + 4)
		if err1 != nil || err2 != nil || stop < start || stop-start > 1<<16 {
			continue
		}
		c.span(ipStart+uint64(start)*4, ipStart+uint64(stop+2)*4)
		c.span(entStart+uint64(start)*6, entStart+uint64(stop+2)*6)
	}
}
