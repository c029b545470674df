package triage

import (
	"strings"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/kernel"
)

// Where a task ran, read from the dump: its cgroup v2 path (task->cgroups
// → css_set.dfl_cgrp → cgroup.kn, walked up kernfs_node.parent to the
// root), the pod and container that path names, and its UTS namespace's
// hostname (task->nsproxy → uts_ns → name.nodename). A field that cannot
// be read is left empty.

// maxCgroupDepth bounds the walk up a kernfs tree.
const maxCgroupDepth = 64

type containerReader struct {
	k     *kernel.Kernel
	paths map[uint64]string // css_set → path
	hosts map[uint64]string // uts_namespace → nodename
	ok    bool
}

func newContainerReader(k *kernel.Kernel) *containerReader {
	r := &containerReader{k: k, paths: map[uint64]string{}, hosts: map[uint64]string{}}
	_, err1 := k.Off("task_struct", "cgroups")
	_, err2 := k.Off("css_set", "dfl_cgrp")
	_, err3 := k.Off("kernfs_node", "parent")
	r.ok = err1 == nil && err2 == nil && err3 == nil
	return r
}

// of returns the task's container facts, nil when none could be read.
func (r *containerReader) of(t kernel.Task) *incident.Container {
	if r == nil || t.Addr == 0 {
		return nil
	}
	c := &incident.Container{}
	if r.ok {
		if cset, err := r.k.Field(t.Addr, "task_struct", "cgroups"); err == nil && cset != 0 {
			p, seen := r.paths[cset]
			if !seen {
				p = r.cgroupPath(cset)
				r.paths[cset] = p
			}
			c.Cgroup = p
			c.PodUID, c.ContainerID = incident.ParseCgroupPath(p)
		}
	}
	if nsp, err := r.k.Field(t.Addr, "task_struct", "nsproxy"); err == nil && nsp != 0 {
		if uts, err := r.k.Field(nsp, "nsproxy", "uts_ns"); err == nil && uts != 0 {
			h, seen := r.hosts[uts]
			if !seen {
				if off, err := r.k.Off("uts_namespace", "name.nodename"); err == nil {
					h, _ = r.k.String(uts+off, 65)
				}
				r.hosts[uts] = h
			}
			c.Hostname = h
		}
	}
	if *c == (incident.Container{}) {
		return nil
	}
	return c
}

func (r *containerReader) cgroupPath(cset uint64) string {
	cg, err := r.k.Field(cset, "css_set", "dfl_cgrp")
	if err != nil || cg == 0 {
		return ""
	}
	kn, err := r.k.Field(cg, "cgroup", "kn")
	if err != nil || kn == 0 {
		return ""
	}
	var parts []string
	for i := 0; kn != 0 && i < maxCgroupDepth; i++ {
		parent, err := r.k.Field(kn, "kernfs_node", "parent")
		if err != nil {
			return ""
		}
		if parent == 0 {
			break // the root's name is the hierarchy's, not part of the path
		}
		namePtr, err := r.k.Field(kn, "kernfs_node", "name")
		if err != nil {
			return ""
		}
		name, err := r.k.String(namePtr, 256)
		if err != nil {
			return ""
		}
		parts = append(parts, name)
		kn = parent
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/")
}
