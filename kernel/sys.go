package kernel

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/ktriage/ktriage/internal/plausible"
)

// SysInfo holds crash's `sys` facts.
type SysInfo struct {
	Sysname, Nodename, Release, Version, Machine string
	CPUs, OfflineCPUs                            int
	CrashTime                                    time.Time
	Uptime                                       time.Duration
	LoadAverage                                  [3]float64
	Tasks                                        int
	MemoryBytes                                  uint64
	HZ                                           int
}

// Sys reads the system facts. Fields it cannot read stay zero and the
// returned warnings say why.
func (k *Kernel) Sys() (SysInfo, []string) {
	var s SysInfo
	var warns []string
	warn := func(format string, args ...any) { warns = append(warns, fmt.Sprintf(format, args...)) }

	if err := k.readUtsname(&s); err != nil {
		warn("utsname: %v", err)
	}
	s.CPUs, s.OfflineCPUs = k.cpuCounts()
	// The crash time from the first source that gives a plausible one:
	// VMCOREINFO's CRASHTIME, the kernel's wall clock, the dump header.
	if vi := k.Dump.VMCoreInfo; vi != nil {
		if t, ok := vi.CrashTime(); ok {
			if err := plausible.Time(t); err != nil {
				warn("crash time: VMCOREINFO CRASHTIME not used: %v", err)
			} else {
				s.CrashTime = t
			}
		}
	}
	if s.CrashTime.IsZero() {
		t, err := k.wallClock()
		if err == nil {
			if err = plausible.Time(t); err != nil {
				err = fmt.Errorf("the kernel's wall clock: %w", err)
			}
		}
		if err == nil {
			s.CrashTime = t
		} else if h := k.Dump.HeaderTime; !h.IsZero() && plausible.Time(h) == nil {
			s.CrashTime = h
		} else {
			warn("crash time: %v", err)
		}
	}
	if hz, err := k.hz(); err == nil {
		s.HZ = hz
		if up, err := k.uptime(hz); err == nil {
			s.Uptime = up
		} else {
			warn("uptime: %v", err)
		}
	} else {
		warn("HZ: %v", err)
	}
	if a, err := k.Addr("avenrun"); err == nil {
		for i := range s.LoadAverage {
			v, err := k.U64(a + uint64(i)*8)
			if err != nil {
				warn("avenrun: %v", err)
				break
			}
			s.LoadAverage[i] = loadAvg(v)
		}
	} else {
		warn("load average: %v", err)
	}
	if tasks, err := k.Tasks(); err == nil {
		s.Tasks = len(tasks)
	} else {
		warn("tasks: %v", err)
	}
	if m, err := k.memoryBytes(); err == nil {
		s.MemoryBytes = m
	} else {
		warn("memory: %v", err)
	}
	return s, warns
}

func (k *Kernel) readUtsname(s *SysInfo) error {
	vi := k.Dump.VMCoreInfo
	base, err := k.Addr("init_uts_ns")
	if err != nil {
		return err
	}
	nameOff := uint64(0)
	if v, ok := vi.Offset("uts_namespace.name"); ok {
		nameOff = uint64(v)
	} else if v, err := k.Off("uts_namespace", "name"); err == nil {
		nameOff = v
	}
	const field = 65 // __NEW_UTS_LEN + 1
	buf := make([]byte, 6*field)
	if err := k.Read(buf, base+nameOff); err != nil {
		return err
	}
	str := func(i int) string {
		f := buf[i*field : (i+1)*field]
		if j := bytes.IndexByte(f, 0); j >= 0 {
			f = f[:j]
		}
		return string(f)
	}
	s.Sysname, s.Nodename, s.Release, s.Version, s.Machine = str(0), str(1), str(2), str(3), str(4)
	return nil
}

// cpuCounts counts present CPUs and those of them not online.
func (k *Kernel) cpuCounts() (present, offline int) {
	// The masks are __cpu_present_mask and __cpu_online_mask since 4.5,
	// cpu_present_bits and cpu_online_bits before.
	count := func(sym, old string) int {
		a, err := k.Addr(sym)
		if err != nil {
			if a, err = k.Addr(old); err != nil {
				return -1
			}
		}
		n := (k.NrCPUIDs() + 63) / 64
		c := 0
		for i := 0; i < n; i++ {
			w, err := k.U64(a + uint64(i)*8)
			if err != nil {
				return -1
			}
			c += bits.OnesCount64(w)
		}
		return c
	}
	present = count("__cpu_present_mask", "cpu_present_bits")
	if present <= 0 {
		present = max(len(k.Dump.PRStatus()), k.Dump.NrCPUs)
		return present, 0
	}
	if online := count("__cpu_online_mask", "cpu_online_bits"); online >= 0 && online < present {
		offline = present - online
	}
	return present, offline
}

// hz is the kernel's tick rate, from tick_nsec (nanoseconds per jiffy).
func (k *Kernel) hz() (int, error) {
	a, err := k.Addr("tick_nsec")
	if err != nil {
		return 0, err
	}
	ns, err := k.U64(a)
	if err != nil {
		return 0, err
	}
	if ns == 0 {
		return 0, fmt.Errorf("tick_nsec is 0")
	}
	hz := int(math.Round(1e9 / float64(ns)))
	for _, std := range []int{100, 250, 300, 1000, 24, 48, 64, 128, 256, 512, 1024, 1200} {
		if math.Abs(float64(hz-std)) <= float64(std)/100 {
			return std, nil
		}
	}
	return hz, nil
}

// uptime is jiffies since boot: jiffies_64 counts from INITIAL_JIFFIES,
// (unsigned int)(-300*HZ), so that wraparound bugs show early.
func (k *Kernel) uptime(hz int) (time.Duration, error) {
	a, err := k.Addr("jiffies_64")
	if err != nil {
		if a, err = k.Addr("jiffies"); err != nil {
			return 0, err
		}
	}
	j, err := k.U64(a)
	if err != nil {
		return 0, err
	}
	initial := uint64(uint32(int32(-300 * hz)))
	ticks := j - initial
	return time.Duration(ticks) * time.Second / time.Duration(hz), nil
}

// wallClock reads the timekeeper's xtime_sec: the wall time the kernel last
// accounted, used when VMCOREINFO has no CRASHTIME (QEMU dumps).
func (k *Kernel) wallClock() (time.Time, error) {
	xt, err := k.Off("timekeeper", "xtime_sec")
	if err != nil {
		return time.Time{}, err
	}
	tk, err := k.timekeeper()
	if err != nil {
		return time.Time{}, err
	}
	return xtimeSec(k, tk+xt)
}

// timekeeper is the address of the kernel's struct timekeeper.
func (k *Kernel) timekeeper() (uint64, error) {
	a, err := k.Addr("tk_core")
	if err != nil {
		// Before 3.17 the timekeeper was a plain static struct.
		if tk, err2 := k.Addr("timekeeper"); err2 == nil {
			return tk, nil
		}
		return 0, err
	}
	// tk_core is an anonymous struct { seqcount_raw_spinlock_t seq; struct
	// timekeeper timekeeper; }: the timekeeper follows the seqcount at the
	// next 8-byte boundary.
	seqSize := uint64(4)
	if ti, err := k.Types.TypeInfo("seqcount_raw_spinlock_t"); err == nil && ti.Size > 0 {
		seqSize = ti.Size
	}
	return a + (seqSize+7)&^7, nil
}

// MonotonicNS is CLOCK_MONOTONIC in nanoseconds at the timekeeper's last
// update (timekeeper.tkr_mono.base): within a tick of the crash, and the
// clock the block layer stamps requests with (ktime_get_ns).
func (k *Kernel) MonotonicNS() (uint64, error) {
	base, err := k.Off("timekeeper", "tkr_mono.base")
	if err != nil {
		return 0, err
	}
	tk, err := k.timekeeper()
	if err != nil {
		return 0, err
	}
	ns, err := k.U64(tk + base)
	if err != nil {
		return 0, err
	}
	if int64(ns) <= 0 {
		return 0, fmt.Errorf("tkr_mono.base %d is not a time since boot", int64(ns))
	}
	return ns, nil
}

func xtimeSec(k *Kernel, addr uint64) (time.Time, error) {
	sec, err := k.U64(addr)
	if err != nil {
		return time.Time{}, err
	}
	if sec < 1e8 || sec > 1e11 {
		return time.Time{}, fmt.Errorf("xtime_sec %d is implausible", sec)
	}
	return time.Unix(int64(sec), 0).UTC(), nil
}

// loadAvg converts avenrun's fixed point (FSHIFT 11) as the kernel's
// /proc/loadavg does, rounding to two decimals.
func loadAvg(v uint64) float64 {
	const fshift, fixed1 = 11, 1 << 11
	v += fixed1 / 200
	whole := v >> fshift
	frac := ((v & (fixed1 - 1)) * 100) >> fshift
	return float64(whole) + float64(frac)/100
}

// memoryBytes is the RAM the kernel manages: node_present_pages summed
// over the online nodes (or of contig_page_data without NUMA), as crash's
// MEMORY shows it.
func (k *Kernel) memoryBytes() (uint64, error) {
	presentOff, err := k.Off("pglist_data", "node_present_pages")
	if err != nil {
		return 0, err
	}
	nodeData, err := k.Addr("node_data")
	if err != nil {
		// A kernel built without NUMA has its one node in contig_page_data.
		contig, err2 := k.Addr("contig_page_data")
		if err2 != nil {
			return 0, err
		}
		pages, err := k.U64(contig + presentOff)
		if err != nil {
			return 0, err
		}
		return pages * uint64(k.Dump.PageSize), nil
	}
	n := 1
	if vi := k.Dump.VMCoreInfo; vi != nil {
		if l, ok := vi.Length("node_data"); ok && l > 0 && l <= 1<<12 {
			n = int(l)
		}
	}
	var pages uint64
	for i := 0; i < n; i++ {
		pg, err := k.U64(nodeData + uint64(i)*8)
		if err != nil || pg == 0 {
			continue
		}
		p, err := k.U64(pg + presentOff)
		if err != nil {
			continue
		}
		pages += p
	}
	if pages == 0 {
		return 0, fmt.Errorf("no node reports present pages")
	}
	// A damaged pglist_data can claim any count: no more pages can be
	// present than the page frames the dump describes.
	if max := k.Dump.MaxPFN(); max > 0 && pages > max {
		return 0, fmt.Errorf("nodes report %d present pages, more than the %d page frames the dump describes: not shown (damaged node data?)", pages, max)
	}
	return pages * uint64(k.Dump.PageSize), nil
}
