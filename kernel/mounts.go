package kernel

import (
	"fmt"
	"strings"
)

// Mount is one mounted filesystem, with its super block's freeze state.
type Mount struct {
	Device string // mnt_devname, e.g. "/dev/vdb"
	Path   string // mount point in the initial mount namespace
	FSType string
	SBID   string // super_block.s_id, e.g. "vdb"
	// Frozen: s_writers.frozen != SB_UNFROZEN (fsfreeze or a snapshot
	// agent froze it; writers block in sb_start_write).
	Frozen      bool
	FrozenLevel int
	// SB is the super_block's address: what a lock inside it (the
	// s_writers freeze semaphores) is matched to.
	SB uint64
}

const maxPathDepth = 256

// Mounts lists the mounts of init's mount namespace.
func (k *Kernel) Mounts() ([]Mount, error) {
	offs := k.offsets()
	off := offs.of
	nsproxyOff := off("task_struct", "nsproxy")
	mntNSOff := off("nsproxy", "mnt_ns")
	nsListOff := off("mnt_namespace", "list")
	mntListOff := off("mount", "mnt_list")
	mntOff := off("mount", "mnt")
	sbOff := off("vfsmount", "mnt_sb")
	rootOff := off("vfsmount", "mnt_root")
	parentOff := off("mount", "mnt_parent")
	mountpointOff := off("mount", "mnt_mountpoint")
	devnameOff := off("mount", "mnt_devname")
	dParentOff := off("dentry", "d_parent")
	dNameOff := off("dentry", "d_name.name")
	sTypeOff := off("super_block", "s_type")
	sIDOff := off("super_block", "s_id")
	frozenOff := off("super_block", "s_writers.frozen")
	fsNameOff := off("file_system_type", "name")
	if offs.err != nil {
		return nil, offs.err
	}
	initTask, err := k.Addr("init_task")
	if err != nil {
		return nil, err
	}
	nsproxy, err := k.U64(initTask + nsproxyOff)
	if err != nil {
		return nil, err
	}
	ns, err := k.U64(nsproxy + mntNSOff)
	if err != nil {
		return nil, err
	}
	str := func(ptr uint64) string {
		if ptr == 0 {
			return ""
		}
		s, _ := k.String(ptr, 256)
		return s
	}
	pathOf := func(m uint64) string {
		d, _ := k.U64(m + mntOff + rootOff)
		var parts []string
		for i := 0; i < maxPathDepth; i++ {
			root, _ := k.U64(m + mntOff + rootOff)
			if d == root {
				parent, err := k.U64(m + parentOff)
				if err != nil || parent == m {
					break
				}
				d, _ = k.U64(m + mountpointOff)
				m = parent
				continue
			}
			name, _ := k.U64(d + dNameOff)
			parts = append(parts, str(name))
			p, err := k.U64(d + dParentOff)
			if err != nil || p == d {
				break
			}
			d = p
		}
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		return "/" + strings.Join(parts, "/")
	}
	var out []Mount
	err = k.ListEach(ns+nsListOff, mntListOff, func(m uint64) error {
		sb, err := k.U64(m + mntOff + sbOff)
		if err != nil {
			return nil
		}
		mt := Mount{Path: pathOf(m)}
		dev, _ := k.U64(m + devnameOff)
		mt.Device = str(dev)
		mt.SBID, _ = k.String(sb+sIDOff, 32)
		mt.SB = sb
		if st, err := k.U64(sb + sTypeOff); err == nil && st != 0 {
			if n, err := k.U64(st + fsNameOff); err == nil {
				mt.FSType = str(n)
			}
		}
		if fz, err := k.U32(sb + frozenOff); err == nil && fz != 0 {
			mt.Frozen, mt.FrozenLevel = true, int(int32(fz))
		}
		out = append(out, mt)
		return nil
	})
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("mount list: %w", err)
	}
	return out, nil
}
