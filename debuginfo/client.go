package debuginfo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is what is asked of a server for a build-id.
type Kind string

const (
	// Debuginfo is the file with the DWARF: a kernel's debug vmlinux, a
	// module's .ko.debug.
	Debuginfo Kind = "debuginfo"
	// Executable is the stripped binary itself.
	Executable Kind = "executable"
)

// ErrNotFound: no source has the build-id (every server answered 404, or
// a recent miss is remembered).
var ErrNotFound = errors.New("not found")

// ErrOffline: the file is not cached and fetching was turned off.
var ErrOffline = errors.New("not cached, and fetching is off (--offline)")

// DefaultTimeout is elfutils' DEBUGINFOD_TIMEOUT default.
const DefaultTimeout = 90 * time.Second

// defaultMissTTL is how long a miss is remembered when the cache has no
// cache_miss_s control file (elfutils' default).
const defaultMissTTL = 10 * time.Minute

// commenceBytes is what a server must send within Timeout (elfutils: "at
// least 100K of data within this many seconds").
const commenceBytes = 100 << 10

// Client fetches debuginfo by build-id. The zero value fetches nothing but
// still reads the cache in the default place; FromEnv fills it from the
// environment. It is safe for concurrent use, and concurrent calls for one
// build-id share one download (a fleet run fetches each kernel once).
type Client struct {
	// URLs are debuginfod servers (DEBUGINFOD_URLS), asked in parallel;
	// the first that has the file serves it.
	URLs []string
	// PackageDirs hold distribution debug packages (.deb, .rpm) searched by
	// build-id before any server is asked.
	PackageDirs []string
	// CacheDir is where fetched files are kept: <CacheDir>/<build-id>/<kind>.
	// "" means DefaultCacheDir().
	CacheDir string
	// Timeout bounds how long a server may take to send its first 100 KiB,
	// and how long a download may then stall (DEBUGINFOD_TIMEOUT). Zero
	// or negative: no limit.
	Timeout time.Duration
	// MaxTime bounds a whole download (DEBUGINFOD_MAXTIME); 0: no limit.
	MaxTime time.Duration
	// MissTTL is how long a miss (every server said 404) is remembered.
	// 0: the cache's cache_miss_s control file, else 10 minutes.
	MissTTL time.Duration
	// Offline uses the cache only.
	Offline bool
	// Progress, if set, is called as a download advances.
	Progress func(Progress)
	// HTTP is the client used; nil means a plain one (the timeouts above
	// are enforced by the Client itself).
	HTTP *http.Client

	mu       sync.Mutex
	inflight map[string]*call
}

// Progress is the state of one download.
type Progress struct {
	BuildID string
	Kind    Kind
	From    string // server URL or package path
	Done    int64
	Total   int64 // X-DEBUGINFOD-SIZE or Content-Length; 0 if unknown
	Final   bool  // the download ended (successfully or not)
	// Elapsed is the time since the request was sent (a server may take
	// long to extract a file from a package before its first byte).
	Elapsed time.Duration
}

// Result is a file in the cache with the build-id asked for.
type Result struct {
	Path string
	// Origin is where the file came from: a server URL, or a package
	// path and the member in it.
	Origin string
	// Cached: it was already in the cache; nothing was fetched.
	Cached bool
	Size   int64
	// Took is the fetch's wall time (0 when Cached).
	Took time.Duration
}

// Describe names where the file came from, for a report: "debuginfod
// <server>" or "debug package <path> (<member>)".
func (r Result) Describe() string {
	switch {
	case r.Origin == "":
		return "the debuginfo cache"
	case strings.HasPrefix(r.Origin, "http://") || strings.HasPrefix(r.Origin, "https://"):
		return "debuginfod " + r.Origin
	}
	return "debug package " + r.Origin
}

type call struct {
	done chan struct{}
	res  Result
	err  error
}

// FromEnv returns a client configured like elfutils' debuginfod client:
// DEBUGINFOD_URLS (space-separated server URLs), DEBUGINFOD_CACHE_PATH,
// DEBUGINFOD_TIMEOUT and DEBUGINFOD_MAXTIME (seconds). A malformed value is
// an error naming the variable.
func FromEnv() (*Client, error) {
	c := &Client{Timeout: DefaultTimeout, CacheDir: os.Getenv("DEBUGINFOD_CACHE_PATH")}
	for _, u := range strings.Fields(os.Getenv("DEBUGINFOD_URLS")) {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("DEBUGINFOD_URLS: %q is not an http(s) URL", u)
		}
		c.URLs = append(c.URLs, strings.TrimRight(u, "/"))
	}
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{"DEBUGINFOD_TIMEOUT", &c.Timeout}, {"DEBUGINFOD_MAXTIME", &c.MaxTime}} {
		s := strings.TrimSpace(os.Getenv(v.name))
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number of seconds", v.name, s)
		}
		*v.dst = time.Duration(n) * time.Second
	}
	return c, nil
}

// DefaultCacheDir is $KTRIAGE_CACHE/debuginfod, else
// $XDG_CACHE_HOME/ktriage/debuginfod (~/.cache/ktriage/debuginfod).
func DefaultCacheDir() string {
	if d := os.Getenv("KTRIAGE_CACHE"); d != "" {
		return filepath.Join(d, "debuginfod")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "ktriage", "debuginfod")
}

// CanFetch says whether a miss in the cache could be filled: some source
// is configured and fetching is on.
func (c *Client) CanFetch() bool {
	return c != nil && !c.Offline && (len(c.URLs) > 0 || len(c.PackageDirs) > 0)
}

func (c *Client) cacheDir() string {
	if c != nil && c.CacheDir != "" {
		return c.CacheDir
	}
	return DefaultCacheDir()
}

// NormalizeBuildID checks that id is a build-id (hex, 2 to 64 bytes) and
// returns it in lower case.
func NormalizeBuildID(id string) (string, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) < 4 || len(id) > 128 || len(id)%2 != 0 {
		return "", fmt.Errorf("build-id %q: not an even number of hex digits between 4 and 128", id)
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return "", fmt.Errorf("build-id %q: not hex", id)
		}
	}
	return id, nil
}

// Cached returns the file for id from the cache, without asking anyone.
func (c *Client) Cached(id string, kind Kind) (Result, bool) {
	id, err := NormalizeBuildID(id)
	if err != nil {
		return Result{}, false
	}
	p := filepath.Join(c.cacheDir(), id, string(kind))
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return Result{}, false // an empty file is a remembered miss
	}
	origin, _ := os.ReadFile(p + ".origin")
	return Result{Path: p, Origin: strings.TrimSpace(string(origin)), Cached: true, Size: fi.Size()}, true
}

// Fetch returns the file of kind for build-id id: from the cache, else
// from the package folders, else from the first server that has it. The
// file's own build-id is checked before it enters the cache. Every source
// that failed is named in the error; ErrNotFound when none has it.
func (c *Client) Fetch(ctx context.Context, id string, kind Kind) (Result, error) {
	id, err := NormalizeBuildID(id)
	if err != nil {
		return Result{}, err
	}
	if r, ok := c.Cached(id, kind); ok {
		return r, nil
	}
	if c.Offline {
		return Result{}, fmt.Errorf("%s of build-id %s: %w", kind, id, ErrOffline)
	}
	if at, ok := c.missRemembered(id, kind); ok {
		return Result{}, fmt.Errorf("%s of build-id %s: %w (a miss remembered since %s; cache_miss_s)", kind, id, ErrNotFound, at.Format(time.RFC3339))
	}
	return c.shared(ctx, id, kind, "", func() (Result, error) { return c.fetch(ctx, id, kind) })
}

// shared runs fetch once for concurrent callers asking for the same thing.
func (c *Client) shared(ctx context.Context, id string, kind Kind, how string, fetch func() (Result, error)) (Result, error) {
	key := id + "/" + string(kind) + "/" + how
	c.mu.Lock()
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.res, cl.err
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	cl := &call{done: make(chan struct{})}
	if c.inflight == nil {
		c.inflight = map[string]*call{}
	}
	c.inflight[key] = cl
	c.mu.Unlock()

	start := time.Now()
	cl.res, cl.err = fetch()
	if cl.err == nil && !cl.res.Cached {
		cl.res.Took = time.Since(start)
	}
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(cl.done)
	return cl.res, cl.err
}

// FetchLocal is Fetch without servers: the cache, then the debug packages
// in pkgDirs (besides PackageDirs). It never touches the network, and
// remembers no miss (a server may still have the file).
func (c *Client) FetchLocal(ctx context.Context, id string, kind Kind, pkgDirs []string) (Result, error) {
	id, err := NormalizeBuildID(id)
	if err != nil {
		return Result{}, err
	}
	if r, ok := c.Cached(id, kind); ok {
		return r, nil
	}
	dirs := append(append([]string(nil), c.PackageDirs...), pkgDirs...)
	if kind != Debuginfo || len(dirs) == 0 {
		return Result{}, fmt.Errorf("%s of build-id %s: %w in the cache", kind, id, ErrNotFound)
	}
	if c.Offline {
		return Result{}, fmt.Errorf("%s of build-id %s: %w", kind, id, ErrOffline)
	}
	return c.shared(ctx, id, kind, "local", func() (Result, error) {
		return c.fromPackages(ctx, id, dirs)
	})
}

// FetchError lists why each source could not give the file.
type FetchError struct {
	BuildID  string
	Kind     Kind
	Failures []error // one per source, each naming it
}

func (e *FetchError) Error() string {
	msgs := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		msgs[i] = f.Error()
	}
	return fmt.Sprintf("%s of build-id %s: %s", e.Kind, e.BuildID, strings.Join(msgs, "; "))
}

// Is reports ErrNotFound when every source said it does not have the file.
func (e *FetchError) Is(target error) bool {
	if target != ErrNotFound || len(e.Failures) == 0 {
		return false
	}
	for _, f := range e.Failures {
		if !errors.Is(f, ErrNotFound) {
			return false
		}
	}
	return true
}

func (c *Client) fetch(ctx context.Context, id string, kind Kind) (Result, error) {
	if len(c.URLs) == 0 && len(c.PackageDirs) == 0 {
		return Result{}, &FetchError{BuildID: id, Kind: kind,
			Failures: []error{errors.New("no debuginfod server (DEBUGINFOD_URLS) or package folder to ask")}}
	}
	dir := filepath.Join(c.cacheDir(), id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("debuginfo cache: %w", err)
	}
	removeStaleTemps(dir)
	fe := &FetchError{BuildID: id, Kind: kind}
	if kind == Debuginfo && len(c.PackageDirs) > 0 {
		r, err := c.fromPackages(ctx, id, c.PackageDirs)
		if err == nil {
			return r, nil
		}
		fe.Failures = append(fe.Failures, err)
	}
	if len(c.URLs) > 0 {
		r, errs := c.fromServers(ctx, id, kind, dir, c.URLs)
		if errs == nil {
			return r, nil
		}
		fe.Failures = append(fe.Failures, errs...)
	}
	if errors.Is(fe, ErrNotFound) {
		c.rememberMiss(id, kind)
	}
	return Result{}, fe
}

// serverError names the server a failure came from.
type serverError struct {
	URL string
	Err error
}

func (e *serverError) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *serverError) Unwrap() error { return e.Err }

// fromServers asks every server at once and downloads from the first that
// answers 200; if that download fails, the rest are tried the same way.
func (c *Client) fromServers(ctx context.Context, id string, kind Kind, dir string, urls []string) (Result, []error) {
	var failures []error
	for len(urls) > 0 {
		start := time.Now()
		resp, winner, errs := c.race(ctx, id, kind, urls)
		failures = append(failures, errs...)
		if resp == nil {
			return Result{}, failures
		}
		r, err := c.download(ctx, resp, id, kind, dir, winner, start)
		if err == nil {
			return r, nil
		}
		failures = append(failures, &serverError{URL: winner, Err: err})
		var rest []string
		for _, u := range urls {
			if u != winner && !failedAlready(errs, u) {
				rest = append(rest, u)
			}
		}
		urls = rest
	}
	return Result{}, failures
}

func failedAlready(errs []error, u string) bool {
	for _, e := range errs {
		var se *serverError
		if errors.As(e, &se) && se.URL == u {
			return true
		}
	}
	return false
}

// raced is one server's answer in a race.
type raced struct {
	url  string
	resp *http.Response
	err  error
}

// race sends the request to every server and returns the first 200
// response (its body still to be read) and the failures of the servers
// that answered before it. The other requests are cancelled at once.
func (c *Client) race(ctx context.Context, id string, kind Kind, urls []string) (*watchedResponse, string, []error) {
	ch := make(chan raced, len(urls))
	cancels := make(map[string]context.CancelCauseFunc, len(urls))
	for _, u := range urls {
		rctx, cancel := context.WithCancelCause(ctx)
		cancels[u] = cancel
		go func() {
			resp, err := c.get(rctx, cancel, u+"/buildid/"+id+"/"+string(kind))
			ch <- raced{url: u, resp: resp, err: err}
		}()
	}
	var failures []error
	for i := range urls {
		r := <-ch
		if r.err != nil {
			failures = append(failures, &serverError{URL: r.url, Err: r.err})
			cancels[r.url](nil)
			continue
		}
		for u, cancel := range cancels {
			if u != r.url {
				cancel(errLostRace)
			}
		}
		go func(left int) { // close the losers' answers as they come
			for range left {
				if l := <-ch; l.resp != nil {
					l.resp.Body.Close()
				}
			}
		}(len(urls) - 1 - i)
		return &watchedResponse{Response: r.resp, cancel: cancels[r.url]}, r.url, failures
	}
	return nil, "", failures
}

var errLostRace = errors.New("another server answered first")

type watchedResponse struct {
	*http.Response
	cancel context.CancelCauseFunc
}

// get sends one request under a watchdog; a non-200 answer is an error.
func (c *Client) get(ctx context.Context, cancel context.CancelCauseFunc, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "ktriage")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	// Until the headers arrive, the commencing timeout runs.
	var timer *time.Timer
	if c.Timeout > 0 {
		timer = time.AfterFunc(c.Timeout, func() {
			cancel(fmt.Errorf("no answer within %v (DEBUGINFOD_TIMEOUT)", c.Timeout))
		})
	}
	resp, err := hc.Do(req)
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			return nil, cause
		}
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp, nil
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, fmt.Errorf("%w (404)", ErrNotFound)
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
}

// download copies a 200 response into the cache: under a temporary name,
// checked (length, ELF, build-id), then renamed into place.
func (c *Client) download(ctx context.Context, resp *watchedResponse, id string, kind Kind, dir, from string, start time.Time) (Result, error) {
	defer resp.Body.Close()
	defer resp.cancel(nil)
	total := resp.ContentLength
	if s := resp.Header.Get("X-Debuginfod-Size"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			total = n
		}
	}
	if total < 0 {
		total = 0
	}
	wd := newWatchdog(c.Timeout, c.MaxTime, resp.cancel)
	defer wd.stop()
	prog := func(done int64, final bool) {
		if c.Progress != nil {
			c.Progress(Progress{BuildID: id, Kind: kind, From: from, Done: done, Total: total, Final: final, Elapsed: time.Since(start)})
		}
	}
	prog(0, false)
	body := &watchedReader{r: resp.Body, wd: wd, progress: prog}
	origin := from
	if a := resp.Header.Get("X-Debuginfod-Archive"); a != "" {
		origin += " (" + a + ")"
	}
	r, err := c.store(dir, id, kind, body, total, origin)
	prog(body.n, true)
	if err != nil {
		if cause := context.Cause(resp.Request.Context()); cause != nil && !errors.Is(cause, context.Canceled) {
			return Result{}, fmt.Errorf("%w after %d bytes", cause, body.n)
		}
		return Result{}, err
	}
	return r, nil
}

// watchdog cancels a download that sends its first 100 KiB too late,
// stalls longer than the timeout, or runs past MaxTime.
type watchdog struct {
	mu       sync.Mutex
	start    time.Time
	last     time.Time
	n        int64
	timeout  time.Duration
	maxTime  time.Duration
	cancel   context.CancelCauseFunc
	stopping chan struct{}
	once     sync.Once
}

func newWatchdog(timeout, maxTime time.Duration, cancel context.CancelCauseFunc) *watchdog {
	now := time.Now()
	w := &watchdog{start: now, last: now, timeout: timeout, maxTime: maxTime, cancel: cancel, stopping: make(chan struct{})}
	if timeout <= 0 && maxTime <= 0 {
		return w
	}
	tick := min(positive(timeout, maxTime)/4, time.Second)
	tick = max(tick, 5*time.Millisecond)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-w.stopping:
				return
			case now := <-t.C:
				if err := w.check(now); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	return w
}

func positive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

func (w *watchdog) check(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.maxTime > 0 && now.Sub(w.start) > w.maxTime:
		return fmt.Errorf("download not finished within %v (DEBUGINFOD_MAXTIME)", w.maxTime)
	case w.timeout > 0 && w.n < commenceBytes && now.Sub(w.start) > w.timeout:
		return fmt.Errorf("less than 100 KiB sent within %v (DEBUGINFOD_TIMEOUT)", w.timeout)
	case w.timeout > 0 && now.Sub(w.last) > w.timeout:
		return fmt.Errorf("download stalled for %v (DEBUGINFOD_TIMEOUT)", w.timeout)
	}
	return nil
}

func (w *watchdog) advance(n int) {
	w.mu.Lock()
	w.n += int64(n)
	w.last = time.Now()
	w.mu.Unlock()
}

func (w *watchdog) stop() { w.once.Do(func() { close(w.stopping) }) }

type watchedReader struct {
	r        io.Reader
	wd       *watchdog
	n        int64
	lastProg int64
	progress func(int64, bool)
}

func (r *watchedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.n += int64(n)
		r.wd.advance(n)
		if r.n-r.lastProg >= 1<<20 {
			r.lastProg = r.n
			r.progress(r.n, false)
		}
	}
	return n, err
}
