package analyzers

import (
	"fmt"
	"github.com/ktriage/ktriage/internal/lazyre"
	"strings"

	"github.com/ktriage/ktriage/analyzers/pciids"
	"github.com/ktriage/ktriage/incident"
)

// A fatal PCIe error reported firmware-first (APEI/GHES) names the port that
// saw it: "device_id: 0000:00:03.0", "port_type: 4, root port",
// "secondary_bus: 0x04". For a root or downstream port the failing link is
// the one below it, so the device to suspect sits on the secondary bus —
// in the seed, an 82599ES 10-Gigabit SFP+ NIC whose optics had degraded.

// pcieError is the part of a CPER PCIe section ktriage reasons with.
type pcieError struct {
	severity     string
	port         string // PCI address of the reporting function
	portType     string // "4, root port"
	vendor, dev  string // ids of the reporting function
	secondaryBus string // "04"
	lines        []string
}

var (
	hwErrLine = lazyre.New(`\[Hardware Error\]:\s*(.*)$`)
	kvField   = lazyre.New(`([a-z_ ]+?):\s*([^,]+)`)
	// "pci 0000:04:00.0: [8086:10fb] type 00 class 0x020000"
	pciEnumLine = lazyre.New(`\b([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]):? \[([0-9a-f]{4}):([0-9a-f]{4})\]`)
	// "ixgbe 0000:04:00.0 eth2: renamed from eth0", "ixgbe 0000:04:00.0: eth0: NIC Link is Up"
	netdevLine = lazyre.New(`\b([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]):? ((?:eth|en|ib|em|p\d|bond|wl)[0-9A-Za-z_.-]*):`)
)

// fatalPCIeErrors collects fatal PCIe errors from the decoded hardware
// errors, or from the log's "[Hardware Error]:" lines when nothing decoded them.
func fatalPCIeErrors(v *view) []pcieError {
	var out []pcieError
	for _, h := range v.in.HardwareErrs {
		// Firmware-first errors only: native AER has its own rule and wording.
		if h.Source != "" && !strings.EqualFold(h.Source, "GHES") {
			continue
		}
		if !strings.EqualFold(h.Severity, "fatal") || !strings.Contains(strings.ToLower(h.Section), "pcie") {
			continue
		}
		e := pcieError{severity: h.Severity, port: h.DeviceID, vendor: trimHex(h.Vendor), dev: trimHex(h.Device), lines: h.Lines}
		e.portType = h.Fields["port_type"]
		e.secondaryBus = trimHex(h.Fields["secondary_bus"])
		if e.portType == "" || e.secondaryBus == "" {
			fromLines := parseHardwareLines(h.Lines)
			if len(fromLines) > 0 {
				e.portType = firstNonEmpty(e.portType, fromLines[0].portType)
				e.secondaryBus = firstNonEmpty(e.secondaryBus, fromLines[0].secondaryBus)
			}
		}
		out = append(out, e)
	}
	if len(out) > 0 || len(v.in.HardwareErrs) > 0 {
		return out
	}
	var lines []string
	for _, l := range v.lines {
		if strings.Contains(l.text, "[Hardware Error]") && hwErrLine.MatchString(l.text) {
			lines = append(lines, l.text)
		}
	}
	for _, e := range parseHardwareLines(lines) {
		if strings.EqualFold(e.severity, "fatal") && e.port != "" {
			out = append(out, e)
		}
	}
	return out
}

// parseHardwareLines decodes CPER text as drivers/firmware/efi/cper.c
// prints it; a new block starts at each "Hardware error from APEI" line.
func parseHardwareLines(lines []string) []pcieError {
	var out []pcieError
	var cur *pcieError
	for _, line := range lines {
		m := hwErrLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		body := strings.TrimSpace(m[1])
		if strings.HasPrefix(body, "Hardware error from APEI") || cur == nil {
			out = append(out, pcieError{})
			cur = &out[len(out)-1]
		}
		cur.lines = append(cur.lines, strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(body, "event severity:"):
			cur.severity = strings.TrimSpace(strings.TrimPrefix(body, "event severity:"))
		case strings.HasPrefix(body, "port_type:"):
			cur.portType = strings.TrimSpace(strings.TrimPrefix(body, "port_type:"))
		case strings.HasPrefix(body, "secondary_bus:"):
			cur.secondaryBus = trimHex(strings.TrimPrefix(body, "secondary_bus:"))
		case strings.HasPrefix(body, "vendor_id:"):
			// "vendor_id: 0x8086, device_id: 0x2f08": here device_id is the device id.
			for _, kv := range kvField.FindAllStringSubmatch(body, -1) {
				switch strings.TrimSpace(kv[1]) {
				case "vendor_id":
					cur.vendor = trimHex(kv[2])
				case "device_id":
					cur.dev = trimHex(kv[2])
				}
			}
		case strings.HasPrefix(body, "device_id:"):
			cur.port = strings.TrimSpace(strings.TrimPrefix(body, "device_id:"))
		}
	}
	return out
}

func trimHex(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "0x")
	if s == "" {
		return ""
	}
	for len(s) < 2 {
		s = "0" + s
	}
	return s
}

// pciePortTypes names CPER's port_type values (UEFI spec, PCIe section;
// printed the same way by drivers/firmware/efi/cper.c).
var pciePortTypes = map[string]string{
	"0": "PCIe end point", "1": "legacy PCI end point", "4": "root port", "5": "upstream switch port",
	"6": "downstream switch port", "7": "PCIe to PCI/PCI-X bridge", "8": "PCI/PCI-X to PCIe bridge",
	"9": "root complex integrated endpoint device", "10": "root complex event collector",
}

// describePortType turns "4" or "4, root port" into "4, root port".
func describePortType(portType string) string {
	t := strings.TrimSpace(portType)
	if name, ok := pciePortTypes[t]; ok {
		return t + ", " + name
	}
	return t
}

// isPortAbove reports whether the port type is one whose fault lies on the
// link below it (root port 4, downstream switch port 6, PCIe-to-PCI bridge 7).
func isPortAbove(portType string) bool {
	t := strings.TrimSpace(strings.SplitN(portType, ",", 2)[0])
	return t == "4" || t == "6" || t == "7" || strings.Contains(portType, "root port") || strings.Contains(portType, "downstream")
}

type pciFunction struct {
	addr, vendor, dev string
	ifaces            []string
}

// devicesOnBus finds the functions on a bus: from the dump's PCI list, else
// from the boot enumeration and driver messages in the log.
func devicesOnBus(v *view, domain, bus string) []pciFunction {
	prefix := domain + ":" + bus + ":"
	var out []pciFunction
	index := map[string]int{}
	get := func(addr string) *pciFunction {
		if i, ok := index[addr]; ok {
			return &out[i]
		}
		index[addr] = len(out)
		out = append(out, pciFunction{addr: addr})
		return &out[len(out)-1]
	}
	for _, d := range v.in.PCIDevices {
		if strings.HasPrefix(d.Address, prefix) {
			f := get(d.Address)
			f.vendor, f.dev, f.ifaces = d.Vendor, d.Device, append(f.ifaces, d.Interfaces...)
		}
	}
	for _, l := range v.lines {
		if !strings.Contains(l.text, prefix) {
			continue
		}
		if m := pciEnumLine.FindStringSubmatch(l.text); m != nil && strings.HasPrefix(m[1], prefix) {
			f := get(m[1])
			f.vendor, f.dev = m[2], m[3]
		}
		if m := netdevLine.FindStringSubmatch(l.text); m != nil && strings.HasPrefix(m[1], prefix) {
			f := get(m[1])
			if len(f.ifaces) == 0 || f.ifaces[len(f.ifaces)-1] != m[2] {
				f.ifaces = append(f.ifaces, m[2])
			}
		}
	}
	return out
}

func init() {
	registerAnalyzer("ghes/pcie-fatal",
		"fatal APEI/GHES PCIe error: the reporting port and the devices below it, named from pci.ids",
		[]string{"port", "port_name", "port_type", "bus", "below", "below_note", "ifaces", "pciids"}, detectPCIeFatal)
}

func detectPCIeFatal(v *view) *Detection {
	errs := fatalPCIeErrors(v)
	if len(errs) == 0 {
		return nil
	}
	e := errs[len(errs)-1] // the last one is the one that panicked
	db, dbErr := pciids.Default()
	name := func(vendor, dev string) string {
		if db == nil || vendor == "" || dev == "" {
			return ""
		}
		return db.Device(vendor, dev)
	}
	facts := map[string]string{
		"port":      e.port,
		"port_type": firstNonEmpty(describePortType(e.portType), "unknown"),
		"bus":       e.secondaryBus,
		"ifaces":    "IFACE",
		"pciids":    "no pci.ids",
	}
	if db != nil {
		facts["pciids"] = db.Source
	} else if dbErr != nil {
		facts["pciids"] = dbErr.Error()
	}
	portName := name(e.vendor, e.dev)
	facts["port_name"] = firstNonEmpty(portName, "unnamed device") + fmt.Sprintf(" [%s:%s]", firstNonEmpty(e.vendor, "?"), firstNonEmpty(e.dev, "?"))

	d := &Detection{
		Facts: facts,
		Crash: v.in.Panic != nil && hardwarePanic.MatchString(v.in.Panic.Message) || v.crashKinds[incident.KindHardwareError],
	}
	d.Evidence = append(d.Evidence, fmt.Sprintf("fatal PCIe error reported by %s (%s), port type %s", e.port, facts["port_name"], facts["port_type"]))
	d.Evidence = append(d.Evidence, limit(e.lines, maxEvidence)...)
	d.Commands = []string{"lspci -s " + e.port + " -vvv", "lspci -tv"}

	domain, _, _ := strings.Cut(e.port, ":")
	if len(domain) != 4 {
		domain = "0000"
	}
	if isPortAbove(e.portType) && e.secondaryBus != "" {
		below := devicesOnBus(v, domain, e.secondaryBus)
		var names, ifaces []string
		for _, f := range below {
			n := name(f.vendor, f.dev)
			if n == "" {
				n = "device not named in the log"
			}
			entry := f.addr + " " + n
			if len(f.ifaces) > 0 {
				entry += " (" + strings.Join(f.ifaces, ", ") + ")"
				ifaces = append(ifaces, f.ifaces[len(f.ifaces)-1])
			}
			names = append(names, entry)
		}
		if len(names) > 0 {
			facts["below"] = strings.Join(names, "; ")
		} else {
			facts["below"] = fmt.Sprintf("the device(s) on bus %s:%s", domain, e.secondaryBus)
			facts["below_note"] = fmt.Sprintf(" (the log does not enumerate them; `lspci -s %s:%s: -vvv` lists them)", domain, e.secondaryBus)
		}
		d.Commands = append(d.Commands, fmt.Sprintf("lspci -s %s:%s: -vvv", domain, e.secondaryBus),
			fmt.Sprintf("ls /sys/bus/pci/devices/%s:%s:*/net", domain, e.secondaryBus))
		if len(ifaces) > 0 {
			facts["ifaces"] = strings.Join(dedupe(ifaces), ", ")
			for _, i := range dedupe(ifaces) {
				d.Commands = append(d.Commands, "ethtool -m "+i+" | grep -i power")
			}
		} else {
			d.Commands = append(d.Commands, "ethtool -m IFACE | grep -i power")
		}
	} else {
		facts["below"] = e.port + " itself (it is not a port with a bus below it)"
		facts["bus"] = firstNonEmpty(e.secondaryBus, "none")
		d.Commands = append(d.Commands, "ethtool -m IFACE | grep -i power")
	}
	d.Summary = fmt.Sprintf("Fatal PCIe error on %s %s; suspect %s.", e.port, facts["port_name"], facts["below"])
	return d
}
