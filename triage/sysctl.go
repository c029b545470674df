package triage

import (
	"encoding/binary"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/kernel"
)

// sysctlVars are the settings analyzers weigh, with the kernel variable
// behind each and its width on x86_64 (kernel/hung_task.c, kernel/panic.c,
// mm/oom_kill.c, kernel/watchdog.c, kernel/rcu/tree.c). A variable the
// dump's symbols do not name (a config without the feature, a kallsyms
// without data symbols) is left out rather than guessed.
var sysctlVars = []struct {
	name, symbol string
	width        int // bytes; 4 for int, 8 for unsigned long
	signed       bool
}{
	{"kernel.hung_task_timeout_secs", "sysctl_hung_task_timeout_secs", 8, false},
	{"kernel.hung_task_panic", "sysctl_hung_task_panic", 4, false},
	{"kernel.panic_on_oops", "panic_on_oops", 4, true},
	{"kernel.panic_on_warn", "panic_on_warn", 4, true},
	{"kernel.softlockup_panic", "softlockup_panic", 4, true},
	{"kernel.panic_on_rcu_stall", "sysctl_panic_on_rcu_stall", 4, true},
	{"kernel.panic", "panic_timeout", 4, true},
	{"vm.panic_on_oom", "sysctl_panic_on_oom", 4, true},
}

func fillSysctls(in *incident.Incident, k *kernel.Kernel) {
	for _, v := range sysctlVars {
		addr, err := k.Addr(v.symbol)
		if err != nil {
			continue
		}
		buf := make([]byte, v.width)
		if err := k.Read(buf, addr); err != nil {
			continue
		}
		var val int64
		switch {
		case v.width == 8:
			val = int64(binary.LittleEndian.Uint64(buf))
		case v.signed:
			val = int64(int32(binary.LittleEndian.Uint32(buf)))
		default:
			val = int64(binary.LittleEndian.Uint32(buf))
		}
		if in.System.Sysctls == nil {
			in.System.Sysctls = map[string]int64{}
		}
		in.System.Sysctls[v.name] = val
	}
}
