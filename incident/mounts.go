package incident

// Mount is one mounted filesystem of the crashed system. The dump path fills
// it from the kernel's mount table and super blocks; a text log cannot tell
// it, so Incident.Mounts stays empty there.
type Mount struct {
	Device string `json:"device,omitempty"` // "/dev/vda", "vda"
	Path   string `json:"path"`             // mount point, "/data1"
	FSType string `json:"fstype,omitempty"` // "ext4", "xfs"
	// Frozen is true when the super block was frozen (fsfreeze, a snapshot
	// agent): s_writers.frozen != SB_UNFROZEN.
	Frozen bool `json:"frozen,omitempty"`
}

// FrozenMounts returns the mounts whose filesystem was frozen.
func (in *Incident) FrozenMounts() []Mount {
	var frozen []Mount
	for _, m := range in.Mounts {
		if m.Frozen {
			frozen = append(frozen, m)
		}
	}
	return frozen
}
