package textlog

import (
	"strings"
	"testing"
)

// The registers of an oops are the faulting kernel context: the user-mode
// block the kernel prints after the stack (the syscall's entry registers)
// must not overwrite them. Excerpt: the 6.12 double fault in
// testdata/dumps-6.12, whose user RSP is 00007ffe54f3c0b8.
func TestRegistersStayKernelMode(t *testing.T) {
	in, err := Parse(strings.NewReader(doubleFaultExcerpt), "double-fault.log")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Reports) == 0 {
		t.Fatal("no report")
	}
	r := in.Reports[0]
	if r.Registers["RSP"] != 0xff32d0be0047b9c0 || r.Registers["RAX"] != 0xff12f6ab41620ea0 {
		t.Errorf("RSP %#x RAX %#x, want the kernel's ff32d0be0047b9c0 and ff12f6ab41620ea0", r.Registers["RSP"], r.Registers["RAX"])
	}
}

const doubleFaultExcerpt = `[    3.064640] traps: PANIC: double fault, error_code: 0x0
[    3.066558] Oops: double fault: 0000 [#1] PREEMPT SMP NOPTI
[    3.067138] CPU: 0 UID: 0 PID: 165 Comm: dd Not tainted 6.12.95+deb12-cloud-amd64 #1  Debian 6.12.95-1~bpo12+1
[    3.067351] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[    3.067443] RIP: 0010:kmem_cache_alloc_noprof+0xc3/0x2f0
[    3.068436] Code: 9c 24 b8 00 00 00 49 8b 34 24 48 01 f8 48 33 18 48 89 c1 48 89 f8 48 0f c9 48 31 cb 48 8d 8a 00 20 00 00 65 48 0f c7 0e 75 a8 <41> 8b 44 24 28 0f 0d 0c 03 48 89 3c 24 0f 1f 44 00 00 48 85 ff 0f
[    3.068686] RSP: 0018:ff32d0be0047b9c0 EFLAGS: 41620ee2
[    3.069152] RAX: ff12f6ab41620ea0 RBX: ff12f6ab41620618 RCX: 00000000067ac000
[    3.069169] RDX: 00000000067aa000 RSI: 000000000003d040 RDI: ff12f6ab41620ea0
[    3.069181] RBP: ff32d0be0047ba00 R08: ffffffff97d34340 R09: 0000000000000013
[    3.069192] R10: 0000000000000001 R11: 0000000000000000 R12: ff12f6ab41225e00
[    3.069203] R13: 0000000000408d40 R14: ffffffff97c9b23e R15: 0000000000000068
[    3.069261] FS:  00000000205073c0(0000) GS:ff12f6ab4f400000(0000) knlGS:0000000000000000
[    3.069286] CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033
[    3.070531]  vfs_write+0x291/0x450
[    3.070549]  ksys_write+0x6f/0xf0
[    3.070560]  do_syscall_64+0x87/0x180
[    3.070577]  ? vfs_read+0xeb/0x370
[    3.070593]  ? arch_exit_to_user_mode_prepare.constprop.0+0x16/0xa0
[    3.070605]  ? syscall_exit_to_user_mode+0x37/0x1b0
[    3.070617]  ? do_syscall_64+0x93/0x180
[    3.070627]  ? restore_fpregs_from_fpstate+0x3c/0xa0
[    3.070640]  ? switch_fpu_return+0x4f/0xd0
[    3.070650]  ? arch_exit_to_user_mode_prepare.constprop.0+0x75/0xa0
[    3.070659]  ? syscall_exit_to_user_mode+0x37/0x1b0
[    3.070669]  ? do_syscall_64+0x93/0x180
[    3.070680]  ? restore_fpregs_from_fpstate+0x3c/0xa0
[    3.070690]  ? switch_fpu_return+0x4f/0xd0
[    3.070700]  ? arch_exit_to_user_mode_prepare.constprop.0+0x75/0xa0
[    3.070708]  ? syscall_exit_to_user_mode+0x37/0x1b0
[    3.070719]  ? do_syscall_64+0x93/0x180
[    3.070729]  ? arch_exit_to_user_mode_prepare.constprop.0+0x16/0xa0
[    3.070740]  entry_SYSCALL_64_after_hwframe+0x76/0x7e
[    3.070848] RIP: 0033:0x47b7a0
[    3.071081] Code: 40 00 48 c7 c2 e0 ff ff ff f7 d8 64 89 02 48 c7 c0 ff ff ff ff eb b7 0f 1f 00 80 3d e8 85 16 00 00 74 17 b8 01 00 00 00 0f 05 <48> 3d 00 f0 ff ff 77 58 c3 0f 1f 80 00 00 00 00 48 83 ec 28 48 89
`
