package kernel

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ktriage/ktriage/vmcore"
)

// What the unwinder caches for a Kernel (ORC, CFI, modules) must not keep
// that Kernel alive: the cache is keyed by a weak pointer, and a strong one
// from inside it kept every dump and its page cache of a fleet batch.
func TestUnwinderReleasedWithKernel(t *testing.T) {
	count := func() int {
		n := 0
		unwinders.Range(func(_, _ any) bool { n++; return true })
		return n
	}
	before := count()
	func() {
		d, err := vmcore.Open(filepath.Join(fixtureDir, "hung-kdump-zstd.vmcore"))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		k, err := Attach(d, AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, frames, err := k.CPUBacktrace(k.PanicCPU()); err != nil || len(frames) == 0 {
			t.Fatalf("no panic backtrace: %v", err)
		}
		if count() <= before {
			t.Fatal("the backtrace cached no unwinder")
		}
	}()
	// Cleanups run after a collection, on their own goroutine.
	for i := 0; i < 100 && count() > before; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if n := count(); n > before {
		t.Errorf("%d unwinders cached after the Kernel was dropped, %d before: something in one holds its Kernel", n, before)
	}
}
