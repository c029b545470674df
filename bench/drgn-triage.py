# What a drgn user types first: the log, the crashed thread, every D task
# with its stack. Run: python3 drgn-triage.py VMCORE [VMLINUX]
# "D" as crash's UN and ktriage count it: TASK_UNINTERRUPTIBLE (2) without
# TASK_NOLOAD (0x400), so idle kernel threads (TASK_IDLE) are not walked.
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
    try:
        state = t.__state.value_()
    except AttributeError:  # before 5.14 the member is "state"
        state = t.state.value_()
    if state & 2 and not state & 0x400:
        print(t.pid.value_(), t.comm.string_().decode())
        print(prog.stack_trace(t))
