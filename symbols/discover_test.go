package symbols

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTinyELF writes a minimal x86_64 ELF whose only content is a GNU
// build-id note: a stand-in for "some other kernel's vmlinux".
func writeTinyELF(t *testing.T, path string, buildID []byte) {
	t.Helper()
	le := binary.LittleEndian
	var note []byte
	note = le.AppendUint32(note, 4)
	note = le.AppendUint32(note, uint32(len(buildID)))
	note = le.AppendUint32(note, 3) // NT_GNU_BUILD_ID
	note = append(note, "GNU\x00"...)
	note = append(note, buildID...)
	for len(note)%4 != 0 {
		note = append(note, 0)
	}
	shstr := []byte("\x00.note.gnu.build-id\x00.shstrtab\x00")
	noteOff := uint64(64)
	strOff := noteOff + uint64(len(note))
	shOff := (strOff + uint64(len(shstr)) + 7) &^ 7
	b := make([]byte, shOff+3*64)
	copy(b, "\x7fELF\x02\x01\x01")
	le.PutUint16(b[16:], 2)  // ET_EXEC
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[40:], shOff)
	le.PutUint16(b[52:], 64)
	le.PutUint16(b[58:], 64)
	le.PutUint16(b[60:], 3)
	le.PutUint16(b[62:], 2)
	copy(b[noteOff:], note)
	copy(b[strOff:], shstr)
	sh := func(i int, name, typ uint32, off, size uint64) {
		s := b[shOff+uint64(i)*64:]
		le.PutUint32(s, name)
		le.PutUint32(s[4:], typ)
		le.PutUint64(s[24:], off)
		le.PutUint64(s[32:], size)
		le.PutUint64(s[48:], 1)
	}
	sh(1, 1, 7, noteOff, uint64(len(note)))  // SHT_NOTE
	sh(2, 20, 3, strOff, uint64(len(shstr))) // SHT_STRTAB
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckVmlinuxRefusesOtherBuild(t *testing.T) {
	other := filepath.Join(t.TempDir(), "vmlinux-other")
	otherID := []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	writeTinyELF(t, other, otherID)
	err := CheckVmlinux(other, DumpIdentity{BuildID: corpusBuildID})
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("other build accepted or wrong error: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, hex.EncodeToString(otherID)) || !strings.Contains(msg, corpusBuildID) || !strings.Contains(msg, other) {
		t.Errorf("mismatch error does not name both identities and the file: %q", msg)
	}
	if err := CheckVmlinux(other, DumpIdentity{BuildID: hex.EncodeToString(otherID)}); err != nil {
		t.Errorf("matching build-id refused: %v", err)
	}
	if err := CheckVmlinux(other, DumpIdentity{}); !errors.Is(err, ErrCannotVerify) {
		t.Errorf("nothing to compare: err = %v", err)
	}
}

func TestFindVmlinuxDistroPaths(t *testing.T) {
	root := t.TempDir()
	rel := "5.14.0-362.el9.x86_64"
	opts := FindOptions{Release: rel, Root: root, CacheDir: filepath.Join(root, "cache")}
	if _, err := FindVmlinux(opts); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty root: err = %v", err)
	} else if !strings.Contains(err.Error(), "/usr/lib/debug/lib/modules/"+rel+"/vmlinux") {
		t.Errorf("error does not list the RHEL path: %v", err)
	}
	mk := func(p string) string {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return full
	}
	suse := mk("usr/lib/debug/boot/vmlinux-" + rel + ".debug")
	if p, err := FindVmlinux(opts); err != nil || p != suse {
		t.Errorf("SUSE layout: %q %v", p, err)
	}
	deb := mk("usr/lib/debug/boot/vmlinux-" + rel)
	if p, err := FindVmlinux(opts); err != nil || p != deb {
		t.Errorf("Debian layout: %q %v", p, err)
	}
	rhel := mk("usr/lib/debug/lib/modules/" + rel + "/vmlinux")
	if p, err := FindVmlinux(opts); err != nil || p != rhel {
		t.Errorf("RHEL layout: %q %v", p, err)
	}
	dir := filepath.Join(root, "mydebug")
	mine := mk("mydebug/vmlinux-" + rel)
	opts.DebuginfoDir = dir
	if p, err := FindVmlinux(opts); err != nil || p != mine {
		t.Errorf("--debuginfo-dir: %q %v", p, err)
	}
	opts.Vmlinux = filepath.Join(root, "nope")
	if _, err := FindVmlinux(opts); !errors.Is(err, ErrNotFound) {
		t.Errorf("--vmlinux pointing nowhere: %v", err)
	}
	cached := mk("cache/vmlinux-9.9.9")
	if p, err := FindVmlinux(FindOptions{Release: "9.9.9", Root: root, CacheDir: filepath.Join(root, "cache")}); err != nil || p != cached {
		t.Errorf("ktriage cache: %q %v", p, err)
	}
}
