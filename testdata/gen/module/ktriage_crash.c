// SPDX-License-Identifier: GPL-2.0
/*
 * ktriage_crash: crashes the kernel on request, the way real driver bugs do,
 * so that ktriage's generator can make real dumps of each kind of failure.
 *
 * Write a word to /proc/ktriage_crash:
 *   null        NULL pointer dereference (page fault -> oops), two calls deep
 *   bug         BUG() (invalid opcode -> "kernel BUG at ...")
 *   softlockup  spin with preemption disabled until the soft-lockup watchdog fires
 *   warn        WARN_ON() (panics when panic_on_warn=1)
 *
 * Every step is a separate noinline function with a distinctive name so the
 * backtrace in the dump reads like a real one: syscall -> vfs_write ->
 * proc_reg_write -> ktriage_crash_write -> ... -> the faulting function.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include <linux/preempt.h>
#include <linux/delay.h>
#include <linux/bug.h>

struct ktriage_widget {
	unsigned long magic;
	unsigned long flags;
	unsigned long hits;	/* the field the buggy path increments */
	char name[16];
};

/* Never filled in: looking a widget up always yields NULL, as with a missed init. */
static struct ktriage_widget *ktriage_widget_table[4];

/* Parameters rather than constants, so the compiler cannot fold the bugs away. */
static unsigned int ktriage_widget_slot = 1;
module_param_named(widget_slot, ktriage_widget_slot, uint, 0644);
static unsigned int ktriage_queue_depth = 3;
module_param_named(queue_depth, ktriage_queue_depth, uint, 0644);
static unsigned int ktriage_queue_limit = 2;
module_param_named(queue_limit, ktriage_queue_limit, uint, 0644);

static noinline struct ktriage_widget *ktriage_widget_lookup(unsigned int slot)
{
	return READ_ONCE(ktriage_widget_table[slot % ARRAY_SIZE(ktriage_widget_table)]);
}

/* The faulting function: dereferences the NULL widget (CR2 = offsetof(hits)). */
static noinline void ktriage_widget_account_hit(unsigned int slot)
{
	struct ktriage_widget *w = ktriage_widget_lookup(slot);

	w->hits++;
	pr_info("ktriage_crash: widget %s hits %lu\n", w->name, w->hits);
}

static noinline void ktriage_widget_refresh(unsigned int slot)
{
	pr_info("ktriage_crash: refreshing widget slot %u\n", slot);
	ktriage_widget_account_hit(slot);
	barrier();	/* keep the call from becoming a tail jump */
}

static noinline void ktriage_queue_check_invariants(void)
{
	pr_info("ktriage_crash: queue depth %u limit %u\n",
		READ_ONCE(ktriage_queue_depth), READ_ONCE(ktriage_queue_limit));
	if (READ_ONCE(ktriage_queue_depth) > READ_ONCE(ktriage_queue_limit))
		BUG();
}

static noinline void ktriage_queue_drain(void)
{
	ktriage_queue_check_invariants();
	barrier();
}

/* Spins forever with preemption off: the soft-lockup watchdog's textbook case. */
static noinline void ktriage_poll_device_busy(void)
{
	unsigned long spins = 0;

	pr_info("ktriage_crash: polling device with preemption disabled\n");
	preempt_disable();
	for (;;) {
		cpu_relax();
		udelay(10);
		WRITE_ONCE(spins, spins + 1);
	}
	preempt_enable();	/* not reached */
}

static noinline void ktriage_widget_state_warn(void)
{
	pr_info("ktriage_crash: widget state inconsistent\n");
	WARN_ON(READ_ONCE(ktriage_queue_depth) > READ_ONCE(ktriage_queue_limit));
}

static ssize_t ktriage_crash_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	char cmd[16] = {};

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	strim(cmd);

	if (!strcmp(cmd, "null"))
		ktriage_widget_refresh(READ_ONCE(ktriage_widget_slot));
	else if (!strcmp(cmd, "bug"))
		ktriage_queue_drain();
	else if (!strcmp(cmd, "softlockup"))
		ktriage_poll_device_busy();
	else if (!strcmp(cmd, "warn"))
		ktriage_widget_state_warn();
	else
		return -EINVAL;
	return len;
}

static const struct proc_ops ktriage_crash_ops = {
	.proc_write = ktriage_crash_write,
	.proc_lseek = noop_llseek,
};

static int __init ktriage_crash_init(void)
{
	if (!proc_create("ktriage_crash", 0200, NULL, &ktriage_crash_ops))
		return -ENOMEM;
	pr_info("ktriage_crash: loaded; write null|bug|softlockup|warn to /proc/ktriage_crash\n");
	return 0;
}

static void __exit ktriage_crash_exit(void)
{
	remove_proc_entry("ktriage_crash", NULL);
}

module_init(ktriage_crash_init);
module_exit(ktriage_crash_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Crashes the kernel on request, for ktriage's dump generator");
