package symbols

import "testing"

// Two runs on the same kernel overlap (a fleet batch): the one that walked
// less closes last and must not replace the fuller index in the cache.
func TestIndexCacheKeepsTheFullerIndex(t *testing.T) {
	dir := t.TempDir()
	far := openTestDWARF(t, DWARFOptions{CacheDir: dir})
	near := openTestDWARF(t, DWARFOptions{CacheDir: dir})
	if err := far.IndexAll(); err != nil {
		t.Fatal(err)
	}
	if _, ok := near.TypeOffset("struct task_struct"); !ok {
		t.Fatal("no struct task_struct")
	}
	if st := near.Stats(); st.Walked == 0 || st.Walked >= st.Units {
		t.Fatalf("the near run walked %d of %d units; want a proper prefix", st.Walked, st.Units)
	}
	far.Close()
	near.Close()
	again := openTestDWARF(t, DWARFOptions{CacheDir: dir})
	if st := again.Stats(); !st.FromCache || st.Walked != st.Units {
		t.Errorf("after both closed the cache holds %d of %d units (from cache %v); want the complete index", st.Walked, st.Units, st.FromCache)
	}
}
