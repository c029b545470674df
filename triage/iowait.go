package triage

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/kernel"
)

// What a D task waits for when its stack waits on I/O is read the way the
// locks are (locks.go): from a record the waiting code left on the task's
// own stack and that names the task or points into that stack — a page or
// buffer wait entry (its wake function tells which), or the bio whose
// completion the task sleeps on. From the page, buffer or bio the block
// device follows, and from the device's blk-mq tags the requests it holds
// in flight and since when. Whatever cannot be read is said, not guessed.

// maxTagsPerQueue bounds the tag walk on a damaged tag set.
const maxTagsPerQueue = 1 << 16

// kernelHalf is where x86_64 kernel addresses start.
const kernelHalf = 0xffff800000000000

// ioFound is what one reader took from the stack.
type ioFound struct {
	object   string
	device   string
	disk     uint64 // the gendisk, for its queue; 0 when not reached
	evidence string
}

// fillIOWaits reads, for every D task whose stack waits on I/O, what it
// waits for and the device's queue.
func fillIOWaits(in *incident.Incident, k *kernel.Kernel, tasks []kernel.Task) {
	byPID := map[int]kernel.Task{}
	for _, t := range tasks {
		if t.State == kernel.StateUninterruptible {
			byPID[t.PID] = t
		}
	}
	now, nowErr := k.MonotonicNS()
	for i := range in.BlockedTasks {
		bt := &in.BlockedTasks[i]
		if bt.WaitsOn != nil {
			continue
		}
		w := incident.IOWaitOf(bt.Backtrace)
		if w == nil {
			continue
		}
		bt.IOWait = w
		t, ok := byPID[bt.PID]
		if !ok {
			continue
		}
		f, err := readIOWait(k, t, w)
		if err != nil {
			w.Unknown = err.Error()
			continue
		}
		w.Object, w.Device, w.Evidence = f.object, f.device, f.evidence
		if f.disk == 0 {
			continue
		}
		n, oldest, bios, err := inFlight(k, f.disk)
		if err != nil {
			w.Evidence += "; requests in flight not read: " + err.Error()
			continue
		}
		w.InFlight, w.InFlightBios = &n, bios
		switch {
		case oldest == 0:
		case nowErr != nil:
			w.Evidence += "; their age not read: " + nowErr.Error()
		case now >= oldest:
			age := float64(now-oldest) / 1e9
			w.OldestSeconds = &age
			w.OldestFrom = fmt.Sprintf("request.start_time_ns %.3f s against the timekeeper's monotonic clock %.3f s",
				float64(oldest)/1e9, float64(now)/1e9)
		}
	}
}

// readIOWait tries each record the waiting code leaves on the stack.
func readIOWait(k *kernel.Kernel, t kernel.Task, w *incident.IOWait) (ioFound, error) {
	buf, lo, err := readStack(k, t)
	if err != nil {
		return ioFound{}, err
	}
	var whyNot []string
	for _, read := range []func(*kernel.Kernel, kernel.Task, []byte, uint64, *incident.IOWait) (ioFound, bool, error){
		pageWait, bitWait, bioWait,
	} {
		f, ok, err := read(k, t, buf, lo, w)
		if ok {
			return f, nil
		}
		if err != nil {
			whyNot = append(whyNot, err.Error())
		}
	}
	if len(whyNot) == 0 {
		return ioFound{}, fmt.Errorf("no page, buffer or bio record naming pid %d found on its stack", t.PID)
	}
	return ioFound{}, fmt.Errorf("no page, buffer or bio record naming pid %d found on its stack (%s)", t.PID, strings.Join(whyNot, "; "))
}

// readStack reads a task's kernel stack page by page; pages a dump lacks
// read as zeros.
func readStack(k *kernel.Kernel, t kernel.Task) ([]byte, uint64, error) {
	st, ok := k.TaskStack(t)
	if !ok {
		return nil, 0, fmt.Errorf("task_struct.stack not read")
	}
	buf := make([]byte, st.Hi-st.Lo)
	read := 0
	var readErr error
	for p := uint64(0); p < uint64(len(buf)); p += stackPage {
		end := min(p+stackPage, uint64(len(buf)))
		if err := k.Read(buf[p:end], st.Lo+p); err != nil {
			clear(buf[p:end])
			readErr = err
			continue
		}
		read++
	}
	if read == 0 {
		return nil, 0, fmt.Errorf("its stack %#x..%#x: %w", st.Lo, st.Hi, readErr)
	}
	return buf, st.Lo, nil
}

// waitEntries yields the wait_queue_entry records on the stack whose
// private field is the task and whose func is the named wake function, as
// the address of the struct that embeds them.
func waitEntries(k *kernel.Kernel, t kernel.Task, buf []byte, lo uint64, outer, entry, wake string) ([]uint64, error) {
	member := func(m string) string {
		if entry == "" {
			return m
		}
		return entry + "." + m
	}
	privOff, err := k.Off(outer, member("private"))
	if err != nil {
		return nil, err
	}
	funcOff, err := k.Off(outer, member("func"))
	if err != nil {
		return nil, err
	}
	var out []uint64
	for off := uint64(0); off+8 <= uint64(len(buf)); off += 8 {
		if binary.LittleEndian.Uint64(buf[off:]) != t.Addr || off < privOff {
			continue
		}
		rec := lo + off - privOff
		fn, err := k.U64(rec + funcOff)
		if err != nil {
			continue
		}
		if name, o, _, ok := k.Symbolize(fn); ok && o == 0 && name == wake {
			out = append(out, rec)
		}
	}
	return out, nil
}

// pageWait: a struct wait_page_queue (folio or page, bit, wait entry woken
// by wake_page_function) — a task waiting for a page's lock or writeback.
func pageWait(k *kernel.Kernel, t kernel.Task, buf []byte, lo uint64, _ *incident.IOWait) (ioFound, bool, error) {
	recs, err := waitEntries(k, t, buf, lo, "wait_page_queue", "wait", "wake_page_function")
	if err != nil || len(recs) == 0 {
		return ioFound{}, false, err
	}
	rec := recs[0]
	pageStruct, pageMember := "folio", "folio"
	if _, err := k.Off("wait_page_queue", "folio"); err != nil {
		pageStruct, pageMember = "page", "page" // before 5.16
	}
	pg, err := k.Field(rec, "wait_page_queue", pageMember)
	if err != nil {
		return ioFound{}, false, err
	}
	ev := fmt.Sprintf("wait_page_queue at %#x on pid %d's stack (woken by wake_page_function), %s %#x", rec, t.PID, pageStruct, pg)
	mapping, err := k.Field(pg, pageStruct, "mapping")
	if err != nil || mapping == 0 || mapping&3 != 0 {
		// Anonymous or movable pages have no file or device.
		return ioFound{object: fmt.Sprintf("%s at %#x (not a file's page)", pageStruct, pg), evidence: ev}, true, nil
	}
	host, err := k.Field(mapping, "address_space", "host")
	if err != nil {
		return ioFound{}, false, err
	}
	index, _ := k.Field(pg, pageStruct, "index")
	ino, _ := k.Field(host, "inode", "i_ino")
	sb, err := k.Field(host, "inode", "i_sb")
	if err != nil {
		return ioFound{}, false, err
	}
	sid, _ := k.String(sb+mustOff(k, "super_block", "s_id"), 32)
	fsType := ""
	if st, err := k.Field(sb, "super_block", "s_type"); err == nil && st != 0 {
		if name, err := k.Field(st, "file_system_type", "name"); err == nil {
			fsType, _ = k.String(name, 32)
		}
	}
	ev += fmt.Sprintf(", mapping %#x, inode %#x", mapping, host)
	if fsType == "bdev" {
		// The block device's own page cache: the inode is inside its
		// struct bdev_inode, next to the block_device.
		vOff, err1 := k.Off("bdev_inode", "vfs_inode")
		bOff, err2 := k.Off("bdev_inode", "bdev")
		if err := firstErr(err1, err2); err != nil {
			return ioFound{object: fmt.Sprintf("page %d of a block device's page cache", index), evidence: ev}, true, nil
		}
		name, disk, err := bdevName(k, host-vOff+bOff)
		if err != nil {
			return ioFound{object: fmt.Sprintf("page %d of a block device's page cache", index), evidence: ev + "; " + err.Error()}, true, nil
		}
		return ioFound{object: fmt.Sprintf("page %d of %s's page cache", index, name), device: name, disk: disk, evidence: ev}, true, nil
	}
	f := ioFound{object: fmt.Sprintf("page %d of inode %d on %s (%s)", index, ino, sid, fsType), device: sid, evidence: ev}
	if bdev, err := k.Field(sb, "super_block", "s_bdev"); err == nil && bdev != 0 {
		if _, disk, err := bdevName(k, bdev); err == nil {
			f.disk = disk
		}
	}
	return f, true, nil
}

// bitWait: a struct wait_bit_queue_entry woken by wake_bit_function. Its
// word is taken for a buffer head's b_state (buffer I/O, jbd2's shadow
// buffers) when the struct around it reads as one: a device that has a
// name, a block size the block layer allows, a page.
func bitWait(k *kernel.Kernel, t kernel.Task, buf []byte, lo uint64, _ *incident.IOWait) (ioFound, bool, error) {
	recs, err := waitEntries(k, t, buf, lo, "wait_bit_queue_entry", "wq_entry", "wake_bit_function")
	if err != nil || len(recs) == 0 {
		return ioFound{}, false, err
	}
	rec := recs[0]
	word, err := k.Field(rec, "wait_bit_queue_entry", "key.flags")
	if err != nil {
		return ioFound{}, false, err
	}
	bit, _ := k.Field(rec, "wait_bit_queue_entry", "key.bit_nr")
	ev := fmt.Sprintf("wait_bit_queue_entry at %#x on pid %d's stack (woken by wake_bit_function), bit %d of the word at %#x", rec, t.PID, bit, word)
	if f, ok := bufferHead(k, word-mustOff(k, "buffer_head", "b_state")); ok {
		f.evidence = ev + ": " + f.evidence
		return f, true, nil
	}
	return ioFound{object: fmt.Sprintf("bit %d of the word at %#x", bit, word), evidence: ev}, true, nil
}

// bufferHead reads bh as a struct buffer_head, if it is one.
func bufferHead(k *kernel.Kernel, bh uint64) (ioFound, bool) {
	size, err1 := k.Field(bh, "buffer_head", "b_size")
	page, err2 := k.Field(bh, "buffer_head", "b_page")
	if err2 != nil {
		page, err2 = k.Field(bh, "buffer_head", "b_folio") // 6.4+
	}
	bdev, err3 := k.Field(bh, "buffer_head", "b_bdev")
	if firstErr(err1, err2, err3) != nil || size < 512 || size > 1<<16 || size&(size-1) != 0 || page < kernelHalf || bdev == 0 {
		return ioFound{}, false
	}
	name, disk, err := bdevName(k, bdev)
	if err != nil {
		return ioFound{}, false
	}
	block, _ := k.Field(bh, "buffer_head", "b_blocknr")
	return ioFound{
		object: fmt.Sprintf("buffer head at %#x (block %d, %d bytes)", bh, block, size),
		device: name, disk: disk,
		evidence: fmt.Sprintf("the word is b_state of a buffer_head (b_bdev %#x, b_size %d)", bdev, size),
	}, true
}

// bioWait: the bio the task waits to complete — on its stack (direct I/O)
// or pointed to from it — recognised by bi_private pointing at the task or
// into its stack (the on-stack completion) and by a readable device.
func bioWait(k *kernel.Kernel, t kernel.Task, buf []byte, lo uint64, _ *incident.IOWait) (ioFound, bool, error) {
	privOff, err := k.Off("bio", "bi_private")
	if err != nil {
		return ioFound{}, false, err
	}
	hi := lo + uint64(len(buf))
	onStack := func(a uint64) bool { return a >= lo && a < hi }
	try := func(bio uint64) (ioFound, bool) {
		priv, err := k.U64(bio + privOff)
		if err != nil || !(priv == t.Addr || onStack(priv)) {
			return ioFound{}, false
		}
		end, err := k.Field(bio, "bio", "bi_end_io")
		if err != nil {
			return ioFound{}, false
		}
		endName, o, _, ok := k.Symbolize(end)
		if !ok || o != 0 {
			return ioFound{}, false
		}
		name, disk, err := bioDevice(k, bio)
		if err != nil {
			return ioFound{}, false
		}
		opf, _ := k.Field(bio, "bio", "bi_opf")
		sector, _ := k.Field(bio, "bio", "bi_iter.bi_sector")
		size, _ := k.Field(bio, "bio", "bi_iter.bi_size")
		where := "on pid %d's stack"
		if !onStack(bio) {
			where = "referenced from pid %d's stack"
		}
		return ioFound{
			object: fmt.Sprintf("bio at %#x (%s, sector %d, %d bytes)", bio, bioOp(opf), sector, size),
			device: name, disk: disk,
			evidence: fmt.Sprintf("bio at %#x "+where+", bi_private %#x (the waiting task's completion), bi_end_io %s",
				bio, t.PID, priv, endName),
		}, true
	}
	for off := uint64(0); off+8 <= uint64(len(buf)); off += 8 {
		v := binary.LittleEndian.Uint64(buf[off:])
		switch {
		case (v == t.Addr || onStack(v)) && off >= privOff:
			if f, ok := try(lo + off - privOff); ok {
				return f, true, nil
			}
		case v >= kernelHalf && !onStack(v) && v%8 == 0:
			if f, ok := try(v); ok {
				return f, true, nil
			}
		}
	}
	return ioFound{}, false, nil
}

// bioDevice names a bio's device: bi_bdev (5.12+) or bi_disk with bi_partno.
func bioDevice(k *kernel.Kernel, bio uint64) (string, uint64, error) {
	if bdev, err := k.Field(bio, "bio", "bi_bdev"); err == nil {
		if bdev == 0 {
			return "", 0, fmt.Errorf("bio %#x has no device", bio)
		}
		return bdevName(k, bdev)
	}
	disk, err := k.Field(bio, "bio", "bi_disk")
	if err != nil || disk == 0 {
		return "", 0, fmt.Errorf("bio %#x: no bi_bdev or bi_disk", bio)
	}
	name, err := diskName(k, disk)
	if err != nil {
		return "", 0, err
	}
	if p, err := k.Field(bio, "bio", "bi_partno"); err == nil && p != 0 {
		name = partName(name, p)
	}
	return name, disk, nil
}

// bdevName is a block_device's name as /proc/partitions shows it and its
// gendisk.
func bdevName(k *kernel.Kernel, bdev uint64) (string, uint64, error) {
	disk, err := k.Field(bdev, "block_device", "bd_disk")
	if err != nil || disk == 0 {
		return "", 0, fmt.Errorf("block_device %#x: no bd_disk", bdev)
	}
	name, err := diskName(k, disk)
	if err != nil {
		return "", 0, err
	}
	if p, err := k.Field(bdev, "block_device", "bd_partno"); err == nil && p != 0 {
		name = partName(name, p)
	}
	return name, disk, nil
}

func diskName(k *kernel.Kernel, disk uint64) (string, error) {
	off, err := k.Off("gendisk", "disk_name")
	if err != nil {
		return "", err
	}
	name, err := k.String(disk+off, 32)
	if err != nil {
		return "", err
	}
	if name == "" || !printable(name) {
		return "", fmt.Errorf("gendisk %#x: disk_name %q is not a name", disk, name)
	}
	return name, nil
}

// partName follows disk_name_format: a digit-ending disk gets a "p".
func partName(disk string, part uint64) string {
	if c := disk[len(disk)-1]; c >= '0' && c <= '9' {
		return fmt.Sprintf("%sp%d", disk, part)
	}
	return fmt.Sprintf("%s%d", disk, part)
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// bioOp names REQ_OP_* of bi_opf's low byte.
func bioOp(opf uint64) string {
	switch opf & 0xff {
	case 0:
		return "read"
	case 1:
		return "write"
	case 2:
		return "flush"
	case 3:
		return "discard"
	}
	return fmt.Sprintf("op %d", opf&0xff)
}

func mustOff(k *kernel.Kernel, structName, path string) uint64 {
	off, _ := k.Off(structName, path)
	return off
}

// inFlight counts the requests of the disk's queue that its blk-mq tags
// hold started and not completed (request.state MQ_RQ_IN_FLIGHT), and the
// earliest start_time_ns among them (0 when none is stamped); for a
// bio-based disk (bios true) the bios it accounts in flight.
func inFlight(k *kernel.Kernel, disk uint64) (int, uint64, bool, error) {
	q, err := k.Field(disk, "gendisk", "queue")
	if err != nil || q == 0 {
		return 0, 0, false, fmt.Errorf("gendisk %#x: no request queue", disk)
	}
	set, err := k.Field(q, "request_queue", "tag_set")
	if err != nil {
		return 0, 0, false, err
	}
	if set == 0 {
		// A bio-based driver (device-mapper, md): no requests, but the
		// bios it accounted (bio_start_io_acct) and has not ended are its
		// disk's per-CPU in_flight counts.
		n, err := bioInFlight(k, disk)
		return n, 0, true, err
	}
	tagsArr, err := k.Field(set, "blk_mq_tag_set", "tags")
	if err != nil {
		return 0, 0, false, err
	}
	nrHW, err := k.Field(set, "blk_mq_tag_set", "nr_hw_queues")
	if err != nil {
		return 0, 0, false, err
	}
	const mqRqInFlight = 1 // enum mq_rq_state
	seen := map[uint64]bool{}
	n := 0
	var oldest uint64
	for h := uint64(0); h < min(nrHW, 1024); h++ {
		tags, err := k.U64(tagsArr + 8*h)
		if err != nil || tags == 0 {
			continue
		}
		nr, err1 := k.Field(tags, "blk_mq_tags", "nr_tags")
		rqs, err2 := k.Field(tags, "blk_mq_tags", "rqs")
		if firstErr(err1, err2) != nil || rqs == 0 {
			continue
		}
		for i := uint64(0); i < min(nr, maxTagsPerQueue); i++ {
			rq, err := k.U64(rqs + 8*i)
			if err != nil || rq == 0 || seen[rq] {
				continue
			}
			seen[rq] = true
			if rqQ, err := k.Field(rq, "request", "q"); err != nil || rqQ != q {
				continue
			}
			if st, err := k.Field(rq, "request", "state"); err != nil || st != mqRqInFlight {
				continue
			}
			n++
			if start, err := k.Field(rq, "request", "start_time_ns"); err == nil && start != 0 && (oldest == 0 || start < oldest) {
				oldest = start
			}
		}
	}
	return n, oldest, false, nil
}

// bioInFlight sums part0's per-CPU disk_stats.in_flight (reads and
// writes), as the kernel's part_in_flight does for a bio-based disk.
func bioInFlight(k *kernel.Kernel, disk uint64) (int, error) {
	part, err := k.Field(disk, "gendisk", "part0")
	if err != nil || part == 0 {
		return 0, fmt.Errorf("gendisk %#x: no part0", disk)
	}
	stats, err := k.Field(part, "block_device", "bd_stats")
	if err != nil || stats == 0 {
		return 0, fmt.Errorf("the queue has no blk-mq tag set and part0's per-CPU stats are not read")
	}
	off, err := k.Off("disk_stats", "in_flight")
	if err != nil {
		return 0, err
	}
	cpus, err := k.PerCPUOffsets()
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, c := range cpus {
		for rw := uint64(0); rw < 2; rw++ {
			v, err := k.U64(stats + c + off + 8*rw)
			if err != nil {
				return 0, fmt.Errorf("per-CPU in_flight: %w", err)
			}
			sum += int64(v) // local_t: a CPU may end a bio another started
		}
	}
	if sum < 0 || sum > 1<<24 {
		return 0, fmt.Errorf("per-CPU in_flight sums to %d", sum)
	}
	return int(sum), nil
}
