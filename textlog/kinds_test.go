package textlog

import (
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

// Excerpts in the exact layout recent x86_64 kernels print (6.1 unless
// noted), one per report kind the text path must recognise.
var kindExcerpts = []struct {
	name, text  string
	kind, title string
	fields      map[string]string
	comm        string
}{
	{name: "oom kill", kind: incident.KindOOMKill, title: "Out of memory: Killed process java", comm: "java",
		fields: map[string]string{"victim": "java", "victim_pid": "2271"}, text: `
[  812.118801] java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0
[  812.118833] CPU: 0 PID: 2271 Comm: java Not tainted 6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[  812.118840] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[  812.118843] Call Trace:
[  812.118848]  <TASK>
[  812.118852]  dump_stack_lvl+0x44/0x5c
[  812.118862]  dump_header+0x4a/0x211
[  812.118869]  oom_kill_process.cold+0xb/0x10
[  812.118875]  out_of_memory+0x1fd/0x4c0
[  812.118882]  __alloc_pages_slowpath.constprop.0+0xcb6/0xe10
[  812.118891]  __alloc_pages+0x305/0x330
[  812.118897]  folio_alloc+0x17/0x50
[  812.118903]  __filemap_get_folio+0x155/0x340
[  812.118911]  filemap_fault+0x139/0x910
[  812.118920]  __do_fault+0x30/0x110
[  812.118926]  do_fault+0x1b9/0x410
[  812.118932]  __handle_mm_fault+0x660/0xfa0
[  812.118939]  handle_mm_fault+0xdb/0x2d0
[  812.118945]  do_user_addr_fault+0x19c/0x570
[  812.118951]  exc_page_fault+0x70/0x170
[  812.118958]  asm_exc_page_fault+0x22/0x30
[  812.118965] RIP: 0033:0x7f1c2a4b1d40
[  812.118973] Code: Unable to access opcode bytes at 0x7f1c2a4b1d16.
[  812.118976] RSP: 002b:00007ffd4a1b6e28 EFLAGS: 00010206
[  812.118983]  </TASK>
[  812.118986] Mem-Info:
[  812.118990] active_anon:120562 inactive_anon:2236 isolated_anon:0
[  812.119230] Tasks state (memory values in pages):
[  812.119233] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
[  812.119260] [   2271]     0  2271   681337   121012  1163264        0             0 java
[  812.119270] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=java,pid=2271,uid=0
[  812.119293] Out of memory: Killed process 2271 (java) total-vm:2725348kB, anon-rss:484048kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1136kB oom_score_adj:0
`},
	{name: "oom panic", kind: incident.KindOOMPanic, title: "kernel panic: Out of memory: system-wide panic_on_oom is enabled", text: `
[  812.119293] Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled
[  812.119300] CPU: 0 PID: 2271 Comm: java Not tainted 6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
`},
	{name: "soft lockup", kind: incident.KindSoftLockup, title: "BUG: soft lockup in spin_loop", comm: "spin",
		fields: map[string]string{"stuck_seconds": "22"}, text: `
[  118.523133] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [spin:812]
[  118.523160] Modules linked in: spinmod(OE) pvpanic_mmio pvpanic
[  118.523190] CPU: 1 PID: 812 Comm: spin Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[  118.523199] RIP: 0010:spin_loop+0x9/0x20 [spinmod]
[  118.523214] RSP: 0018:ffffb3a6c06cbe40 EFLAGS: 00000246
[  118.523265] Call Trace:
[  118.523270]  <TASK>
[  118.523273]  spin_write+0x2a/0x40 [spinmod]
[  118.523281]  proc_reg_write+0x56/0xa0
[  118.523288]  vfs_write+0xc7/0x3f0
[  118.523295]  ksys_write+0x6b/0xf0
[  118.523300]  do_syscall_64+0x5d/0x90
[  118.523307]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
[  118.523340]  </TASK>
`},
	// Frames whose address printed as "(ptrval)" (openrisc/linux#9) are frames.
	{name: "warning with ptrval frames", kind: incident.KindWarning, title: "WARNING in dev_watchdog", text: `
[   47.120000] WARNING: CPU: 0 PID: 0 at net/sched/sch_generic.c:442 dev_watchdog+0x2dc/0x2e4
[   47.120000] NETDEV WATCHDOG: eth0 (ethoc): transmit queue 0 timed out
[   47.120000] CPU: 0 PID: 0 Comm: swapper Not tainted 5.5.0-simple-smp #95
[   47.120000] Call trace:
[   47.120000] [<(ptrval)>] show_stack+0x48/0x58
[   47.120000] [<(ptrval)>] dump_stack+0x28/0x38
[   47.120000] [<(ptrval)>] __warn+0xf0/0x120
[   47.120000] [<(ptrval)>] ? dev_watchdog+0x2dc/0x2e4
[   47.120000] [<(ptrval)>] warn_slowpath_fmt+0x7c/0x94
[   47.120000] [<(ptrval)>] dev_watchdog+0x2dc/0x2e4
[   47.120000] [<(ptrval)>] call_timer_fn.isra.0+0x24/0xa0
`},
	// A MIPS router kernel without kallsyms (openwrt/mt76#364): the header
	// names the file and the caller's address alone; still a warning.
	{name: "warning with an unsymbolized caller", kind: incident.KindWarning, title: "WARNING in corrupted", text: `
[133025.942765] ------------[ cut here ]------------
[133025.947490] WARNING: CPU: 0 PID: 0 at net/sched/sch_generic.c:320 0x8038b2f0
[133025.954629] NETDEV WATCHDOG: eth0 (mtk_soc_eth): transmit queue 0 timed out
[133026.032525] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 4.14.167 #0
`},
	// powerpc's own watchdog names the stuck function on its header line.
	{name: "powerpc self-detected hard lockup", kind: incident.KindHardLockup, title: "BUG: hard lockup in _raw_spin_lock_irq", text: `
[10237.670313] watchdog: CPU 19 self-detected hard LOCKUP @ _raw_spin_lock_irq+0x60/0x100
[10237.670314] watchdog: CPU 19 TB:5287683334232, last heartbeat TB:5281606533730 (11868ms ago)
[10237.670314] Modules linked in: appletalk(+) netrom bluetooth
`},
	{name: "hard lockup", kind: incident.KindHardLockup, title: "BUG: hard lockup in irqoff_spin", text: `
[  201.001122] NMI watchdog: Watchdog detected hard LOCKUP on cpu 3
[  201.001180] CPU: 3 PID: 911 Comm: irqoff Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[  201.001190] RIP: 0010:irqoff_spin+0x5/0x10 [spinmod]
[  201.001240] Call Trace:
[  201.001245]  <TASK>
[  201.001250]  irqoff_spin_write+0x33/0x50 [spinmod]
[  201.001258]  vfs_write+0xc7/0x3f0
[  201.001266]  ksys_write+0x6b/0xf0
[  201.001271]  do_syscall_64+0x5d/0x90
[  201.001276]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
[  201.001282]  </TASK>
`},
	{name: "rcu stall", kind: incident.KindRCUStall, title: "INFO: rcu detected stall in spin_write", text: `
[  140.331276] rcu: INFO: rcu_preempt self-detected stall on CPU
[  140.331290] rcu: 	1-....: (5249 ticks this GP) idle=d5c/1/0x4000000000000000 softirq=6044/6044 fqs=2417
[  140.331300] 	(t=5250 jiffies g=3589 q=1263 ncpus=2)
[  140.331305] CPU: 1 PID: 812 Comm: spin Tainted: G           OEL     6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[  140.331312] RIP: 0010:spin_loop+0x9/0x20 [spinmod]
[  140.331355] Call Trace:
[  140.331357]  <IRQ>
[  140.331360]  rcu_dump_cpu_stacks+0xa4/0xd0
[  140.331368]  rcu_sched_clock_irq.cold+0x1ce/0x3a6
[  140.331375]  update_process_times+0x8c/0xc0
[  140.331382]  tick_sched_timer+0x7c/0x90
[  140.331395]  __hrtimer_run_queues+0x112/0x2b0
[  140.331400]  hrtimer_interrupt+0xfe/0x220
[  140.331406]  __sysvec_apic_timer_interrupt+0x7f/0x170
[  140.331412]  sysvec_apic_timer_interrupt+0x99/0xc0
[  140.331417]  </IRQ>
[  140.331419]  <TASK>
[  140.331421]  asm_sysvec_apic_timer_interrupt+0x16/0x20
[  140.331426] RIP: 0010:spin_loop+0x9/0x20 [spinmod]
[  140.331450]  spin_write+0x2a/0x40 [spinmod]
[  140.331455]  proc_reg_write+0x56/0xa0
[  140.331460]  vfs_write+0xc7/0x3f0
[  140.331464]  ksys_write+0x6b/0xf0
[  140.331468]  do_syscall_64+0x5d/0x90
[  140.331472]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
[  140.331477]  </TASK>
`},
	{name: "warning", kind: incident.KindWarning, title: "WARNING in ext4_da_update_reserve_space", comm: "kworker/u4:2",
		fields: map[string]string{"location": "fs/ext4/inode.c:337"}, text: `
[  311.000101] ------------[ cut here ]------------
[  311.000110] WARNING: CPU: 0 PID: 58 at fs/ext4/inode.c:337 ext4_da_update_reserve_space+0x1a0/0x1c0 [ext4]
[  311.000200] Modules linked in: ext4 crc16 mbcache jbd2
[  311.000210] CPU: 0 PID: 58 Comm: kworker/u4:2 Not tainted 6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[  311.000220] RIP: 0010:ext4_da_update_reserve_space+0x1a0/0x1c0 [ext4]
[  311.000300] Call Trace:
[  311.000302]  <TASK>
[  311.000305]  ext4_ext_map_blocks+0x9a3/0x1840 [ext4]
[  311.000330]  ext4_map_blocks+0x1c2/0x5f0 [ext4]
[  311.000360]  </TASK>
[  311.000362] ---[ end trace 0000000000000000 ]---
`},
	{name: "scheduling while atomic", kind: incident.KindAtomicSleep, title: "BUG: scheduling while atomic in mydrv_poll", comm: "mydrv", text: `
[   90.510101] BUG: scheduling while atomic: mydrv/733/0x00000002
[   90.510180] CPU: 1 PID: 733 Comm: mydrv Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[   90.510190] Call Trace:
[   90.510192]  <TASK>
[   90.510195]  dump_stack_lvl+0x44/0x5c
[   90.510200]  __schedule_bug.cold+0x7d/0x8b
[   90.510205]  __schedule+0x757/0xa00
[   90.510210]  schedule+0x5a/0xd0
[   90.510214]  schedule_timeout+0x88/0x150
[   90.510220]  mydrv_poll+0x44/0x90 [mydrv]
[   90.510226]  kthread+0xda/0x100
[   90.510230]  ret_from_fork+0x22/0x30
[   90.510233]  </TASK>
`},
	{name: "list corruption", kind: incident.KindListCorrupt, title: "BUG: corrupted list in mydrv_remove", text: `
[  400.100000] list_del corruption, ffff9a0b41c2e8a8->next is LIST_POISON1 (dead000000000100)
[  400.100010] ------------[ cut here ]------------
[  400.100012] kernel BUG at lib/list_debug.c:56!
[  400.100030] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
[  400.100040] CPU: 0 PID: 1201 Comm: rmmod Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[  400.100050] RIP: 0010:__list_del_entry_valid.cold+0x1d/0x47
[  400.100090] Call Trace:
[  400.100092]  <TASK>
[  400.100095]  mydrv_remove+0x31/0x60 [mydrv]
[  400.100100]  __do_sys_delete_module.constprop.0+0x17e/0x2d0
[  400.100105]  do_syscall_64+0x5d/0x90
[  400.100110]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
[  400.100115]  </TASK>
`},
	{name: "general protection fault", kind: incident.KindGPF, title: "general protection fault in mydrv_ioctl",
		fields: map[string]string{"address": "0xdead000000000100"}, text: `
[  500.000001] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI
[  500.000010] CPU: 1 PID: 1301 Comm: tool Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[  500.000020] RIP: 0010:mydrv_ioctl+0x55/0x120 [mydrv]
[  500.000050] Call Trace:
[  500.000052]  <TASK>
[  500.000055]  __x64_sys_ioctl+0x8d/0xd0
[  500.000060]  do_syscall_64+0x5d/0x90
[  500.000065]  </TASK>
`},
	{name: "machine check", kind: incident.KindMCE, title: "hardware error: fatal machine check in bank 4",
		fields: map[string]string{"bank": "4", "status": "0xb200000000070005", "cpu": "0"}, text: `
[ 7001.000001] mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 4: b200000000070005
[ 7001.000010] mce: [Hardware Error]: TSC 5d2b0b8c14f ADDR 1234560 MISC 0
[ 7001.000020] mce: [Hardware Error]: PROCESSOR 0:306f2 TIME 1479974400 SOCKET 0 APIC 0 microcode 3c
[ 7001.000030] mce: [Hardware Error]: Run the above through 'mcelog --ascii'
[ 7001.000040] mce: [Hardware Error]: Machine check: Processor context corrupt
[ 7001.000050] Kernel panic - not syncing: Fatal machine check
`},
	// Debian's 6.12 in QEMU (testdata/gen, -cpu max under TCG), as ktriage
	// dmesg decoded it from the dump: the culprit is the first frame past
	// the allocator the double fault hit, not "corrupted".
	{name: "double fault (6.12)", kind: incident.KindDoubleFault, title: "PANIC: double fault in alloc_buffer_head", comm: "dd", text: `
[    3.064640] traps: PANIC: double fault, error_code: 0x0
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
[    3.069298] CR2: 0000000000584980 CR3: 0000000002672000 CR4: 0000000000751ef0
[    3.069422] PKRU: 55555554
[    3.069472] Call Trace:
[    3.069970]  <TASK>
[    3.070326]  alloc_buffer_head+0x1e/0x90
[    3.070415]  folio_alloc_buffers+0xaa/0x170
[    3.070431]  create_empty_buffers+0x1d/0xb0
[    3.070442]  ext4_block_write_begin+0x42e/0x460
[    3.070460]  ? filemap_add_folio+0xb9/0xe0
[    3.070472]  ? __pfx_ext4_da_get_block_prep+0x10/0x10
[    3.070488]  ext4_da_write_begin+0x153/0x270
[    3.070502]  generic_perform_write+0xdf/0x290
[    3.070519]  ext4_buffered_write_iter+0x64/0x100
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
[    3.072178] Kernel panic - not syncing: Fatal exception in interrupt
`},
	{name: "pcie aer", kind: incident.KindHardwareError, title: "hardware error: fatal PCIe AER", text: `
[ 9001.000001] pcieport 0000:00:03.0: AER: Uncorrected (Fatal) error received: 0000:04:00.0
[ 9001.000010] ixgbe 0000:04:00.0: PCIe Bus Error: severity=Uncorrected (Fatal), type=Inaccessible, (Unregistered Agent ID)
`},
}

func TestReportKinds(t *testing.T) {
	for _, c := range kindExcerpts {
		t.Run(c.name, func(t *testing.T) {
			in, err := Parse(strings.NewReader(strings.TrimLeft(c.text, "\n")), c.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Reports) == 0 {
				t.Fatal("no report found")
			}
			r := in.Reports[0]
			if r.Kind != c.kind || r.Title != c.title {
				t.Errorf("kind %q title %q, want %q %q", r.Kind, r.Title, c.kind, c.title)
			}
			for k, v := range c.fields {
				if r.Fields[k] != v {
					t.Errorf("field %s = %q, want %q (all %v)", k, r.Fields[k], v, r.Fields)
				}
			}
			if c.comm != "" && r.Comm != c.comm {
				t.Errorf("comm %q, want %q", r.Comm, c.comm)
			}
		})
	}
}

// A module's function whose name holds "spin" or "lock" is not lock
// machinery: it names the lockup it spins in, in a lockup report and in a
// spinlock BUG alike.
func TestSpinningModuleFunction(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`[   42.100000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [sh:321]
[   42.100010] CPU: 0 PID: 321 Comm: sh Tainted: G           O      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[   42.100020] RIP: 0010:crashtest_spin_forever+0x5/0x10 [crashtest]
[   42.100030] Call Trace:
[   42.100031]  <TASK>
[   42.100032]  crashtest_proc_write+0x3c/0x60 [crashtest]
[   42.100033]  proc_reg_write+0x56/0xa0
[   42.100034]  vfs_write+0xc7/0x3f0
[   42.100035]  ksys_write+0x6b/0xf0
[   42.100036]  do_syscall_64+0x5d/0x90
[   42.100037]  </TASK>
`, "BUG: soft lockup in crashtest_spin_forever"},
		{`[   42.100000] BUG: spinlock lockup suspected on CPU#0, sh/321
[   42.100010] CPU: 0 PID: 321 Comm: sh Tainted: G           O      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[   42.100030] Call Trace:
[   42.100032]  spin_dump+0x4a/0x80
[   42.100033]  do_raw_spin_lock+0x9b/0x100
[   42.100034]  _raw_spin_lock+0x25/0x30
[   42.100035]  crashtest_spin_forever+0x9/0x20 [crashtest]
[   42.100036]  crashtest_proc_write+0x3c/0x60 [crashtest]
`, "BUG: spinlock lockup suspected in crashtest_spin_forever"},
	} {
		in, err := Parse(strings.NewReader(c.text), "spin")
		if err != nil {
			t.Fatal(err)
		}
		if in.Title != c.want {
			t.Errorf("title %q, want %q", in.Title, c.want)
		}
	}
}

// A worker that jumped through a bad pointer leaves no frame of its own
// work function: the Workqueue line names it.
func TestWorkqueueHint(t *testing.T) {
	log := `[  190.154802] BUG: unable to handle kernel NULL pointer dereference at 0000000000000000
[  190.154802] Oops: 0010 [#1] SMP
[  190.154802] CPU: 1 PID: 4242 Comm: kworker/1:2 Not tainted 4.19.0 #1
[  190.154802] Workqueue: events_unbound mydrv_reset_work [mydrv]
[  190.154802] RIP: 0010:0x0
[  190.154802] Call Trace:
[  190.154802]  process_one_work+0x1d1/0x3a0
[  190.154802]  worker_thread+0x4f/0x3b0
[  190.154802]  kthread+0x117/0x130
[  190.154802]  ret_from_fork+0x22/0x40
`
	in, err := Parse(strings.NewReader(log), "wq")
	if err != nil {
		t.Fatal(err)
	}
	if want := "BUG: unable to handle kernel NULL pointer dereference in mydrv_reset_work"; in.Title != want {
		t.Errorf("title %q, want %q", in.Title, want)
	}
	if m := in.Reports[0].Fields["culprit_module"]; m != "mydrv" {
		t.Errorf("culprit module %q, want mydrv", m)
	}
}

// The WARNING banner since 6.19 puts the file first and the task last
// ("WARNING: lib/refcount.c:28 at refcount_warn_saturate+0x5e/0x90,
// CPU#5: swapper/5/0", from a public NFS report): the location, CPU and
// task come from it as from the old "WARNING: CPU: 5 PID: 0 at ...".
func TestWarningBanner619(t *testing.T) {
	text := `[   42.165779] refcount_t: underflow; use-after-free.
[   42.166596] WARNING: lib/refcount.c:28 at refcount_warn_saturate+0x5e/0x90, CPU#5: swapper/5/0
`
	in, err := Parse(strings.NewReader(text), "nfs.log")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Reports) != 1 {
		t.Fatalf("%d reports", len(in.Reports))
	}
	r := in.Reports[0]
	if r.Fields["location"] != "lib/refcount.c:28" || r.CPU == nil || *r.CPU != 5 || r.Comm != "swapper/5" || r.PID == nil || *r.PID != 0 {
		t.Errorf("location %q cpu %v comm %q pid %v", r.Fields["location"], r.CPU, r.Comm, r.PID)
	}
}
