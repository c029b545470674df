package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeWithDebuginfoRPM analyzes the CentOS 7 oops fixture with only
// a folder holding a kernel-debuginfo RPM (built here by rpmbuild from
// the debug vmlinux of the fixtures' kernel and the module's debug file,
// at RHEL's paths): the vmlinux and the module's DWARF are read out of the
// RPM, the report equals the one made with the vmlinux and the module's
// debug file given as files, and a second run reads nothing from the RPM.
// 3.10 names no build-id in its dump, so the vmlinux is found by the
// release's path in the package and checked by linux_banner.
func TestAnalyzeWithDebuginfoRPM(t *testing.T) {
	if testing.Short() {
		t.Skip("packs and reads a 143 MB vmlinux")
	}
	const release = "3.10.0-1160.el7.x86_64"
	vmlinux := os.Getenv("KTRIAGE_EL7_VMLINUX")
	if vmlinux == "" {
		home, _ := os.UserHomeDir()
		vmlinux = filepath.Join(home, ".cache", "ktriage", "old", "build-linux-3.10.0-1160.el7", "vmlinux")
	}
	if _, err := os.Stat(vmlinux); err != nil {
		t.Skipf("no CentOS 7 debug vmlinux at %s (KTRIAGE_EL7_VMLINUX; testdata/gen/build-old-kernel.sh el7 builds it)", vmlinux)
	}
	if _, err := exec.LookPath("rpmbuild"); err != nil {
		t.Skip("no rpmbuild (apt-get install rpm)")
	}
	el7 := filepath.Join("..", "..", "testdata", "dumps-el7")
	dump := filepath.Join(el7, "oops-null-kdump-lzo.vmcore")
	moduleDebug, _ := filepath.Abs(filepath.Join(el7, "debug", "ktriage_crash.ko.debug"))
	rpms := t.TempDir()
	built, err := exec.Command("sh", "../../scripts/make-debuginfo-rpm.sh", rpms, release, "w3.zstdio",
		vmlinux+"=/usr/lib/debug/lib/modules/"+release+"/vmlinux",
		moduleDebug+"=/usr/lib/debug/lib/modules/"+release+"/extra/ktriage_crash.ko.debug").CombinedOutput()
	if err != nil {
		t.Fatalf("make-debuginfo-rpm.sh: %v\n%s", err, built)
	}
	rpm := strings.TrimSpace(string(built[strings.LastIndexByte(strings.TrimSpace(string(built)), '\n')+1:]))

	t.Setenv("KTRIAGE_CACHE", t.TempDir())
	t.Setenv("DEBUGINFOD_URLS", "")
	t.Setenv("DEBUGINFOD_CACHE_PATH", "")
	local, _ := runAnalyzeJSON(t, "--vmlinux", vmlinux, "--debuginfo-dir", filepath.Dir(moduleDebug), dump)
	fromRPM, stderr := runAnalyzeJSON(t, "--debuginfo-dir", rpms, dump)
	t.Logf("first run: %s", strings.TrimSpace(stderr))
	want := "(from debug package " + rpm + " (/usr/lib/debug/lib/modules/" + release + "/vmlinux))"
	if src := kernelSource(t, fromRPM); !strings.HasSuffix(src, want) {
		t.Fatalf("kernel source %q: want it to end in %q", src, want)
	}
	if !strings.Contains(fromRPM, `"file": "gen/build-`+release+`/module/ktriage_crash.c"`) {
		t.Error("no module frame has its file and line")
	}
	if a, b := withoutKernelSource(t, local), withoutKernelSource(t, fromRPM); a != b {
		t.Errorf("the report with the debuginfo from the RPM differs from the one with the files:\nfiles: %.600s\nRPM:   %.600s", a, b)
	}
	// ktriage debuginfo finds it the same way and prints where it is kept.
	out, stderr, err := runSplit(t, "debuginfo", "--debuginfo-dir", rpms, dump)
	if err != nil {
		t.Fatalf("debuginfo --debuginfo-dir: %v\n%s", err, stderr)
	}
	if got := strings.TrimSpace(out); !strings.HasSuffix(got, "/2c398ac4b7760a13201b3a6ec169ae011274595a/debuginfo") {
		t.Errorf("debuginfo --debuginfo-dir printed %q, want the cached vmlinux of build-id 2c398ac4…", got)
	}
	if _, _, err := runSplit(t, "debuginfo", dump); err == nil || !strings.Contains(err.Error(), "--debuginfo-dir") {
		t.Errorf("debuginfo without packages on a dump with no build-id: %v, want it to point at --debuginfo-dir", err)
	}
	again, stderr := runAnalyzeJSON(t, "--debuginfo-dir", rpms, dump)
	if strings.Contains(stderr, "fetching") {
		t.Errorf("second run read the RPM again: %s", stderr)
	}
	if again != fromRPM {
		t.Error("the second run's report differs from the first")
	}

	// A fleet run over the CentOS 7 fixtures, from a new cache,
	// reads the vmlinux out of the RPM once for all of them.
	cache := t.TempDir()
	t.Setenv("KTRIAGE_CACHE", cache)
	dumps, _ := filepath.Glob(filepath.Join(el7, "*.vmcore"))
	args := append([]string{"fleet", "--store", filepath.Join(cache, "store.db"), "--debuginfo-dir", rpms}, dumps...)
	out, stderr, err = runSplit(t, args...)
	if err != nil {
		t.Fatalf("fleet: %v\n%s", err, stderr)
	}
	if n := strings.Count(stderr, "fetching the debuginfo of build-id 2c398ac4"); n != 1 {
		t.Errorf("fleet over %d dumps of one kernel read its vmlinux out of the RPM %d times, want once:\n%s", len(dumps), n, stderr)
	}
	if !strings.Contains(out, fmt.Sprintf("%d analyzed", len(dumps))) {
		t.Errorf("fleet: %.400s", out)
	}
}

// bt -l with the CentOS 7 fixture's debuginfo pack and a folder holding
// only the kernel-debuginfo RPM of its module: the module's frames are
// marked as crash marks them and carry their source lines (the lines
// kernel.TestModuleFramesSourceLinesEl7 checks against eu-addr2line).
func TestBtLinesFromDebuginfoRPM(t *testing.T) {
	el7 := filepath.Join("..", "..", "testdata", "dumps-el7")
	t.Setenv("KTRIAGE_CACHE", t.TempDir())
	t.Setenv("DEBUGINFOD_URLS", "")
	t.Setenv("DEBUGINFOD_CACHE_PATH", "")
	out, stderr, err := runSplit(t, "bt", "-l", "--vmlinux", filepath.Join(el7, "vmlinux-3.10.0-1160.el7.x86_64.pack"),
		"--debuginfo-dir", filepath.Join(el7, "debug-rpm-xz"), filepath.Join(el7, "oops-null-kdump-lzo.vmcore"))
	if err != nil {
		t.Fatalf("bt -l: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"ktriage_widget_refresh at ffffffffa00002f5 [ktriage_crash]\n    gen/build-3.10.0-1160.el7.x86_64/module/ktriage_crash.c: 88\n",
		"ktriage_crash_write.cold at ffffffffa000043a [ktriage_crash]\n    gen/build-3.10.0-1160.el7.x86_64/module/ktriage_crash.c: 420\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bt -l lacks %q:\n%s", want, out)
		}
	}
}
