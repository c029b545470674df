package vmcore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ktriage/ktriage/internal/damage"
)

// TestBudgetRefusesHugeBitmaps: a kdump header whose bitmap_blocks claims
// bitmaps of gigabytes, in a sparse file large enough to hold them, used
// to be read whole (8.4 GB peak RSS for a 2 x 2 GiB claim, 90 s). The
// budget refuses it before anything is allocated, by name; the fixture it
// was made from opens within the same budget.
func TestBudgetRefusesHugeBitmaps(t *testing.T) {
	src := filepath.Join(fixtureDir, "sysrq-kdump-zlib.vmcore")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 256 << 20
	head, size := damage.HugeClaim(b, 128<<20) // 3 x 128 MiB with the rank table: over 256 MiB
	copy(b, head)
	p := writeTemp(t, "huge.vmcore", b)
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	_, err = OpenWith(OpenOptions{MemoryLimit: limit}, p)
	var be *BudgetError
	if !errors.Is(err, ErrMemoryBudget) || !errors.As(err, &be) {
		t.Fatalf("huge bitmaps: %v, want a *BudgetError", err)
	}
	if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "kdump bitmaps") || be.Used > 1<<20 {
		t.Errorf("error %q (%d bytes taken before): want the file and what was refused named, before the bitmaps", err, be.Used)
	}
	d, err := OpenWith(OpenOptions{MemoryLimit: limit}, src)
	if err != nil {
		t.Fatalf("the undamaged fixture under the same budget: %v", err)
	}
	defer d.Close()
	if used := d.Budget().Used(); used <= 0 || used > 1<<20 {
		t.Errorf("the fixture's bitmaps took %d bytes of its budget, want some, under 1 MiB", used)
	}
}

// TestBudgetConcurrentReserves: reserves racing on one budget never take
// more than its limit together, and a refused one takes nothing.
func TestBudgetConcurrentReserves(t *testing.T) {
	b := NewBudget(1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := int64(0)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.Reserve("piece", 30) == nil {
				mu.Lock()
				granted += 30
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if granted != 990 || b.Used() != 990 {
		t.Fatalf("granted %d, used %d: want 33 pieces of 30 (990 of 1000)", granted, b.Used())
	}
	b.Release(990)
	if err := b.Reserve("all", 1000); err != nil || NewBudget(0).Limit() != DefaultMemoryLimit {
		t.Fatalf("after release: %v; default limit %d", err, NewBudget(0).Limit())
	}
	var nilBudget *Budget
	if err := nilBudget.Reserve("anything", 1<<62); err != nil {
		t.Fatalf("a nil budget refused: %v", err)
	}
}
