package pciids

import (
	"strings"
	"testing"
)

func TestEmbeddedNamesSeedDevices(t *testing.T) {
	db, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	// The seed's GHES incident: root port 8086:2f08, and the NIC below it.
	if got := db.Device("0x8086", "0x2f08"); !strings.Contains(got, "PCI Express Root Port 3") || !strings.HasPrefix(got, "Intel Corporation") {
		t.Errorf("8086:2f08 = %q", got)
	}
	if got := db.Device("8086", "10fb"); got != "Intel Corporation 82599ES 10-Gigabit SFI/SFP+ Network Connection" {
		t.Errorf("8086:10fb = %q", got)
	}
	if got := db.Device("7777", "0001"); got != "" {
		t.Errorf("unknown vendor = %q, want empty", got)
	}
	if got := db.Device("8086", "fffe"); got != "Intel Corporation device fffe" {
		t.Errorf("unknown device = %q", got)
	}
}

func TestParseSkipsSubsystemsAndClasses(t *testing.T) {
	db, err := Parse(strings.NewReader("# comment\n1234  Acme\n\tabcd  Widget\n\t\t1234 0001  Widget OEM\nC 02  Network controller\n\t00  Ethernet controller\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := db.Device("1234", "ABCD"); got != "Acme Widget" {
		t.Errorf("got %q", got)
	}
	if got := db.Device("1234", "0000"); got != "Acme device 0000" {
		t.Errorf("class line leaked into devices: %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("8086  Intel Corporation\n\t2f08  Xeon E7 v3/Xeon E5 v3/Core i7 PCI Express Root Port 3\n")
	f.Add("C 06  Bridge\n\t04  PCI bridge\n")
	f.Fuzz(func(t *testing.T, s string) {
		db, err := Parse(strings.NewReader(s))
		if (db == nil) == (err == nil) {
			t.Fatalf("db %v with err %v", db, err)
		}
		if db != nil {
			_ = db.Device("8086", "2f08")
		}
	})
}
