package symbols

import (
	"sync"
	"testing"
)

// With the walk ahead running, lookups from several goroutines give what a
// complete index gives, Close stops the walk, and the cache then holds a
// prefix at least as long as the lookups needed.
func TestWalkAheadLookups(t *testing.T) {
	full := openTestDWARF(t, DWARFOptions{NoCache: true})
	if err := full.IndexAll(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d, err := OpenDWARF(vmlinuxPath(t), DWARFOptions{CacheDir: dir, WalkAhead: true})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"struct task_struct", "struct mount", "struct rq", "struct cea_exception_stacks", "struct super_block", "u64"}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, ok := d.TypeOffset(n)
			want, _ := full.TypeOffset(n)
			if !ok || got != want {
				t.Errorf("TypeOffset(%q) with the walk ahead: %#x %v, complete index %#x", n, got, ok, want)
			}
		}()
	}
	wg.Wait()
	for _, g := range []string{"init_task", "runqueues", "prb"} {
		a, ok := d.GlobalAddr(g)
		b, _ := full.GlobalAddr(g)
		if !ok || a != b {
			t.Errorf("GlobalAddr(%q) with the walk ahead: %#x %v, complete index %#x", g, a, ok, b)
		}
	}
	walked := d.Stats().Walked
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	again := openTestDWARF(t, DWARFOptions{CacheDir: dir})
	if st := again.Stats(); !st.FromCache || st.Walked < walked {
		t.Errorf("cache after Close: from cache %v, %d units; the run had walked %d", st.FromCache, st.Walked, walked)
	}
}

// A walk told to stop gives up before its next unit (Close does not wait
// for the walk ahead's span), and says so rather than failing the index.
func TestWalkSpanStops(t *testing.T) {
	d, err := OpenDWARF(fixturePath(dwarfFixtures[1]), DWARFOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	x, err := newDWARFIndex(&d.secs)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	close(stop)
	var marks []strMarks
	if parts, err := walkSpan(&d.secs, x.headers, &x.unitIndex, 1, &marks, stop); err != errWalkStopped || parts != nil {
		t.Errorf("stopped walk: %d parts, error %v; want none and errWalkStopped", len(parts), err)
	}
	if parts, err := walkSpan(&d.secs, x.headers, &x.unitIndex, 1, &marks, nil); err != nil || len(parts) != 1 {
		t.Errorf("walk: %d parts, error %v", len(parts), err)
	}
}
