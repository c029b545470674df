package vmcore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSniffBytesKinds(t *testing.T) {
	for _, c := range []struct {
		head string
		kind InputKind
		box  string
	}{
		{"\x7fELF\x02\x01\x01", InputELF, ""},
		{"KDUMP   \x06", InputKdump, ""},
		{"DISKDUMP\x01", InputKdump, ""},
		{"makedumpfile\x00\x00", InputFlattened, ""},
		{"\x28\xb5\x2f\xfd\x04", InputPacked, "zstd"},
		{"\x1f\x8b\x08", InputPacked, "gzip"},
		{"\xfd7zXZ\x00", InputPacked, "xz"},
		{"BZh91AY", InputPacked, "bzip2"},
		{"[    0.000000] Linux version", InputOther, ""},
		{"", InputOther, ""},
		{strings.Repeat("\x00", 257) + "ustar\x0000", InputTar, ""},
		{"vmcore\x00" + strings.Repeat("\x00", 250) + "ustar  \x00", InputTar, ""},
	} {
		got := SniffBytes([]byte(c.head))
		if got.Kind != c.kind || got.Container != c.box {
			t.Errorf("SniffBytes(%q) = %v/%q, want %v/%q", c.head, got.Kind, got.Container, c.kind, c.box)
		}
	}
}

// A FIFO named vmcore (or a link to one) must be refused at once, not
// block the open until a writer comes.
func TestOpenRefusesFIFOWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "vmcore")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, link, dir, "/dev/null"} {
		done := make(chan error, 2)
		go func() {
			_, err := SniffFile(p)
			done <- err
			_, err = Open(p)
			done <- err
		}()
		for i := 0; i < 2; i++ {
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotRegular) {
					t.Errorf("%s: err = %v, want ErrNotRegular", p, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%s: opening blocked", p)
			}
		}
	}
}
