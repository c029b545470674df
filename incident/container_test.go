package incident

import "testing"

func TestParseCgroupPath(t *testing.T) {
	for _, tc := range []struct{ path, pod, ctr string }{
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f1c2a8e_0d5e_4c1b_9b7a_2f4d1e6c8a90.slice/cri-containerd-8c0f5b2d9e6a41f7b3c5d2e1a0f9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1.scope",
			"3f1c2a8e-0d5e-4c1b-9b7a-2f4d1e6c8a90", "8c0f5b2d9e6a41f7b3c5d2e1a0f9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1"},
		{"/kubepods/besteffort/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"0a1b2c3d-4e5f-6789-abcd-ef0123456789", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope", "",
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"/user.slice/user-1000.slice/session-3.scope", "", ""},
		{"/", "", ""},
	} {
		pod, ctr := ParseCgroupPath(tc.path)
		if pod != tc.pod || ctr != tc.ctr {
			t.Errorf("%s: pod %q container %q, want %q %q", tc.path, pod, ctr, tc.pod, tc.ctr)
		}
	}
}
