// Package pciids names PCI vendors and devices from the pci.ids database
// (https://pci-ids.ucw.cz/, shipped by Debian as package pci.ids and by
// Fedora/RHEL as hwdata). The system's copy is preferred because it is
// kept current; a compressed copy of Debian's is embedded for machines
// without one.
package pciids

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/ulikunitz/xz"
)

// embeddedIDs is Debian bookworm's /usr/share/misc/pci.ids (version
// 2023.04.10, package pci.ids), compressed with xz.
//
//go:embed pci.ids.xz
var embeddedIDs []byte

// SystemPaths are where distributions install pci.ids.
var SystemPaths = []string{"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"}

// DB maps vendor and device ids to names.
type DB struct {
	vendors map[string]vendor
	// Source says which copy was read: a path, or "embedded (Debian pci.ids 2023.04.10)".
	Source string
}

type vendor struct {
	name    string
	devices map[string]string
}

var (
	once      sync.Once
	defaultDB *DB
	loadErr   error
)

// Default returns the system's pci.ids, else the embedded copy; it is read
// once per process.
func Default() (*DB, error) {
	once.Do(func() {
		for _, p := range SystemPaths {
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			defaultDB, loadErr = Parse(f)
			f.Close()
			if loadErr == nil {
				defaultDB.Source = p
				return
			}
		}
		defaultDB, loadErr = Embedded()
	})
	return defaultDB, loadErr
}

// Embedded returns the copy built into ktriage.
func Embedded() (*DB, error) {
	r, err := xz.NewReader(bytes.NewReader(embeddedIDs))
	if err != nil {
		return nil, fmt.Errorf("embedded pci.ids: %w", err)
	}
	db, err := Parse(r)
	if err != nil {
		return nil, fmt.Errorf("embedded pci.ids: %w", err)
	}
	db.Source = "embedded (Debian pci.ids 2023.04.10)"
	return db, nil
}

// Parse reads the pci.ids text format: a vendor line "8086  Intel
// Corporation", its devices indented by one tab, subsystems by two (not
// kept), and device classes after a "C " line (not kept).
func Parse(r io.Reader) (*DB, error) {
	db := &DB{vendors: map[string]vendor{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var cur *vendor
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		switch {
		case strings.HasPrefix(line, "\t\t"):
			continue
		case line[0] == '\t':
			if cur == nil {
				continue
			}
			id, name, ok := splitEntry(line[1:])
			if ok {
				cur.devices[id] = name
			}
		case strings.HasPrefix(line, "C "):
			cur = nil // device classes follow; ktriage does not need them
		default:
			id, name, ok := splitEntry(line)
			if !ok {
				cur = nil
				continue
			}
			v := vendor{name: name, devices: map[string]string{}}
			db.vendors[id] = v
			cur = &v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pci.ids line %d: %w", n, err)
	}
	if len(db.vendors) == 0 {
		return nil, fmt.Errorf("pci.ids: no vendors found")
	}
	return db, nil
}

func splitEntry(s string) (id, name string, ok bool) {
	if len(s) < 6 || !isHex4(s[:4]) || s[4] != ' ' {
		return "", "", false
	}
	return strings.ToLower(s[:4]), strings.TrimSpace(s[4:]), true
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Device returns "Vendor Device" as lspci prints it, or "" when unknown.
func (db *DB) Device(vendorID, deviceID string) string {
	v, ok := db.vendors[normID(vendorID)]
	if !ok {
		return ""
	}
	if d, ok := v.devices[normID(deviceID)]; ok {
		return v.name + " " + d
	}
	return v.name + " device " + normID(deviceID)
}

// normID turns "0x8086", "8086" or "0X2F08" into the 4-digit lower-case form.
func normID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	id = strings.TrimPrefix(id, "0x")
	for len(id) < 4 {
		id = "0" + id
	}
	return id
}
