package kernel

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/ktriage/ktriage/vmcore"
)

// What the unwinder caches for a Kernel (ORC, CFI, modules) must not keep
// that Kernel alive: the cache is keyed by a weak pointer, and a strong one
// from inside it kept every dump and its page cache of a fleet batch.
func TestUnwinderReleasedWithKernel(t *testing.T) {
	var key weak.Pointer[Kernel]
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
		key = weak.Make(k)
		if _, ok := unwinders.Load(key); !ok {
			t.Fatal("the backtrace cached no unwinder")
		}
	}()
	// Cleanups run after a collection, on their own goroutine.
	cached := func() bool { _, ok := unwinders.Load(key); return ok }
	for i := 0; i < 100 && cached(); i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if cached() || key.Value() != nil {
		t.Errorf("the Kernel (collected: %v) and its unwinder (still cached: %v) outlive their last use: something the unwinder holds keeps the Kernel", key.Value() == nil, cached())
	}
}
