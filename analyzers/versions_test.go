package analyzers

import "testing"

func TestIdentifyKernel(t *testing.T) {
	cases := []struct{ release, version, stream, pkg string }{
		{"3.10.0-229.el7.x86_64", "#1 SMP Fri Mar 6 11:36:42 UTC 2015", "el7", "3.10.0-229.el7"},
		{"3.10.0-514.21.1.el7.x86_64", "", "el7", "3.10.0-514.21.1.el7"},
		{"2.6.32-504.el6.x86_64", "", "el6", "2.6.32-504.el6"},
		{"4.18.0-305.19.1.el8_4.x86_64", "", "el8", "4.18.0-305.19.1.el8_4"},
		{"5.4.17-2136.300.7.el8uek.x86_64", "", "el8uek", "5.4.17-2136.300.7.el8uek"},
		{"6.1.0-56-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)", "debian", "6.1.192-2"},
		{"4.4.0-87-generic", "#110-Ubuntu SMP Tue Jul 18 12:55:35 UTC 2017", "ubuntu", "4.4.0-87.110"},
		{"4.4.0-87-generic", "", "", ""},
		{"6.8.0-rc1+", "#3 SMP", "", ""},
	}
	for _, c := range cases {
		k := IdentifyKernel(c.release, c.version)
		if k.Stream != c.stream || k.Package != c.pkg {
			t.Errorf("IdentifyKernel(%q, %q) = %s %q, want %s %q", c.release, c.version, k.Stream, k.Package, c.stream, c.pkg)
		}
	}
}

func TestAppliesTo(t *testing.T) {
	cfs := []VersionRange{{Stream: "el7", Fixed: []string{"3.10.0-327.44.2.el7"}}}
	ept := []VersionRange{{Stream: "el7", Fixed: []string{"3.10.0-514.el7", "3.10.0-327.3.1.el7"}}}
	deb := []VersionRange{{Stream: "debian", Fixed: []string{"5.10.209-2", "6.1.76-1"}}}
	cases := []struct {
		name    string
		release string
		version string
		ranges  []VersionRange
		want    string
	}{
		{"seed CFS kernel", "3.10.0-229.el7.x86_64", "", cfs, "affected"},
		{"7.3 GA is past the 7.2.z fix", "3.10.0-514.el7.x86_64", "", cfs, "fixed"},
		{"7.2.z below the fix", "3.10.0-327.36.3.el7.x86_64", "", cfs, "affected"},
		{"the fix itself", "3.10.0-327.44.2.el7.x86_64", "", cfs, "fixed"},
		{"EPT on 7.1", "3.10.0-229.el7.x86_64", "", ept, "affected"},
		{"EPT 7.2 GA", "3.10.0-327.el7.x86_64", "", ept, "affected"},
		{"EPT 7.2.z fixed branch", "3.10.0-327.10.1.el7.x86_64", "", ept, "fixed"},
		{"EPT 7.3", "3.10.0-514.el7.x86_64", "", ept, "fixed"},
		{"EPT 7.9", "3.10.0-1160.el7.x86_64", "", ept, "fixed"},
		{"another stream", "4.18.0-305.el8.x86_64", "", cfs, "unknown"},
		{"el6 is not el7", "2.6.32-504.el6.x86_64", "", cfs, "unknown"},
		{"unknown build", "6.8.0-rc1+", "", cfs, "unknown"},
		{"no release", "", "", cfs, "unknown"},
		{"debian 6.1 old", "6.1.0-13-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)", deb, "affected"},
		{"debian 6.1 new", "6.1.0-56-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)", deb, "fixed"},
		{"debian 5.10 branch fix", "5.10.0-28-amd64", "#1 SMP Debian 5.10.209-2 (2024-01-31)", deb, "fixed"},
		{"debian 5.10 old", "5.10.0-20-amd64", "#1 SMP Debian 5.10.158-2 (2022-12-13)", deb, "affected"},
	}
	for _, c := range cases {
		got := appliesTo(IdentifyKernel(c.release, c.version), c.ranges)
		if got.applies != c.want {
			t.Errorf("%s: %s → %s (%s), want %s", c.name, c.release, got.applies, got.note, c.want)
		}
		if got.note == "" {
			t.Errorf("%s: no note", c.name)
		}
	}
	if v := appliesTo(IdentifyKernel("3.10.0-229.el7.x86_64", ""), nil); v.applies != "" {
		t.Errorf("a rule without versions says %q", v.applies)
	}
}

func TestVersionRangeCheck(t *testing.T) {
	bad := []VersionRange{
		{Stream: "rhel7", Fixed: []string{"3.10.0-327.44.2.el7"}},
		{Stream: "el7", Fixed: []string{"kernel-3.10.0-327.44.2.el7"}},
		{Stream: "el7", Fixed: []string{"3.10.0-327.44.2.el7.x86_64"}},
		{Stream: "el7", Fixed: []string{"3.10.0-327.44.2.el6"}},
		{Stream: "el7"},
		{Stream: "debian", Fixed: []string{"not a version!"}},
	}
	for _, v := range bad {
		if p := v.check(); len(p) == 0 {
			t.Errorf("%+v passed its check", v)
		}
	}
	if p := (VersionRange{Stream: "el7", Fixed: []string{"3.10.0-514.el7"}}).check(); len(p) != 0 {
		t.Errorf("good range: %v", p)
	}
}
