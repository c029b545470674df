package analyzers

import (
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

func TestMCAErrorClass(t *testing.T) {
	cases := map[uint64]string{
		0xbe00000000800400: "internal timer error",
		0x8c00004000010090: "memory controller error", // 0x0090: memory controller, channel 0
		0x9c0000000000009f: "memory controller error",
		0xb200000000070f0f: "bus or interconnect error", // 0x0f0f
		0x9400000000000151: "cache hierarchy error",     // 0x0151
		0x900000000001100e: "generic cache hierarchy error",
		0x9000000000000014: "TLB error",
		0xb200000000000005: "internal parity error",
	}
	for status, want := range cases {
		if got := mcaErrorClass(status); !strings.HasPrefix(got, want) {
			t.Errorf("%#x: %q, want %q", status, got, want)
		}
	}
	if got := mciFlagNames(0xbe00000000800400); got != "VAL UC EN MISCV ADDRV PCC" {
		t.Errorf("flags %q", got)
	}
	if v := mceVerdict(0x8c00004000010090); !strings.Contains(v, "corrected") || strings.Contains(v, "uncorrected") {
		t.Errorf("corrected record: %q", v)
	}
}

func TestFatalMCEPrefersTheUncorrectedRecord(t *testing.T) {
	in := &incident.Incident{
		Panic: &incident.Panic{Message: "Kernel panic - not syncing: Fatal machine check"},
		Log: []incident.LogRecord{
			{Text: "mce: [Hardware Error]: CPU 1: Machine Check: 0 Bank 7: 8c00004000010090"},
			{Text: "mce: [Hardware Error]: CPU 4: Machine Check Exception: 5 Bank 3: be00000000800400"},
			{Text: "mce: [Hardware Error]: TSC 10c0c5d96a6 ADDR 3fff8d0 MISC 8c"},
			{Text: "Kernel panic - not syncing: Fatal machine check"},
		},
	}
	f := top(t, Run(in, builtin(t)))
	if f.ID != "machine-check-fatal" || !strings.Contains(f.Title, "internal timer error") {
		t.Fatalf("top %s %q", f.ID, f.Title)
	}
	if !strings.Contains(f.Cause, "CPU 4, bank 3") || !strings.Contains(f.Cause, "address 0x3fff8d0") {
		t.Errorf("cause %q", f.Cause)
	}
}
