package incident

import (
	"strings"

	"github.com/ktriage/ktriage/internal/lazyre"
)

// Container says where a task ran: its cgroup (v2) path, the Kubernetes
// pod and container the path names, and its UTS namespace's hostname.
type Container struct {
	Cgroup      string `json:"cgroup,omitempty"`
	PodUID      string `json:"pod_uid,omitempty"`
	ContainerID string `json:"container_id,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
}

var (
	// kubelet names a pod's cgroup "pod<uid>" (cgroupfs driver) or
	// "kubepods-<qos>-pod<uid with _>.slice" (systemd driver).
	podRe = lazyre.New(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?:/|$)`)
	// Runtimes name a container's cgroup by its 64-hex id: bare (cgroupfs)
	// or "<runtime>-<id>.scope" (systemd: cri-containerd, crio, docker).
	containerRe = lazyre.New(`(?:^|/)(?:[a-z-]+-)?([0-9a-f]{64})(?:\.scope)?(?:/|$)`)
)

// ParseCgroupPath fills the pod UID and container ID a cgroup path shows,
// leaving them empty when its shape says nothing of Kubernetes.
func ParseCgroupPath(path string) (podUID, containerID string) {
	if m := podRe.FindStringSubmatch(path); m != nil {
		podUID = strings.ReplaceAll(m[1], "_", "-")
	}
	if m := containerRe.FindStringSubmatch(path); m != nil {
		containerID = m[1]
	}
	return podUID, containerID
}

// Short is the one-line form reports use: "pod 3f1c2a8e-…, container
// 8c0f5b2d9e6a, host web-1" — or the cgroup path when no pod shows.
func (c *Container) Short() string {
	if c == nil {
		return ""
	}
	var parts []string
	switch {
	case c.PodUID != "" || c.ContainerID != "":
		if c.PodUID != "" {
			parts = append(parts, "pod "+c.PodUID)
		}
		if c.ContainerID != "" {
			parts = append(parts, "container "+c.ContainerID[:min(12, len(c.ContainerID))])
		}
	case c.Cgroup != "" && c.Cgroup != "/":
		parts = append(parts, "cgroup "+c.Cgroup)
	}
	if c.Hostname != "" && len(parts) > 0 {
		parts = append(parts, "host "+c.Hostname)
	}
	return strings.Join(parts, ", ")
}
