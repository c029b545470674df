package symbols

// globalTypes states, in one place, the C types of the globals ktriage
// reads. BTF describes no global variables except per-CPU ones, and DWARF
// has none for linker aliases such as jiffies; both backends fall back to
// this table. "[]" marks arrays whose length is a build option (NR_CPUS,
// MAX_NUMNODES): take it from VMCOREINFO LENGTH() or nr_cpu_ids.
var globalTypes = map[string]struct {
	Type   string
	PerCPU bool
}{
	"init_task":           {"struct task_struct", false},
	"runqueues":           {"struct rq", true},
	"init_uts_ns":         {"struct uts_namespace", false},
	"prb":                 {"struct printk_ringbuffer *", false},
	"printk_rb_static":    {"struct printk_ringbuffer", false},
	"clear_seq":           {"struct latched_seq", false},
	"jiffies":             {"long unsigned int", false}, // linker alias of jiffies_64 on 64-bit
	"jiffies_64":          {"u64", false},
	"avenrun":             {"long unsigned int[3]", false},
	"__per_cpu_offset":    {"long unsigned int[]", false},
	"nr_cpu_ids":          {"unsigned int", false},
	"_totalram_pages":     {"atomic_long_t", false}, // 5.0+: totalram_pages() reads this
	"totalram_pages":      {"long unsigned int", false},
	"node_data":           {"struct pglist_data *[]", false},
	"panic_cpu":           {"atomic_t", false},
	"crashing_cpu":        {"int", false},
	"modules":             {"struct list_head", false},
	"linux_banner":        {"char[]", false},
	"init_pid_ns":         {"struct pid_namespace", false},
	"tainted_mask":        {"long unsigned int", false},
	"__cpu_online_mask":   {"struct cpumask", false},
	"__cpu_possible_mask": {"struct cpumask", false},
	"__cpu_present_mask":  {"struct cpumask", false},
	"__cpu_active_mask":   {"struct cpumask", false},
	"mem_section":         {"struct mem_section **", false},
	"current_task":        {"struct task_struct *", true},
	"crash_notes":         {"note_buf_t *", false},
	"oops_in_progress":    {"int", false},
}

// KnownGlobal reports the C type the table states for a global, and
// whether it is a per-CPU variable.
func KnownGlobal(name string) (typeExpr string, perCPU, ok bool) {
	g, ok := globalTypes[name]
	return g.Type, g.PerCPU, ok
}
