package analyzers

import (
	"fmt"
	"github.com/ktriage/ktriage/internal/lazyre"
	"sort"
	"strings"

	debversion "github.com/knqyf263/go-deb-version"
	rpmversion "github.com/knqyf263/go-rpm-version"

	"github.com/ktriage/ktriage/incident"
)

// Kernel is the crashed kernel as a package version of its distribution,
// the only form in which "fixed in kernel-3.10.0-327.44.2.el7" can be judged.
type Kernel struct {
	Release string // uname -r, "3.10.0-229.el7.x86_64"
	Stream  string // "el7", "debian", "ubuntu"; "" when not recognised
	Package string // comparable package version, "3.10.0-229.el7", "6.1.192-2", "4.4.0-87.110"
}

// Scheme returns "deb" for Debian and Ubuntu streams, "rpm" otherwise.
func streamScheme(stream string) string {
	if stream == "debian" || stream == "ubuntu" {
		return "deb"
	}
	return "rpm"
}

var (
	// 3.10.0-514.21.1.el7.x86_64, 4.18.0-305.19.1.el8_4.x86_64, 5.4.17-2136.300.7.el8uek.x86_64,
	// 6.5.6-300.fc39.x86_64, 4.14.336-257.562.amzn2.x86_64; optional .debug/+debug suffix.
	rpmRelease = lazyre.New(`^(\d+\.\d+\.\d+-[0-9][0-9A-Za-z._]*?\.(el\d+(?:uek)?|fc\d+|amzn\d+)(?:_\d+)?)(?:\.(?:x86_64|aarch64|ppc64le|ppc64|s390x|i686|i586|noarch))?(?:[.+](?:debug|PAE|rt))?$`)
	// Ubuntu: release 4.4.0-87-generic, version "#110-Ubuntu" or "#110~16.04.1-Ubuntu".
	ubuntuRelease = lazyre.New(`^(\d+\.\d+\.\d+-\d+)-[a-z][a-z0-9-]*$`)
	ubuntuBuild   = lazyre.New(`#(\d+)(?:~\S+)?-Ubuntu`)
	// Debian: version "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)".
	debianBuild = lazyre.New(`Debian (\d+\.\d+[0-9A-Za-z.+~-]*-[0-9A-Za-z.+~]+)`)
	// Where a log states the kernel: the "CPU: … Not tainted <release> #<build>"
	// line of every report, and the boot banner "Linux version <release> (…) #<build>".
	reportKernelLine = lazyre.New(`(?:Not tainted|Tainted: [A-Z ]*?)\s+(\S+) (#\S+.*)$`)
	bannerLine       = lazyre.New(`Linux version (\S+) .*?(#\d+.*)$`)
)

// IdentifyKernel turns uname -r and uname -v into a package version.
func IdentifyKernel(release, version string) Kernel {
	k := Kernel{Release: release}
	if m := rpmRelease.FindStringSubmatch(release); m != nil {
		k.Stream, k.Package = m[2], m[1]
		return k
	}
	if m := debianBuild.FindStringSubmatch(version); m != nil {
		k.Stream, k.Package = "debian", m[1]
		return k
	}
	if m := ubuntuRelease.FindStringSubmatch(release); m != nil && strings.Contains(version, "Ubuntu") {
		k.Stream = "ubuntu"
		if b := ubuntuBuild.FindStringSubmatch(version); b != nil {
			k.Package = m[1] + "." + b[1]
		}
	}
	return k
}

// KernelOf finds the crashed kernel's release and build string in the
// incident: system facts first, then report headers, then the boot banner.
func KernelOf(in *incident.Incident) Kernel {
	var release, version string
	if in.System != nil {
		release, version = in.System.Release, in.System.Version
	}
	scan := func(line string) bool {
		if !strings.Contains(line, "ainted") && !strings.Contains(line, "Linux version") {
			return false
		}
		for _, re := range []*lazyre.Regexp{reportKernelLine, bannerLine} {
			if m := re.FindStringSubmatch(line); m != nil && (release == "" || m[1] == release) {
				release, version = m[1], strings.TrimSpace(m[2])
				return true
			}
		}
		return false
	}
	if version == "" {
		found := false
		for _, r := range in.Reports {
			if release == "" && r.Release != "" {
				release = r.Release
			}
			for _, l := range r.Lines {
				if scan(l) {
					found = true
					break
				}
			}
			if found {
				break
			}
		}
		for i := 0; !found && i < len(in.Log); i++ {
			found = scan(in.Log[i].Text)
		}
	}
	return IdentifyKernel(release, version)
}

// verdict is the outcome of comparing a kernel with a rule's fixed versions.
type verdict struct {
	applies string // "affected", "fixed", "unknown"
	note    string
}

// appliesTo decides whether kernel k carries the fix, RPM- or Debian-style.
//
// Each fixed version fixes its own maintenance branch (RHEL z-streams: the
// 3.10.0-327 branch is fixed from 3.10.0-327.3.1.el7 on) and everything at
// or above the highest one listed. A kernel below the fix of its branch, or
// on a branch with no fix below the highest, is affected.
func appliesTo(k Kernel, ranges []VersionRange) verdict {
	if len(ranges) == 0 {
		return verdict{}
	}
	var streams []string
	for _, r := range ranges {
		streams = append(streams, r.Stream)
	}
	if k.Release == "" {
		return verdict{"unknown", "the crashed kernel's release is not known"}
	}
	if k.Stream == "" || k.Package == "" {
		return verdict{"unknown", fmt.Sprintf("kernel %s is not a recognised distribution build; fixes are known for %s", k.Release, strings.Join(streams, ", "))}
	}
	for _, r := range ranges {
		if r.Stream != k.Stream {
			continue
		}
		scheme := streamScheme(r.Stream)
		fixed := append([]string(nil), r.Fixed...)
		sort.Slice(fixed, func(i, j int) bool { return compareVersions(scheme, fixed[i], fixed[j]) < 0 })
		highest := fixed[len(fixed)-1]
		suffix := ""
		if r.Note != "" {
			suffix = " (" + r.Note + ")"
		}
		if compareVersions(scheme, k.Package, highest) >= 0 {
			return verdict{"fixed", fmt.Sprintf("%s is at or above %s, which carries the fix%s", k.Package, highest, suffix)}
		}
		for _, f := range fixed {
			if branchOf(scheme, f) != branchOf(scheme, k.Package) {
				continue
			}
			if compareVersions(scheme, k.Package, f) >= 0 {
				return verdict{"fixed", fmt.Sprintf("%s is at or above %s, the fix on its branch%s", k.Package, f, suffix)}
			}
			return verdict{"affected", fmt.Sprintf("%s is below %s, the fix on its branch; upgrade to %s or later%s", k.Package, f, f, suffix)}
		}
		return verdict{"affected", fmt.Sprintf("%s is below the fixed kernel %s; upgrade to %s or later%s", k.Package, strings.Join(fixed, " / "), highest, suffix)}
	}
	return verdict{"unknown", fmt.Sprintf("kernel %s is %s; fixes are known only for %s", k.Release, k.Stream, strings.Join(streams, ", "))}
}

func compareVersions(scheme, a, b string) int {
	if scheme == "deb" {
		va, errA := debversion.NewVersion(a)
		vb, errB := debversion.NewVersion(b)
		if errA != nil || errB != nil {
			return strings.Compare(a, b) // check() rejects unparsable rule versions
		}
		return va.Compare(vb)
	}
	return rpmversion.NewVersion(a).Compare(rpmversion.NewVersion(b))
}

// branchOf names a version's maintenance branch: for RPM the upstream
// version and first release number ("3.10.0-327"), for Debian and Ubuntu the
// upstream major.minor ("6.1").
func branchOf(scheme, v string) string {
	if scheme == "deb" {
		parts := strings.SplitN(v, ".", 3)
		if len(parts) >= 2 {
			return parts[0] + "." + strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
		}
		return v
	}
	up, rel, _ := strings.Cut(v, "-")
	first, _, _ := strings.Cut(rel, ".")
	return up + "-" + first
}

var streamPattern = lazyre.New(`^(el\d+(?:uek)?|fc\d+|amzn\d+|debian|ubuntu)$`)

func (v VersionRange) check() []string {
	var p []string
	if !streamPattern.MatchString(v.Stream) {
		p = append(p, fmt.Sprintf("versions: stream %q is not el<N>, el<N>uek, fc<N>, amzn<N>, debian or ubuntu", v.Stream))
		return p
	}
	if len(v.Fixed) == 0 {
		p = append(p, fmt.Sprintf("versions: stream %s lists no fixed version", v.Stream))
	}
	for _, f := range v.Fixed {
		if streamScheme(v.Stream) == "deb" {
			if _, err := debversion.NewVersion(f); err != nil {
				p = append(p, fmt.Sprintf("versions: %q is not a Debian version: %v", f, err))
			}
			continue
		}
		m := rpmRelease.FindStringSubmatch(f)
		if m == nil || m[1] != f {
			p = append(p, fmt.Sprintf("versions: %q is not a kernel package version like 3.10.0-327.44.2.el7 (no arch, no 'kernel-')", f))
		} else if m[2] != v.Stream {
			p = append(p, fmt.Sprintf("versions: %q belongs to stream %s, listed under %s", f, m[2], v.Stream))
		}
	}
	return p
}
