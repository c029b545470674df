package analyzers

import (
	"github.com/ktriage/ktriage/internal/lazyre"
	"strings"

	"github.com/ktriage/ktriage/incident"
)

var (
	eptMisconfigLine = lazyre.New(`EPT: Misconfiguration|KVM: entry failed, hardware error 0x31\b`)
	eptGPALine       = lazyre.New(`EPT: GPA: (0x[0-9a-fA-F]+)`)
	eptSPTELine      = lazyre.New(`ept_misconfig_inspect_spte: spte`)
)

func init() {
	registerAnalyzer("kvm/ept-misconfig",
		"KVM exit for an EPT misconfiguration (exit reason 49), with the guest physical address",
		[]string{"gpa"}, detectEPTMisconfig)
}

// detectEPTMisconfig finds the host kernel's EPT misconfiguration report:
// "EPT: Misconfiguration.", "EPT: GPA: 0x…" and the spte dump, or QEMU's
// "KVM: entry failed, hardware error 0x31" (0x31 = exit reason 49).
func detectEPTMisconfig(v *view) *Detection {
	d := &Detection{Facts: map[string]string{}}
	found := false
	for _, r := range v.in.Reports {
		if r.Kind == incident.KindEPTMisconfig {
			found = true
			if gpa := r.Fields["gpa"]; gpa != "" {
				d.Facts["gpa"] = gpa
			}
		}
	}
	for _, l := range v.lines {
		if !strings.Contains(l.text, "EPT") && !strings.Contains(l.text, "ept_") && !strings.Contains(l.text, "KVM: entry failed") {
			continue
		}
		switch {
		case eptMisconfigLine.MatchString(l.text):
			found = true
		case eptGPALine.MatchString(l.text):
			if d.Facts["gpa"] == "" {
				d.Facts["gpa"] = eptGPALine.FindStringSubmatch(l.text)[1]
			}
		case !eptSPTELine.MatchString(l.text):
			continue
		}
		if len(d.Evidence) < maxEvidence {
			d.Evidence = append(d.Evidence, l.String())
		}
	}
	if !found {
		return nil
	}
	if d.Facts["gpa"] == "" {
		d.Facts["gpa"] = "(not in the log)"
	}
	d.Crash = v.crashKinds[incident.KindEPTMisconfig] || strings.Contains(firstNonEmpty(v.crashMessages...), "EPT")
	return d
}
