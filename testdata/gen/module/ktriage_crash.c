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
 *   hold        take the table mutex and the config rwsem (write), then sleep
 *               uninterruptibly for an hour holding both: the lock holder
 *   holdio      take both, then append to /data1/ktriage.journal: on a frozen
 *               /data1 the holder itself blocks in the filesystem
 *   stall       create /dev/ktriage_stall: a disk whose requests are started
 *               and never completed, as a controller that stopped answering
 *   ramdisk     create /dev/ktriage_stall as a working 64 MiB RAM disk instead;
 *               a later "stall" stops it completing requests
 *   bstall      create /dev/ktriage_bstall: a bio-based disk (as device-mapper
 *               is) that accounts every bio in flight and ends none, as a
 *               suspended dm device holds them
 *   holdblk     take both locks, then read sector 0 of ktriage_stall: the
 *               holder waits on I/O that never completes
 *   lookup      take the table mutex (blocks behind a holder)
 *   readcfg     take the config rwsem for read (blocks behind a holder)
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
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/fs.h>
#include <linux/fcntl.h>
#include <linux/err.h>
#include <linux/version.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/completion.h>
#include <linux/highmem.h>
#include <linux/vmalloc.h>

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

/* The locks a driver's slow rebuild holds while others queue behind it. */
static DEFINE_MUTEX(ktriage_table_lock);
static DECLARE_RWSEM(ktriage_config_rwsem);

/* The holder's long critical section: sleeps in D state holding both locks. */
static noinline void ktriage_table_rebuild_slow(void)
{
	pr_info("ktriage_crash: rebuilding the widget table (holding the table lock)\n");
	schedule_timeout_uninterruptible(3600 * HZ);
}

/* The holder's I/O under the locks: blocks for as long as /data1 is frozen. */
static noinline void ktriage_journal_append(void)
{
	static const char rec[] = "ktriage: table rebuilt\n";
	struct file *f;
	loff_t pos = 0;

	f = filp_open("/data1/ktriage.journal", O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (IS_ERR(f)) {
		pr_info("ktriage_crash: cannot open the journal: %ld\n", PTR_ERR(f));
		return;
	}
	pr_info("ktriage_crash: appending to the journal (holding the table lock)\n");
	/* 4.14 made kernel_write take the position by pointer. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 14, 0)
	kernel_write(f, rec, sizeof(rec) - 1, &pos);
#else
	kernel_write(f, rec, sizeof(rec) - 1, pos);
#endif
	filp_close(f, NULL);
}

/*
 * ktriage_stall: a blk-mq disk that starts every request and completes none,
 * and keeps re-arming their timeouts — what a host sees of a controller or
 * path that stopped answering. Its requests stay in flight in the tag set.
 */
/* blk_mq_alloc_disk, GENHD_FL_NO_PART and bio_alloc(bdev, ...) are 5.18's. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 18, 0)
static struct blk_mq_tag_set ktriage_stall_set;
static struct gendisk *ktriage_stall_disk;
static int ktriage_stall_major;
static DEFINE_MUTEX(ktriage_stall_setup);
/* The RAM behind a working disk; NULL, or stalled set, and nothing completes. */
static u8 *ktriage_stall_ram;
static bool ktriage_stalled;

#define KTRIAGE_RAM_SECTORS (64 << 11)	/* 64 MiB */

/* Serves a request from RAM, as long as the disk has not stalled. */
static bool ktriage_stall_serve(struct request *rq)
{
	struct req_iterator iter;
	struct bio_vec bv;
	u64 pos = (u64)blk_rq_pos(rq) << SECTOR_SHIFT;

	if (!ktriage_stall_ram || READ_ONCE(ktriage_stalled))
		return false;
	if (req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE) {
		rq_for_each_segment(bv, rq, iter) {
			void *p = kmap_local_page(bv.bv_page) + bv.bv_offset;

			if (pos + bv.bv_len <= (u64)KTRIAGE_RAM_SECTORS << SECTOR_SHIFT) {
				if (req_op(rq) == REQ_OP_READ)
					memcpy(p, ktriage_stall_ram + pos, bv.bv_len);
				else
					memcpy(ktriage_stall_ram + pos, p, bv.bv_len);
			}
			kunmap_local(p);
			pos += bv.bv_len;
		}
	}
	blk_mq_end_request(rq, BLK_STS_OK);
	return true;
}

static blk_status_t ktriage_stall_queue_rq(struct blk_mq_hw_ctx *hctx,
					   const struct blk_mq_queue_data *bd)
{
	blk_mq_start_request(bd->rq);
	ktriage_stall_serve(bd->rq);	/* once stalled: never completed */
	return BLK_STS_OK;
}

static enum blk_eh_timer_return ktriage_stall_timeout(struct request *rq)
{
	return BLK_EH_RESET_TIMER;
}

static const struct blk_mq_ops ktriage_stall_mq_ops = {
	.queue_rq = ktriage_stall_queue_rq,
	.timeout = ktriage_stall_timeout,
};

static const struct block_device_operations ktriage_stall_fops = {
	.owner = THIS_MODULE,
};

static int ktriage_stall_create(bool ram)
{
	struct gendisk *disk;
	int err;

	mutex_lock(&ktriage_stall_setup);
	err = 0;
	if (ktriage_stall_disk) {
		WRITE_ONCE(ktriage_stalled, true);
		pr_info("ktriage_crash: ktriage_stall stops completing requests\n");
		goto out;
	}
	if (ram) {
		ktriage_stall_ram = vzalloc((size_t)KTRIAGE_RAM_SECTORS << SECTOR_SHIFT);
		if (!ktriage_stall_ram) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = register_blkdev(0, "ktriage_stall");
	if (err < 0)
		goto out;
	ktriage_stall_major = err;
	err = blk_mq_alloc_sq_tag_set(&ktriage_stall_set, &ktriage_stall_mq_ops, 16, BLK_MQ_F_SHOULD_MERGE);
	if (err)
		goto out;
	disk = blk_mq_alloc_disk(&ktriage_stall_set, NULL);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto out;
	}
	disk->major = ktriage_stall_major;
	disk->first_minor = 0;
	disk->minors = 1;
	disk->fops = &ktriage_stall_fops;
	disk->flags |= GENHD_FL_NO_PART;	/* no partition scan: it would wait forever */
	snprintf(disk->disk_name, DISK_NAME_LEN, "ktriage_stall");
	set_capacity(disk, ram ? KTRIAGE_RAM_SECTORS : 8192);
	err = add_disk(disk);
	if (err)
		goto out;
	ktriage_stall_disk = disk;
	if (ram)
		pr_info("ktriage_crash: /dev/ktriage_stall created: a 64 MiB RAM disk until told to stall\n");
	else
		pr_info("ktriage_crash: /dev/ktriage_stall created; its requests never complete\n");
out:
	mutex_unlock(&ktriage_stall_setup);
	return err;
}

static void ktriage_stall_endio(struct bio *bio)
{
	complete(bio->bi_private);
}

/* The holder's read under the locks: a driver reading its device's label. */
static noinline void ktriage_label_read(void)
{
	DECLARE_COMPLETION_ONSTACK(done);
	struct block_device *bdev;
	struct page *page;
	struct bio *bio;

	if (ktriage_stall_create(false))
		return;
	bdev = blkdev_get_by_dev(disk_devt(ktriage_stall_disk), FMODE_READ, NULL);
	if (IS_ERR(bdev))
		return;
	page = alloc_page(GFP_KERNEL);
	if (!page)
		return;
	bio = bio_alloc(bdev, 1, REQ_OP_READ, GFP_KERNEL);
	bio->bi_iter.bi_sector = 0;
	bio_add_page(bio, page, PAGE_SIZE, 0);
	bio->bi_private = &done;
	bio->bi_end_io = ktriage_stall_endio;
	pr_info("ktriage_crash: reading the label (holding the table lock)\n");
	submit_bio(bio);
	wait_for_completion_io(&done);
}
/*
 * ktriage_bstall: a bio-based disk. Each bio is accounted in flight the way
 * device-mapper accounts it (bio_start_io_acct) and kept, never ended.
 */
static struct gendisk *ktriage_bstall_disk;
static DEFINE_SPINLOCK(ktriage_bstall_lock);
static struct bio_list ktriage_bstall_held;

static void ktriage_bstall_submit_bio(struct bio *bio)
{
	bio_start_io_acct(bio);
	spin_lock(&ktriage_bstall_lock);
	bio_list_add(&ktriage_bstall_held, bio);
	spin_unlock(&ktriage_bstall_lock);
}

static const struct block_device_operations ktriage_bstall_fops = {
	.owner = THIS_MODULE,
	.submit_bio = ktriage_bstall_submit_bio,
};

static int ktriage_bstall_create(void)
{
	struct gendisk *disk;
	int err;

	mutex_lock(&ktriage_stall_setup);
	err = 0;
	if (ktriage_bstall_disk)
		goto out;
	if (!ktriage_stall_major) {
		err = register_blkdev(0, "ktriage_stall");
		if (err < 0)
			goto out;
		ktriage_stall_major = err;
	}
	disk = blk_alloc_disk(NUMA_NO_NODE);
	if (!disk) {
		err = -ENOMEM;
		goto out;
	}
	disk->major = ktriage_stall_major;
	disk->first_minor = 1;
	disk->minors = 1;
	disk->fops = &ktriage_bstall_fops;
	disk->flags |= GENHD_FL_NO_PART;
	snprintf(disk->disk_name, DISK_NAME_LEN, "ktriage_bstall");
	set_capacity(disk, 8192);
	err = add_disk(disk);
	if (err)
		goto out;
	ktriage_bstall_disk = disk;
	pr_info("ktriage_crash: /dev/ktriage_bstall created; it holds every bio\n");
out:
	mutex_unlock(&ktriage_stall_setup);
	return err;
}
#else
static int ktriage_stall_create(bool ram)
{
	return -EOPNOTSUPP;
}

static int ktriage_bstall_create(void)
{
	return -EOPNOTSUPP;
}

static noinline void ktriage_label_read(void)
{
	pr_info("ktriage_crash: no stall disk before 5.18\n");
}
#endif

static noinline void ktriage_table_hold(int io)
{
	down_write(&ktriage_config_rwsem);
	mutex_lock(&ktriage_table_lock);
	if (io == 1)
		ktriage_journal_append();
	else if (io == 2)
		ktriage_label_read();
	ktriage_table_rebuild_slow();
	mutex_unlock(&ktriage_table_lock);
	up_write(&ktriage_config_rwsem);
}

static noinline void ktriage_table_lookup(void)
{
	mutex_lock(&ktriage_table_lock);
	pr_info("ktriage_crash: table lookup done\n");
	mutex_unlock(&ktriage_table_lock);
}

static noinline void ktriage_config_read(void)
{
	down_read(&ktriage_config_rwsem);
	pr_info("ktriage_crash: config read done\n");
	up_read(&ktriage_config_rwsem);
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
	else if (!strcmp(cmd, "hold"))
		ktriage_table_hold(0);
	else if (!strcmp(cmd, "holdio"))
		ktriage_table_hold(1);
	else if (!strcmp(cmd, "holdblk"))
		ktriage_table_hold(2);
	else if (!strcmp(cmd, "bstall")) {
		int err = ktriage_bstall_create();

		if (err)
			return err;
	} else if (!strcmp(cmd, "stall") || !strcmp(cmd, "ramdisk")) {
		int err = ktriage_stall_create(!strcmp(cmd, "ramdisk"));

		if (err)
			return err;
	}
	else if (!strcmp(cmd, "lookup"))
		ktriage_table_lookup();
	else if (!strcmp(cmd, "readcfg"))
		ktriage_config_read();
	else
		return -EINVAL;
	return len;
}

/* struct proc_ops replaced file_operations for /proc entries in 5.6. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
static const struct proc_ops ktriage_crash_ops = {
	.proc_write = ktriage_crash_write,
	.proc_lseek = noop_llseek,
};
#else
static const struct file_operations ktriage_crash_ops = {
	.owner = THIS_MODULE,
	.write = ktriage_crash_write,
	.llseek = noop_llseek,
};
#endif

static int __init ktriage_crash_init(void)
{
	if (!proc_create("ktriage_crash", 0200, NULL, &ktriage_crash_ops))
		return -ENOMEM;
	pr_info("ktriage_crash: loaded; write null|bug|softlockup|warn|hold|holdio|holdblk|stall|ramdisk|bstall|lookup|readcfg to /proc/ktriage_crash\n");
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
