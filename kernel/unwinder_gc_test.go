package kernel

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/ktriage/ktriage/vmcore"
)

// What the unwinder loads for a Kernel (ORC, CFI, modules) lives in the
// Kernel and nowhere else: once the Kernel is unreachable it is collected,
// with the dump's page cache it holds (a global cache once kept every dump
// of a fleet batch alive).
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
		if k.unwind.orc == nil && k.unwind.orcErr == nil {
			t.Fatal("the backtrace loaded no unwind table")
		}
		key = weak.Make(k)
	}()
	for i := 0; i < 100 && key.Value() != nil; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if key.Value() != nil {
		t.Error("the Kernel outlives its last use: something global holds it")
	}
}
