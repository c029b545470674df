package debuginfo

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	wantID  = "3b43fad5034874490492495d552c0af6a5fab235"
	otherID = "0123456789abcdef0123456789abcdef01234567"
)

// server is a debuginfod stand-in whose answer for the build-id is
// chosen by the test; it counts the requests it saw.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if r.URL.Path != "/buildid/"+wantID+"/debuginfo" {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func serveFile(body []byte) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-DEBUGINFOD-SIZE", strconv.Itoa(len(body)))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}

// hang never answers until the client goes away.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// stallAfter sends n bytes of body, then neither sends more nor closes.
func stallAfter(body []byte, n int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:n])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

// dieAfter promises the whole body, sends n bytes and drops the connection.
func dieAfter(body []byte, n int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("X-DEBUGINFOD-SIZE", strconv.Itoa(len(body)))
		w.Write(body[:n])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

func newClient(t *testing.T, urls ...string) *Client {
	return &Client{URLs: urls, CacheDir: t.TempDir(), Timeout: 2 * time.Second}
}

// cacheLeftovers lists what is in the build-id's cache folder.
func cacheLeftovers(t *testing.T, c *Client) []string {
	ents, _ := os.ReadDir(filepath.Join(c.CacheDir, wantID))
	var names []string
	for _, e := range ents {
		fi, _ := e.Info()
		names = append(names, e.Name()+":"+strconv.FormatInt(fi.Size(), 10))
	}
	return names
}

func TestFetchStoresVerifiedFileAndReusesCache(t *testing.T) {
	body := makeELF(t, wantID, 300<<10)
	s := newServer(t, serveFile(body))
	c := newClient(t, s.URL)
	var last Progress
	c.Progress = func(p Progress) { last = p }
	r, err := c.Fetch(context.Background(), wantID, Debuginfo)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cached || r.Origin != s.URL || r.Size != int64(len(body)) {
		t.Errorf("first fetch: %+v", r)
	}
	got, err := os.ReadFile(r.Path)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("cached file differs from what was served (%v)", err)
	}
	if !last.Final || last.Total != int64(len(body)) || last.Done != int64(len(body)) {
		t.Errorf("last progress %+v, want final %d of %d", last, len(body), len(body))
	}
	r2, err := c.Fetch(context.Background(), strings.ToUpper(wantID), Debuginfo)
	if err != nil || !r2.Cached || r2.Path != r.Path || r2.Origin != s.URL {
		t.Errorf("second fetch: %+v, %v; want the cached file with its origin", r2, err)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1 (the second run must use the cache)", n)
	}
	for _, n := range cacheLeftovers(t, c) {
		if strings.HasPrefix(n, tempPrefix) {
			t.Errorf("temporary file left in the cache: %s", n)
		}
	}
}

// Each broken server gets a clear error naming it and what went wrong,
// and leaves no file for the build-id in the cache.
func TestFetchFailureModes(t *testing.T) {
	good := makeELF(t, wantID, 400<<10)
	cases := []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request)
		want    string
		miss    bool // remembered as a miss (404 only)
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "not found (404)", true},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, "HTTP 500", false},
		{"hangs before answering", hang, "no answer within", false},
		{"stalls after 200 KiB", stallAfter(good, 200<<10), "stalled", false},
		{"stalls before 100 KiB", stallAfter(good, 10<<10), "less than 100 KiB", false},
		{"another build", serveFile(makeELF(t, otherID, 1000)), "build-id " + otherID + ", asked for " + wantID, false},
		{"dies mid-file", dieAfter(good, 250<<10), "cut short", false},
		{"not ELF", serveFile([]byte(strings.Repeat("<html>busy</html>", 100))), "not a whole ELF file", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.handler)
			c := newClient(t, s.URL)
			// Long enough that a loaded machine still reads the first
			// 100 KiB of "stalls after 200 KiB" in time.
			c.Timeout = 2 * time.Second
			_, err := c.Fetch(context.Background(), wantID, Debuginfo)
			if err == nil {
				t.Fatal("fetch succeeded")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), s.URL) {
				t.Errorf("error %q: want it to name %s and say %q", err, s.URL, tc.want)
			}
			if errors.Is(err, ErrNotFound) != tc.miss {
				t.Errorf("errors.Is(ErrNotFound) = %v, want %v", !tc.miss, tc.miss)
			}
			if _, ok := c.Cached(wantID, Debuginfo); ok {
				t.Error("a file for the build-id is in the cache after a failed fetch")
			}
			want := []string(nil)
			if tc.miss {
				want = []string{"debuginfo:0"} // the remembered miss
			}
			if got := cacheLeftovers(t, c); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("cache folder holds %v, want %v", got, want)
			}
		})
	}
}

// Servers are asked at once: a hanging one and one without the file do
// not keep the one that has it from serving it.
func TestFetchFirstServerWithFileWins(t *testing.T) {
	body := makeELF(t, wantID, 1000)
	hung := newServer(t, hang)
	missing := newServer(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	good := newServer(t, serveFile(body))
	c := newClient(t, hung.URL, missing.URL, good.URL)
	c.Timeout = time.Minute // the hung server is cancelled, not waited out
	r, err := c.Fetch(context.Background(), wantID, Debuginfo)
	if err != nil {
		t.Fatal(err)
	}
	if r.Origin != good.URL {
		t.Errorf("origin %q, want %q", r.Origin, good.URL)
	}
}

// A server that sends another build's file is passed over for the next.
func TestFetchFallsBackAfterBadFile(t *testing.T) {
	wrong := newServer(t, serveFile(makeELF(t, otherID, 1000)))
	good := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond) // usually lets the wrong one answer first
		serveFile(makeELF(t, wantID, 1000))(w, r)
	})
	c := newClient(t, wrong.URL, good.URL)
	r, err := c.Fetch(context.Background(), wantID, Debuginfo)
	if err != nil {
		t.Fatal(err)
	}
	if r.Origin != good.URL {
		t.Errorf("origin %q, want %q", r.Origin, good.URL)
	}
}

func TestMissIsRememberedUntilItExpires(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	c := newClient(t, s.URL)
	for range 2 {
		if _, err := c.Fetch(context.Background(), wantID, Debuginfo); !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v, want not found", err)
		}
	}
	if n := s.hits.Load(); n != 1 {
		t.Fatalf("server asked %d times, want once (the miss is remembered)", n)
	}
	old := time.Now().Add(-11 * time.Minute) // past the default cache_miss_s
	os.Chtimes(filepath.Join(c.CacheDir, wantID, "debuginfo"), old, old)
	c.Fetch(context.Background(), wantID, Debuginfo)
	if n := s.hits.Load(); n != 2 {
		t.Errorf("server asked %d times, want 2 (the miss expired)", n)
	}
	// A cache_miss_s control file of 0 forgets misses at once.
	os.WriteFile(filepath.Join(c.CacheDir, "cache_miss_s"), []byte("0\n"), 0o644)
	c.Fetch(context.Background(), wantID, Debuginfo)
	if n := s.hits.Load(); n != 3 {
		t.Errorf("server asked %d times, want 3 (cache_miss_s 0)", n)
	}
}

func TestOfflineUsesOnlyTheCache(t *testing.T) {
	s := newServer(t, serveFile(makeELF(t, wantID, 1000)))
	c := newClient(t, s.URL)
	c.Offline = true
	if _, err := c.Fetch(context.Background(), wantID, Debuginfo); !errors.Is(err, ErrOffline) {
		t.Fatalf("offline fetch: %v, want ErrOffline", err)
	}
	if s.hits.Load() != 0 {
		t.Fatal("an offline client asked the server")
	}
	c.Offline = false
	if _, err := c.Fetch(context.Background(), wantID, Debuginfo); err != nil {
		t.Fatal(err)
	}
	c.Offline = true
	if r, err := c.Fetch(context.Background(), wantID, Debuginfo); err != nil || !r.Cached {
		t.Fatalf("offline fetch of a cached file: %+v, %v", r, err)
	}
}

// Concurrent fetches of one build-id (a fleet of crashes of one kernel)
// share one download.
func TestConcurrentFetchesShareOneDownload(t *testing.T) {
	release := make(chan struct{})
	body := makeELF(t, wantID, 1000)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		serveFile(body)(w, r)
	})
	c := newClient(t, s.URL)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Fetch(context.Background(), wantID, Debuginfo)
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("DEBUGINFOD_URLS", "http://a.example:8002/ https://b.example")
	t.Setenv("DEBUGINFOD_CACHE_PATH", "/tmp/x")
	t.Setenv("DEBUGINFOD_TIMEOUT", "7")
	t.Setenv("DEBUGINFOD_MAXTIME", "")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.URLs, " ") != "http://a.example:8002 https://b.example" || c.CacheDir != "/tmp/x" || c.Timeout != 7*time.Second || c.MaxTime != 0 {
		t.Errorf("FromEnv: %+v", c)
	}
	t.Setenv("DEBUGINFOD_TIMEOUT", "soon")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "DEBUGINFOD_TIMEOUT") {
		t.Errorf("bad timeout: %v", err)
	}
	t.Setenv("DEBUGINFOD_TIMEOUT", "")
	t.Setenv("DEBUGINFOD_URLS", "ftp://x")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "DEBUGINFOD_URLS") {
		t.Errorf("bad URL: %v", err)
	}
}

func TestNormalizeBuildID(t *testing.T) {
	for _, bad := range []string{"", "abc", "xyzw", "../../etc", strings.Repeat("ab", 65)} {
		if _, err := NormalizeBuildID(bad); err == nil {
			t.Errorf("NormalizeBuildID(%q) accepted", bad)
		}
	}
}
