package triage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --vmlinux that cannot be used (not an ELF file at all, here) used to
// turn off the dump's own kallsyms and BTF: no tasks, no stacks. Now it is
// named in a warning and the dump describes itself.
func TestBadVmlinuxFallsBackToTheDumpsOwnNames(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "vmlinux")
	if err := os.WriteFile(bad, []byte("not an ELF file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := LoadDump([]string{"../testdata/dumps/hung-kdump-zstd.vmcore"}, Options{Vmlinux: bad})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.BlockedTasks) != 5 || in.System == nil || in.System.KernelSource != "kallsyms+BTF from dump" {
		t.Errorf("%d D tasks, source %+v: want the 5 D tasks read with the dump's own names", len(in.BlockedTasks), in.System)
	}
	named := false
	for _, w := range in.Warnings {
		named = named || strings.Contains(w, bad) && strings.Contains(w, "not used")
	}
	if !named {
		t.Errorf("no warning names the unusable vmlinux: %v", in.Warnings)
	}
}
