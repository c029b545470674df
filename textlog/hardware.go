package textlog

import (
	"github.com/ktriage/ktriage/internal/lazyre"
	"strings"

	"github.com/ktriage/ktriage/incident"
)

// Hardware error reports: APEI/GHES blocks ("{1}[Hardware Error]: ..."),
// machine checks ("mce: [Hardware Error]: CPU 0: Machine Check Exception"),
// PCIe AER and EDAC memory controller lines. Formats: drivers/acpi/apei/
// ghes.c and drivers/firmware/efi/cper.c (cper_print_*), arch/x86/kernel/
// cpu/mce/core.c (print_mce), drivers/pci/pcie/aer.c, drivers/edac/edac_mc.c.

var (
	hwTagRe     = lazyre.New(`^(?:\S+: )?(?:\{\d+\})?\[Hardware Error\]:\s?(.*)$`)
	ghesStartRe = lazyre.New(`Hardware error from APEI Generic Hardware Error Source: (\d+)`)
	mceStartRe  = lazyre.New(`CPU (\d+): Machine Check(?: Exception)?: (\S+) Bank (\d+): ([0-9a-f]+)`)
	hwPairRe    = lazyre.New(`([A-Za-z_][A-Za-z0-9_ ]*?):\s+([^,]+?)(?:,\s+|$)`)
	pciAddrRe   = lazyre.New(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)
	aerStartRe  = lazyre.New(`^(?:\S+ )?([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]): AER: (Uncorrected \(Fatal\)|Uncorrected \(Non-Fatal\)|Corrected|Multiple Uncorrected \(Fatal\)|Multiple Uncorrected \(Non-Fatal\)|Multiple Corrected) error (?:received|message received from)(?::)? (?:id=)?(\S+)`)
	aerBusRe    = lazyre.New(`PCIe Bus Error: severity=([^,]+), type=([^,]+), \(([^)]+)\)`)
	aerDeviceRe = lazyre.New(`device \[([0-9a-f]{4}):([0-9a-f]{4})\] error status/mask=([0-9a-f]+)/([0-9a-f]+)`)
	// drivers/acpi/apei/bert.c prints this before the records firmware kept
	// from an earlier boot (its pr_fmt is "BERT: ").
	bertRe = lazyre.New(`BERT: Error records from previous boot`)
	edacRe = lazyre.New(`EDAC (MC\d+): (\d+) (CE|UE) (.*)$`)
	// "memory read error on CPU_SrcID#0_Ha#0_Chan#2_DIMM#0 (channel:2 ...)"
	edacWhereRe = lazyre.New(`\bon (\S+)`)
	mceSeverity = lazyre.New(`Machine check: (.+)$`)
	mceFieldsRe = lazyre.New(`\b(TSC|ADDR|MISC|SYND|IPID|PROCESSOR|TIME|SOCKET|APIC|microcode) ([0-9a-fx:]+)`)
)

// hwBuilder accumulates one hardware error block.
type hwBuilder struct {
	he     incident.HardwareError
	rep    incident.Report
	report bool // also a report (fatal or block-shaped errors)
	seq    int
	boot   int
	aerDev string
}

type hwFinding struct {
	he   incident.HardwareError
	rep  *incident.Report
	host string
	seq  int
	boot int
}

// feedHardware takes hardware error lines; it returns true when the line
// belonged to a hardware error.
func (x *extractor) feedHardware(l *line, seq int) bool {
	text := strings.TrimSpace(l.rec.Text)
	host := l.rec.Host
	cur := x.hw[host]
	if bertRe.MatchString(text) {
		x.finishHardware(host)
		x.bert[host] = true
		return false
	}
	if cur == nil && !strings.Contains(text, "[Hardware Error]") && !strings.Contains(text, "AER:") &&
		!strings.Contains(text, "EDAC ") {
		// The BERT marker speaks of the records printed right after it.
		delete(x.bert, host)
		return false
	}

	if m := hwTagRe.FindStringSubmatch(text); m != nil {
		body := m[1]
		switch {
		case ghesStartRe.MatchString(body):
			x.finishHardware(host)
			cur = x.startHardware(l, seq, "GHES")
			cur.he.Fields["source_id"] = ghesStartRe.FindStringSubmatch(body)[1]
		case mceStartRe.MatchString(body):
			x.finishHardware(host)
			mm := mceStartRe.FindStringSubmatch(body)
			cur = x.startHardware(l, seq, "MCE")
			cur.he.Fields["cpu"], cur.he.Fields["bank"], cur.he.Fields["status"] = mm[1], mm[3], "0x"+mm[4]
			cur.he.Section = "machine check"
			cur.rep.CPU = intp(mm[1])
			if strings.Contains(body, "Exception") {
				cur.he.Severity = "fatal"
			} else {
				cur.he.Severity = "corrected"
			}
		case cur == nil && x.bert[host]:
			// A previous boot's record: never this boot's crash, and not a
			// machine check of this boot whatever its section says.
			cur = x.startHardware(l, seq, "BERT")
			cur.report = false
			cur.he.Fields["previous_boot"] = "true"
		case cur == nil:
			cur = x.startHardware(l, seq, "MCE")
			if strings.Contains(body, "Machine check") || strings.Contains(body, "mcelog") {
				cur.he.Section = "machine check"
			}
			// "Machine check events logged" says records wait for mcelog or
			// EDAC; the lines that decode them are the report.
			if strings.HasPrefix(body, "Machine check events logged") {
				cur.report = false
			}
		}
		cur.add(text, body)
		return true
	}
	if m := aerStartRe.FindStringSubmatch(text); m != nil {
		x.finishHardware(host)
		cur = x.startHardware(l, seq, "AER")
		cur.aerDev = m[1]
		cur.he.Section = "PCIe AER"
		cur.he.DeviceID = m[3]
		if !pciAddrRe.MatchString(m[3]) {
			cur.he.DeviceID = m[1]
		}
		cur.he.Severity = aerSeverity(m[2])
		cur.report = cur.he.Severity == "fatal"
		cur.he.Lines = append(cur.he.Lines, text)
		cur.rep.Lines = append(cur.rep.Lines, text)
		return true
	}
	if cur != nil && cur.he.Source == "AER" && strings.Contains(text, cur.aerDev) {
		if m := aerBusRe.FindStringSubmatch(text); m != nil {
			cur.he.Severity = aerSeverity(m[1])
			cur.he.Fields["type"], cur.he.Fields["id"] = m[2], m[3]
			cur.report = cur.report || cur.he.Severity == "fatal"
		}
		if m := aerDeviceRe.FindStringSubmatch(text); m != nil {
			cur.he.Vendor, cur.he.Device = m[1], m[2]
			cur.he.Fields["status"], cur.he.Fields["mask"] = "0x"+m[3], "0x"+m[4]
		}
		cur.he.Lines = append(cur.he.Lines, text)
		cur.rep.Lines = append(cur.rep.Lines, text)
		return true
	}
	if m := edacRe.FindStringSubmatch(text); m != nil {
		x.finishHardware(host)
		cur = x.startHardware(l, seq, "EDAC")
		cur.he.Section = "memory error"
		cur.he.Severity = "corrected"
		cur.report = true
		if m[3] == "UE" {
			cur.he.Severity = "uncorrected"
		}
		if loc := edacWhereRe.FindStringSubmatch(m[4]); loc != nil {
			cur.he.Fields["location"] = loc[1]
		}
		cur.he.Fields["controller"], cur.he.Fields["count"], cur.he.Fields["detail"] = m[1], m[2], m[4]
		cur.he.Lines = append(cur.he.Lines, text)
		cur.rep.Lines = append(cur.rep.Lines, text)
		x.finishHardware(host)
		return true
	}
	if cur != nil {
		x.finishHardware(host)
	}
	return false
}

func aerSeverity(s string) string {
	switch {
	case strings.Contains(s, "Non-Fatal"):
		return "recoverable"
	case strings.Contains(s, "Fatal"):
		return "fatal"
	case strings.Contains(s, "Corrected"):
		return "corrected"
	}
	return strings.ToLower(s)
}

func (x *extractor) startHardware(l *line, seq int, source string) *hwBuilder {
	h := &hwBuilder{seq: seq, boot: x.boot, report: source == "GHES" || source == "MCE"}
	h.he.Source = source
	h.he.Fields = map[string]string{}
	h.rep.Host = l.rec.Host
	h.rep.Time = l.rec.Time
	h.rep.FirstLine = l.rec.Line
	h.rep.Message = strings.TrimSpace(l.rec.Text)
	x.hw[l.rec.Host] = h
	x.pin(seq)
	return h
}

// add reads one "[Hardware Error]:" line of a block.
func (h *hwBuilder) add(text, body string) {
	h.he.Lines = append(h.he.Lines, text)
	h.rep.Lines = append(h.rep.Lines, text)
	body = strings.TrimSpace(body)
	if h.he.Source == "MCE" {
		for _, m := range mceFieldsRe.FindAllStringSubmatch(body, -1) {
			h.he.Fields[strings.ToLower(m[1])] = m[2]
		}
		if m := mceSeverity.FindStringSubmatch(body); m != nil {
			h.he.Fields["reason"] = m[1]
			h.he.Severity = "fatal"
		}
		return
	}
	if strings.HasPrefix(body, "event severity:") {
		h.he.Severity = strings.TrimSpace(strings.TrimPrefix(body, "event severity:"))
		return
	}
	if strings.HasPrefix(body, "Error ") { // " Error 0, type: fatal"
		return
	}
	// "bridge: secondary_status: 0x0000, control: 0x0003" nests a pair.
	body = strings.TrimPrefix(body, "bridge: ")
	for _, m := range hwPairRe.FindAllStringSubmatch(body, -1) {
		k, v := strings.TrimSpace(m[1]), strings.TrimSpace(m[2])
		switch k {
		case "section_type":
			if h.he.Section == "" {
				h.he.Section = v
			}
		case "device_id":
			if pciAddrRe.MatchString(v) {
				if h.he.DeviceID == "" {
					h.he.DeviceID = v
				}
			} else if h.he.Device == "" {
				h.he.Device = strings.TrimPrefix(v, "0x")
			}
		case "vendor_id":
			if h.he.Vendor == "" {
				h.he.Vendor = strings.TrimPrefix(v, "0x")
			}
		default:
			if _, ok := h.he.Fields[k]; !ok {
				h.he.Fields[k] = v
			}
		}
	}
}

func (x *extractor) finishHardware(host string) {
	h := x.hw[host]
	if h == nil {
		return
	}
	delete(x.hw, host)
	delete(x.bert, host)
	f := hwFinding{he: h.he, host: host, seq: h.seq, boot: h.boot}
	if h.report {
		r := h.rep
		r.Kind = incident.KindHardwareError
		if h.he.Source == "MCE" {
			r.Kind = incident.KindMCE
		}
		r.Title = hardwareTitle(&h.he)
		r.Fields = map[string]string{}
		for k, v := range h.he.Fields {
			r.Fields[k] = v
		}
		for k, v := range map[string]string{"severity": h.he.Severity, "section": h.he.Section,
			"device_id": h.he.DeviceID, "vendor_id": h.he.Vendor, "dev_id": h.he.Device, "source": h.he.Source} {
			if v != "" {
				r.Fields[k] = v
			}
		}
		f.rep = &r
	}
	x.hwDone = append(x.hwDone, f)
}

// hardwareTitle names a hardware error by what failed, never by a
// function: "hardware error: fatal PCIe error".
func hardwareTitle(he *incident.HardwareError) string {
	parts := []string{"hardware error:"}
	if he.Severity != "" {
		parts = append(parts, he.Severity)
	}
	switch {
	case he.Source == "MCE":
		parts = append(parts, "machine check")
		if b := he.Fields["bank"]; b != "" {
			parts = append(parts, "in bank "+b)
		}
	case he.Source == "EDAC":
		parts = append(parts, "memory error")
		if where := he.Fields["location"]; where != "" {
			parts = append(parts, "on "+where)
		} else if mc := he.Fields["controller"]; mc != "" {
			parts = append(parts, "on "+mc)
		}
	case he.Source == "BERT":
		section := he.Section
		if section == "" {
			section = "error"
		}
		parts = append(parts, section, "from the previous boot")
	case he.Section != "":
		parts = append(parts, he.Section)
	default:
		parts = append(parts, he.Source)
	}
	return strings.Join(parts, " ")
}
