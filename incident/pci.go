package incident

// PCIDevice is one PCI function of the crashed system, as the dump's PCI
// device list (or boot messages in a log) tell it.
type PCIDevice struct {
	Address string `json:"address"`          // "0000:04:00.0"
	Vendor  string `json:"vendor_id"`        // "8086"
	Device  string `json:"dev_id"`           // "10fb"
	Class   string `json:"class,omitempty"`  // "020000"
	Driver  string `json:"driver,omitempty"` // "ixgbe"
	// Interfaces are the network interfaces the device carries ("eth2").
	Interfaces []string `json:"interfaces,omitempty"`
}
