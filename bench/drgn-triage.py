# What a drgn user types first: the log, the crashed thread, every D task
# with its stack. Run: python3 drgn-triage.py VMCORE [VMLINUX]
import sys
import drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_printk_records
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]], main=True) if len(sys.argv) > 2 else prog.load_default_debug_info()
n = len(list(get_printk_records(prog)))
th = prog.crashed_thread()
print(th.stack_trace())
for t in for_each_task(prog):
    if t.__state.value_() & 2:
        print(t.pid.value_(), t.comm.string_().decode())
        print(prog.stack_trace(t))
