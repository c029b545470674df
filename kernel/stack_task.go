package kernel

// pfKthread is PF_KTHREAD (include/linux/sched.h), stable since 2.6.27.
const pfKthread = 0x00200000

// IsKernelThread tells a kernel thread by its PF_KTHREAD flag, as crash's
// ps does to bracket names; Task.Kernel (no mm) also holds for a user task
// that has already dropped its mm on the way out (a task in do_exit).
func (k *Kernel) IsKernelThread(t Task) bool {
	flags, err := k.Field(t.Addr, "task_struct", "flags")
	if err != nil {
		return t.Kernel
	}
	return flags&pfKthread != 0
}
