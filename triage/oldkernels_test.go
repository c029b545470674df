package triage

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/analyzers"
)

// The older generations' fixtures (testdata/dumps-el7: CentOS 7's 3.10;
// testdata/dumps-5.4: Linux 5.4), each named SCENARIO-FORMAT, analyzed
// with the generation's debuginfo pack (no BTF or kallsyms in these
// dumps): the report concludes as the scenario crashed the kernel.
var oldScenarioVerdicts = []struct {
	scenario string
	// first: the leading finding; the 3.10 SysRq-c is an oops (a NULL
	// store in sysrq_handle_crash), later kernels panic directly.
	first    []string
	evidence string // a line the leading finding's evidence must hold
}{
	{"sysrq", []string{"sysrq-triggered-crash-oops", "sysrq-triggered-crash"}, ""},
	{"oops-null", []string{"null-pointer-dereference"}, "ktriage_widget_account_hit"},
	{"hung", []string{"hung-task-frozen-filesystem"}, "/data1"},
	{"bug", []string{"kernel-bug-assertion"}, "kernel BUG at ktriage_crash/ktriage_crash.c"},
	{"softlockup", []string{"soft-lockup"}, "ktriage_poll_device_busy"},
	{"oom", []string{"panic-on-oom"}, "vm.panic_on_oom = 1"},
}

func TestOldScenarioVerdicts(t *testing.T) {
	seen := 0
	for _, dir := range []string{"../testdata/dumps-el7", "../testdata/dumps-5.4"} {
		packs, _ := filepath.Glob(filepath.Join(dir, "*.pack"))
		vmcores, _ := filepath.Glob(filepath.Join(dir, "*.vmcore"))
		if len(packs) != 1 || len(vmcores) == 0 {
			continue
		}
		for _, v := range vmcores {
			name := strings.TrimSuffix(filepath.Base(v), ".vmcore")
			t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
				seen++
				in, err := LoadDump([]string{v}, Options{Vmlinux: packs[0]})
				if err != nil {
					t.Fatal(err)
				}
				analyze(t, in)
				// The seed's version checks judge RHEL fixes by the release
				// the dump gives: CentOS 7.9's must read as the el7 package.
				if k := analyzers.KernelOf(in); strings.HasSuffix(dir, "el7") && (k.Stream != "el7" || k.Package != "3.10.0-1160.el7") {
					t.Errorf("kernel %+v, want stream el7, package 3.10.0-1160.el7", k)
				}
				for _, s := range oldScenarioVerdicts {
					if !strings.HasPrefix(name, s.scenario+"-") {
						continue
					}
					if len(in.Findings) == 0 {
						t.Fatalf("no findings; warnings %v", in.Warnings)
					}
					f := in.Findings[0]
					ok := false
					for _, id := range s.first {
						ok = ok || f.ID == id
					}
					if !ok {
						t.Errorf("leads with %s, want one of %v (all: %v)", f.ID, s.first, findingIDs(in))
					}
					if ev := strings.Join(f.Evidence, "\n") + "\n" + f.Title + "\n" + in.Title; s.evidence != "" && !strings.Contains(ev, s.evidence) {
						t.Errorf("%s: %q not in its evidence:\n%s", f.ID, s.evidence, ev)
					}
					return
				}
				t.Errorf("no expected verdict for scenario of %s", name)
			})
		}
	}
	if seen == 0 {
		t.Skip("no older-generation fixtures (testdata/dumps-el7, testdata/dumps-5.4)")
	}
}
