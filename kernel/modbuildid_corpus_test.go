package kernel

import (
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/vmcore"
)

// Every module of the corpus oops dump names its .ko's build-id, read from
// the notes the kernel keeps in memory; for Debian's own modules they are
// the build-ids `readelf -n` shows in the .ko files of
// linux-image-6.1.0-56-cloud-amd64 6.1.192-2.
func TestCorpusModuleBuildIDs(t *testing.T) {
	want := map[string]string{
		"pvpanic":      "cca5c421b59700a57b40184af427c8117b86a45b",
		"pvpanic_mmio": "68b86d166506d7d8f3576ac634ae1cc0870dd5ee",
		"qemu_fw_cfg":  "f3b57cdb54cf3f3e4d9caab85dde97957ac3d8ce",
	}
	for _, c := range corpus.Dumps(t) {
		if c.Name != "null-kdump-zstd" {
			continue
		}
		for _, withVmlinux := range []bool{false, true} {
			vmlinux := ""
			if withVmlinux {
				vmlinux = corpus.Vmlinux(t)
			}
			d, err := vmcore.Open(c.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			k, err := Attach(d, AttachOptions{Vmlinux: vmlinux})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, m := range k.modules() {
				got[m.name] = m.buildID
				if len(m.buildID) != 40 {
					t.Errorf("module %s: build-id %q", m.name, m.buildID)
				}
			}
			for name, id := range want {
				if got[name] != id {
					t.Errorf("vmlinux %q: module %s build-id %q, want %q", vmlinux, name, got[name], id)
				}
			}
		}
		return
	}
	t.Skip("corpus dump null-kdump-zstd not found")
}
