package textlog

import (
	"github.com/ktriage/ktriage/internal/lazyre"
	"strconv"
	"strings"

	"github.com/ktriage/ktriage/incident"
)

var (
	// A call trace line, in the layouts x86_64 used over the years:
	//   [<ffffffff8183dda5>] schedule+0x35/0x80
	//    <NMI>  [<ffffffff815292bc>] ? panic+0xa7/0x16f
	//    ? __percpu_rwsem_trylock.part.0+0x60/0x60
	//    foo+0x12/0x40 [mod_name]   foo+0x12/0x40 [mod_name 1a2b3c...]
	//   [c00000007a3efa20] [c00000000030a060] func+0x40/0x80 (powerpc)
	//   [<(ptrval)>] func+0x7c/0x94 (a hashed pointer not yet printable, early boot)
	frameRe = lazyre.New(`^\s*(?:(<[A-Z/]+>|<<EOE>>)\s*)?(?:\[<?(?:0x)?([0-9a-f]+)>?\]\s*|\[<\(ptrval\)>\]\s*){0,2}(\?\s+)?([A-Za-z_][A-Za-z0-9_.$]*)\+0x([0-9a-f]+)/0x([0-9a-f]+)(?:\s+\[([A-Za-z0-9_.-]+)(?:\s+[0-9a-f]+)?\])?`)
	// 32-bit ARM: "[<8016fb5c>] (prepare_to_wait_event) from [<803b18e8>] (nfs_wait+0x4c/0x84)";
	// the line names the function and its caller.
	// A module's function carries its name: "(fuse_writepages [fuse]) from".
	armFrameRe = lazyre.New(`^\s*\[<([0-9a-f]+)>\] \(([A-Za-z_][A-Za-z0-9_.]*)(?:\+0x([0-9a-f]+)/0x([0-9a-f]+))?(?: \[([A-Za-z0-9_.-]+)\])?\) from \[<[0-9a-f]+>\] \(`)
	// A frame the unwinder could not name: " ? 0xffffffffc0123456".
	rawFrameRe = lazyre.New(`^\s*(?:(<[A-Z/]+>)\s*)?(\?\s+)?0x[0-9a-f]+\s*$`)
	// Stack context markers on a line of their own.
	contextRe = lazyre.New(`^\s*(<IRQ>|</IRQ>|<NMI>|</NMI>|<EOI>|<<EOE>>|<TASK>|</TASK>|<SOFTIRQ>|</SOFTIRQ>|<#DF>|</#DF>|<#MC>|</#MC>)\s*$`)
	// Where the CPU was:
	//   RIP: 0010:rb_next+0x1/0x50       RIP: 0010:[<ffffffff812db1e1>]  [<ffffffff812db1e1>] rb_next+0x1/0x50
	//   IP: [<ffffffff812db1e1>] rb_next+0x1/0x50     RIP  [<ffffffff812db1e1>] rb_next+0x1/0x50
	//   pc : foo+0x10/0x40    PC is at foo+0x10/0x40    NIP [c0000000] foo+0x10/0x40
	//   EIP is at foo+0x77/0x95 [mod] (i386)   epc   : 8005d844 foo+0x4/0xc (MIPS)
	//   RIP: 0010:foo (fs/foo.c:1332)   (decode_stacktrace.sh output)
	ripRe = lazyre.New(`^\s*(?:RIP|EIP is at|EIP|IP|NIP|pc|PC is at|epc)\s*:?\s*(?:([0-9a-f]{4}):)?(?:\[<?[0-9a-f]+>?\]\s*)*(?:[0-9a-f]{8,16}\s+)?(?:([A-Za-z_][A-Za-z0-9_.$]*)(?:\+0x([0-9a-f]+)/0x([0-9a-f]+)|( \()\S+:\d+)(?:\s+\[([A-Za-z0-9_.-]+)[^\]]*\])?|0x([0-9a-f]+)|\(null\))`)
	// CPU: 3 PID: 16179 Comm: java Not tainted 3.10.0-229.el7.x86_64 #1
	// CPU: 1 PID: 1 Comm: init Kdump: loaded Tainted: G        W  OE  6.1.0 #1 Debian 6.1.192-2
	// RHEL kernels print their support state after the taint letters:
	// "Tainted: G        W  OE  ------------   3.10.0-1062.el7.x86_64 #1",
	// "Tainted: G           OE    --------  ---  5.14.0-285.el9.x86_64 #1".
	cpuLineRe = lazyre.New(`^\s*CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (.{1,16}?)(?: Kdump: \S+)?\s+(Not tainted|Tainted: ([A-Z ]*?))(?:\s+-+)*\s+(\S+) #`)
	// Pid: 0, comm: swapper Not tainted 2.6.32-504.el6.x86_64 #1 (before 3.x)
	oldPidLineRe = lazyre.New(`^\s*Pid: (\d+), comm: (.{1,16}?)\s+(Not tainted|Tainted: ([A-Z ]*?))(?:\s+-+)*\s+(\S+) #`)
	// "Not tainted 4.4.0-87-generic #110-Ubuntu" alone, under a hung task.
	taintLineRe  = lazyre.New(`^\s*(Not tainted|Tainted: ([A-Z ]*?))(?:\s+-+)*\s+(\d\S*) #`)
	hwNameRe     = lazyre.New(`^\s*Hardware name: (.+?)\s*$`)
	modulesRe    = lazyre.New(`^\s*Modules linked in:\s*(.*)$`)
	registerRe   = lazyre.New(`\b(R[A-Z0-9]{1,2}|ORIG_RAX|EFLAGS|CR[0-4]|DR[0-7]|[ECDFGS]S|FS|GS|knlGS|R8|R9|R1[0-5]):\s*([0-9a-f]{4}:)?([0-9a-f]{4,16})\b`)
	stackStartRe = lazyre.New(`^\s*(Call Trace|Call trace|Backtrace|Allocated by task \d+|Allocated|Freed by task \d+|Freed|Uninit was stored to memory at|Uninit was created at|Local variable .* created at|Last potentially related work creation|Second to last potentially related work creation)\s*:?`)
	kmemleakBtRe = lazyre.New(`[^k] backtrace(?: \(crc [0-9a-f]*\))?:`)
)

// contextOf maps a stack marker to Frame.Context.
func contextOf(marker string) string {
	switch marker {
	case "<IRQ>":
		return "IRQ"
	case "<NMI>":
		return "NMI"
	case "<SOFTIRQ>":
		return "SOFTIRQ"
	case "<#DF>", "<#MC>":
		return "exception"
	}
	return "" // <TASK>, closing markers, <EOI>, <<EOE>>
}

// parseFrame decodes one call trace line. ok is false when the line is not
// a frame; marker is a stack context marker found on the line, if any.
func parseFrame(text string) (f incident.Frame, marker string, ok bool) {
	if !strings.Contains(text, "0x") && !strings.Contains(text, "<") {
		return f, "", false
	}
	m := frameRe.FindStringSubmatch(text)
	if m == nil {
		if a := armFrameRe.FindStringSubmatch(text); a != nil {
			f = incident.Frame{Function: a[2], Module: a[5], Reliable: true}
			f.Address, _ = strconv.ParseUint(a[1], 16, 64)
			f.Offset, _ = strconv.ParseUint(a[3], 16, 64)
			f.Size, _ = strconv.ParseUint(a[4], 16, 64)
			return f, "", true
		}
		if c := contextRe.FindStringSubmatch(text); c != nil {
			return f, c[1], false
		}
		if r := rawFrameRe.FindStringSubmatch(text); r != nil && strings.Contains(text, "0x") {
			return incident.Frame{Reliable: false}, r[1], false
		}
		return f, "", false
	}
	f.Function = m[4]
	f.Offset, _ = strconv.ParseUint(m[5], 16, 64)
	f.Size, _ = strconv.ParseUint(m[6], 16, 64)
	f.Module = m[7]
	if m[2] != "" {
		f.Address, _ = strconv.ParseUint(m[2], 16, 64)
	}
	f.Reliable = m[3] == ""
	return f, m[1], true
}

// parseRIP decodes a RIP-style line. user is true for a user-space
// instruction pointer (segment 0033, or a bare address).
func parseRIP(text string) (f *incident.Frame, user, ok bool) {
	if !strings.Contains(text, "IP") && !strings.Contains(text, "pc") && !strings.Contains(text, "PC is at") {
		return nil, false, false
	}
	m := ripRe.FindStringSubmatch(text)
	if m == nil {
		return nil, false, false
	}
	if m[2] == "" {
		return nil, m[1] == "0033" || m[1] == "0023" || m[7] != "", true
	}
	fr := &incident.Frame{Function: m[2], Module: m[6], Reliable: true}
	fr.Offset, _ = strconv.ParseUint(m[3], 16, 64)
	fr.Size, _ = strconv.ParseUint(m[4], 16, 64)
	return fr, m[1] == "0033" || m[1] == "0023", true
}

// parseRegisters collects "RAX: 0000... RBX: ..." pairs from a line.
func parseRegisters(text string, into map[string]uint64) map[string]uint64 {
	for _, m := range registerRe.FindAllStringSubmatch(text, -1) {
		v, err := strconv.ParseUint(m[3], 16, 64)
		if err != nil {
			continue
		}
		if into == nil {
			into = map[string]uint64{}
		}
		into[m[1]] = v
	}
	return into
}

// taintLetters turns "Tainted: G        W  OE" into "G W OE"-style letters.
func taintLetters(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
