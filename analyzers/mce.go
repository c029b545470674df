package analyzers

import (
	"fmt"
	"github.com/ktriage/ktriage/internal/lazyre"
	"strconv"
	"strings"
)

// Machine checks are printed by arch/x86/kernel/cpu/mce as
//
//	[Hardware Error]: CPU 4: Machine Check Exception: 5 Bank 3: be00000000800400
//	[Hardware Error]: TSC 10c0c5d96a6 ADDR 3fff8d0 MISC 8c
//
// (MCG_STATUS, bank, MCi_STATUS). The status word says whether the error was
// corrected, whether the processor context is corrupt, and — in its low 16
// bits, the MCA error code — which unit failed. The bit layout and the
// compound error codes are the Intel SDM's (vol. 3B, "Machine-Check
// Architecture"); AMD's legacy MCA uses the same classes, and its newer SMCA
// banks are best decoded by rasdaemon.

var (
	mceStatusLine = lazyre.New(`CPU (\d+): Machine Check( Exception)?: ([0-9a-fA-F]+) Bank (\d+): ([0-9a-fA-F]+)`)
	// The bank line as some kernels and pastes print it, without MCi_STATUS.
	mceBankLine  = lazyre.New(`CPU (\d+): Machine Check( Exception)?: ([0-9a-fA-F]+) Bank (\d+)\s*$`)
	mceAddrLine  = lazyre.New(`\bADDR ([0-9a-fA-F]+)`)
	mcePanicLine = lazyre.New(`Fatal [Mm]achine check|Machine check from unknown source|Not all CPUs entered broadcast exception handler|Kernel panic - not syncing: Machine check`)
)

// mciStatus flag bits, high to low.
var mciFlags = []struct {
	bit  uint
	name string
}{{63, "VAL"}, {62, "OVER"}, {61, "UC"}, {60, "EN"}, {59, "MISCV"}, {58, "ADDRV"}, {57, "PCC"}, {56, "S"}, {55, "AR"}}

// mcaErrorClass names the unit an MCA error code points at.
func mcaErrorClass(status uint64) string {
	code := uint16(status) &^ 0x1000 // bit 12 is the corrected-error filter flag
	switch {
	case code == 0x0000:
		return "no error code"
	case code == 0x0001:
		return "unclassified error"
	case code == 0x0002:
		return "microcode ROM parity error"
	case code == 0x0003:
		return "external error (signalled by another agent, e.g. on the bus)"
	case code == 0x0004:
		return "functional redundancy check error"
	case code == 0x0005:
		return "internal parity error"
	case code == 0x0006:
		return "SMM handler code access violation"
	case code == 0x0400:
		return "internal timer error (a processor watchdog timeout: a core stopped making progress)"
	case code&0xFC00 == 0x0400:
		return "internal unclassified error"
	case code&0xFFFC == 0x000C:
		return "generic cache hierarchy error"
	case code&0xFFF0 == 0x0010:
		return "TLB error"
	case code&0xFF80 == 0x0080:
		return "memory controller error (a DIMM or memory channel)"
	case code&0xFF00 == 0x0100:
		return "cache hierarchy error"
	case code&0xF800 == 0x0800:
		return "bus or interconnect error"
	}
	return fmt.Sprintf("model-specific error code %#04x", code)
}

func mciFlagNames(status uint64) string {
	var names []string
	for _, f := range mciFlags {
		if status&(1<<f.bit) != 0 {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, " ")
}

func init() {
	registerAnalyzer("mce/decode",
		"machine check records: CPU, bank, MCi_STATUS flags and the MCA error class (Intel SDM vol. 3B)",
		[]string{"cpu", "bank", "status", "flags", "class", "addr", "verdict"}, detectMCE)
}

func detectMCE(v *view) *Detection {
	d := &Detection{Facts: map[string]string{
		"cpu": "?", "bank": "?", "status": "not in the log", "flags": "", "class": "not decoded (no MCi_STATUS line in the log)",
		"addr": "none", "verdict": "",
	}}
	found, decoded := false, false
	for _, l := range v.lines {
		// "achine": the panic line says "Fatal machine check" in lower case.
		if !strings.Contains(l.text, "achine") && !strings.Contains(l.text, "ADDR ") && !strings.Contains(l.text, "broadcast exception") {
			continue
		}
		if m := mceStatusLine.FindStringSubmatch(l.text); m != nil {
			status, err := strconv.ParseUint(m[5], 16, 64)
			if err != nil {
				continue
			}
			found = true
			// The first uncorrected record is the one that matters; keep
			// the first record of all when none is uncorrected.
			uc := status&(1<<61) != 0
			if !decoded || uc && !strings.Contains(d.Facts["flags"], "UC") {
				decoded = true
				d.Facts["cpu"], d.Facts["bank"], d.Facts["status"] = m[1], m[4], "0x"+strings.ToLower(m[5])
				d.Facts["flags"] = mciFlagNames(status)
				d.Facts["class"] = mcaErrorClass(status)
				d.Facts["verdict"] = mceVerdict(status)
			}
			d.Evidence = append(d.Evidence, l.String())
			continue
		}
		if m := mceBankLine.FindStringSubmatch(l.text); m != nil && !decoded {
			// CPU and bank are read; the error itself is not.
			found = true
			d.Facts["cpu"], d.Facts["bank"] = m[1], m[4]
			d.Evidence = append(d.Evidence, l.String())
			continue
		}
		if m := mceAddrLine.FindStringSubmatch(l.text); m != nil && strings.Contains(l.text, "Hardware Error") && decoded {
			d.Facts["addr"] = "0x" + strings.ToLower(m[1])
			d.Evidence = append(d.Evidence, l.String())
			continue
		}
		if mcePanicLine.MatchString(l.text) {
			found = true
			d.Evidence = append(d.Evidence, l.String())
		}
	}
	if !found {
		return nil
	}
	d.Evidence = limit(dedupe(d.Evidence), maxEvidence)
	if decoded {
		d.Summary = fmt.Sprintf("CPU %s bank %s: %s; MCi_STATUS %s [%s]%s.", d.Facts["cpu"], d.Facts["bank"], d.Facts["class"], d.Facts["status"], d.Facts["flags"], d.Facts["verdict"])
		d.Commands = []string{"grep -A4 'Machine Check' /var/log/messages | mcelog --ascii"}
	}
	d.Crash = v.in.Panic != nil && (mcePanicLine.MatchString(v.in.Panic.Message) || hardwarePanic.MatchString(v.in.Panic.Message))
	return d
}

// mceVerdict reads the severity bits the way the kernel's mce_severity does
// in broad strokes: PCC means the processor state is lost.
func mceVerdict(status uint64) string {
	switch {
	case status&(1<<61) == 0:
		return " — corrected by hardware"
	case status&(1<<57) != 0:
		return " — uncorrected, processor context corrupt (fatal)"
	case status&(1<<55) != 0:
		return " — uncorrected, action required (recoverable only if the kernel can isolate the page)"
	}
	return " — uncorrected"
}
