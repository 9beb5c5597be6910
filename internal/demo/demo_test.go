package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// tick paces streams in tests: short, so the package runs in well under a
// second or two, and long enough that pacing is measurable.
const tick = 20 * time.Millisecond

// patience bounds every wait in these tests.
const patience = 5 * time.Second

// client has its own transport, so a test can close its connections, and a
// timeout that bounds every request including reading its body.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: patience}
}

func get(t *testing.T, c *http.Client, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(body)
}

// serving is a demo.Serve running for one test.
type serving struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// serve runs Serve on a free loopback port and returns once it accepts
// connections. Cleanup stops it if the test has not.
func serve(t *testing.T, opts Options) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Tick == 0 {
		opts.Tick = tick
	}
	opts.Ready = func(a net.Addr) { ready <- a }
	s := &serving{cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- Serve(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(patience):
			t.Errorf("Serve did not return within %s of cancel", patience)
		}
	})
	select {
	case a := <-ready:
		s.addr = a.String()
	case err := <-s.done:
		t.Fatalf("Serve returned before it was ready: %v", err)
	case <-time.After(patience):
		t.Fatalf("Serve not ready within %s", patience)
	}
	return s
}

// stop cancels Serve's context and returns what Serve returned.
func (s *serving) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	return s.wait(t)
}

// wait returns what Serve returned, once its context is cancelled.
func (s *serving) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		return err
	case <-time.After(patience):
		t.Fatalf("Serve did not return within %s of cancel", patience)
		return nil
	}
}

// lines reads a text stream to its end, at most max lines.
func lines(t *testing.T, r io.Reader, max int) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for len(out) < max && sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Errorf("reading stream after %q: %v", out, err)
	}
	return out
}

func TestAnyPathAnswersWithVersionNameAndPath(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v1.2", Name: "web-a"}))
	defer ts.Close()
	c := client(t)

	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/", "version=v1.2 name=web-a path=/\n"},
		{"GET", "/app/page?q=1", "version=v1.2 name=web-a path=/app/page\n"},
		{"POST", "/submit", "version=v1.2 name=web-a path=/submit\n"},
		{"GET", "/a%20b", "version=v1.2 name=web-a path=/a%20b\n"},
		{"GET", "/healthz/", "version=v1.2 name=web-a path=/healthz/\n"},
	} {
		resp, body := get(t, c, tc.method, ts.URL+tc.path)
		if resp.StatusCode != http.StatusOK || body != tc.body {
			t.Errorf("%s %s = %d %q, want 200 %q", tc.method, tc.path, resp.StatusCode, body, tc.body)
		}
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
			t.Errorf("%s %s: Content-Type %q, want text/plain", tc.method, tc.path, got)
		}
	}
}

func TestEveryResponseNamesTheVersionAndInstance(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v2", Name: "node1:4000", Tick: tick}))
	defer ts.Close()
	c := client(t)

	for _, path := range []string{"/", "/healthz", "/stream?ticks=0", "/set-cookie?name=a&value=b", "/nowhere"} {
		resp, _ := get(t, c, "GET", ts.URL+path)
		if v, n := resp.Header.Get(VersionHeader), resp.Header.Get(NameHeader); v != "v2" || n != "node1:4000" {
			t.Errorf("GET %s: %s=%q %s=%q, want v2 and node1:4000", path, VersionHeader, v, NameHeader, n)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store so no cache mixes versions", path, cc)
		}
	}
}

func TestHandlerNamesTheInstanceDemoByDefault(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v1"}))
	defer ts.Close()
	resp, body := get(t, client(t), "GET", ts.URL+"/x")
	if body != "version=v1 name=demo path=/x\n" || resp.Header.Get(NameHeader) != DefaultName {
		t.Errorf("GET /x = %q with name header %q, want name demo", body, resp.Header.Get(NameHeader))
	}
}

func TestServeNamesTheInstanceAfterTheHostAndPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		hostname func() (string, error)
		wantHost string
	}{
		{"the hostname when it is known", func() (string, error) { return "node7", nil }, "node7"},
		{"demo when the hostname is unknown", func() (string, error) { return "", errors.New("no hostname") }, "demo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, Options{Version: "v1", Hostname: tc.hostname})
			_, port, _ := net.SplitHostPort(s.addr)
			resp, _ := get(t, client(t), "GET", "http://"+s.addr+"/")
			if got, want := resp.Header.Get(NameHeader), tc.wantHost+":"+port; got != want {
				t.Errorf("name = %q, want %q", got, want)
			}
		})
	}
}

func TestHealthzFailsAfterFailUntilPass(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v1"}))
	defer ts.Close()
	c := client(t)
	check := func(step string, wantCode int, wantBody string) {
		t.Helper()
		resp, body := get(t, c, "GET", ts.URL+"/healthz")
		if resp.StatusCode != wantCode || body != wantBody {
			t.Errorf("%s: GET /healthz = %d %q, want %d %q", step, resp.StatusCode, body, wantCode, wantBody)
		}
	}
	toggle := func(path string) {
		t.Helper()
		if resp, body := get(t, c, "POST", ts.URL+path); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s = %d %q", path, resp.StatusCode, body)
		}
	}

	check("at start", http.StatusOK, "ok\n")
	toggle("/healthz/fail")
	check("after fail", http.StatusServiceUnavailable, "failing\n")
	toggle("/healthz/fail")
	check("after fail twice", http.StatusServiceUnavailable, "failing\n")
	toggle("/healthz/pass")
	check("after pass", http.StatusOK, "ok\n")

	if resp, _ := get(t, c, "GET", ts.URL+"/healthz/fail"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /healthz/fail = %d Allow %q, want 405 Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	check("after a refused GET /healthz/fail", http.StatusOK, "ok\n")
}

func TestOtherMethodsOnEndpointsAreRefused(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v1"}))
	defer ts.Close()
	c := client(t)
	for _, path := range []string{"/healthz", "/stream", "/ws", "/set-cookie"} {
		resp, _ := get(t, c, "POST", ts.URL+path)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s = %d Allow %q, want 405 Allow GET, HEAD", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

func TestSetCookieSetsAndClearsTheNamedCookie(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v1"}))
	defer ts.Close()
	c := client(t)

	for _, tc := range []struct {
		query, wantCookie string
		wantCode          int
	}{
		{"name=strata_version&value=v2", "strata_version=v2; Path=/", http.StatusOK},
		{"name=strata_version&value=", "strata_version=; Path=/; Max-Age=0", http.StatusOK},
		{"name=strata_version", "strata_version=; Path=/; Max-Age=0", http.StatusOK},
		{"value=v2", "", http.StatusBadRequest},
		{"name=bad%20name&value=v2", "", http.StatusBadRequest},
		{"name=strata_version&value=a%3Bb", "", http.StatusBadRequest},
	} {
		resp, body := get(t, c, "GET", ts.URL+"/set-cookie?"+tc.query)
		got := strings.Join(resp.Header.Values("Set-Cookie"), " | ")
		if resp.StatusCode != tc.wantCode || got != tc.wantCookie {
			t.Errorf("?%s = %d Set-Cookie %q (body %q), want %d %q", tc.query, resp.StatusCode, got, body, tc.wantCode, tc.wantCookie)
		}
	}
}

func TestStreamWritesATickLinePerTickAndStopsAfterTicks(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v3", Name: "n", Tick: tick}))
	defer ts.Close()

	resp, err := client(t).Get(ts.URL + "/stream?ticks=3")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("Content-Type %q, Transfer-Encoding %q, want text/plain, chunked", ct, resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "version=v3 name=n tick=0\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	start := time.Now()
	rest := lines(t, br, 10)
	elapsed := time.Since(start)
	if want := []string{"tick=1", "tick=2", "tick=3", "bye"}; strings.Join(rest, "\n") != strings.Join(want, "\n") {
		t.Errorf("after the first line got %q, want %q", rest, want)
	}
	// Three ticks cannot arrive sooner than three Ticks after the ticker
	// started, which is just after the first line was sent.
	if elapsed < 2*tick {
		t.Errorf("3 ticks arrived within %s; they should be paced %s apart", elapsed, tick)
	}
}

func TestStreamFlushesTheFirstLineAtOnce(t *testing.T) {
	t.Parallel()
	// With an hour-long tick, only flushing can deliver the first line.
	ts := httptest.NewServer(Handler(Options{Version: "v1", Name: "n", Tick: time.Hour}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/stream", nil)
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || first != "version=v1 name=n tick=0\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
}

func TestStreamRefusesTicksThatAreNotAWholeNumber(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v1", Tick: tick}))
	defer ts.Close()
	c := client(t)
	for _, q := range []string{"ticks=-1", "ticks=x", "ticks=", "ticks=1.5"} {
		for _, path := range []string{"/stream", "/ws"} {
			if resp, body := get(t, c, "GET", ts.URL+path+"?"+q); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET %s?%s = %d %q, want 400", path, q, resp.StatusCode, body)
			}
		}
	}
	if resp, body := get(t, c, "GET", ts.URL+"/stream?ticks=0"); body != "version=v1 name=demo tick=0\nbye\n" {
		t.Errorf("ticks=0 = %d %q, want the first line and bye", resp.StatusCode, body)
	}
}

func TestStreamEndsWithByeWhenTheServerShutsDown(t *testing.T) {
	t.Parallel()
	s := serve(t, Options{Version: "v1", Name: "n"})
	resp, err := client(t).Get("http://" + s.addr + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{"version=v1 name=n tick=0\n", "tick=1\n", "tick=2\n"} {
		if got, err := br.ReadString('\n'); got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Serve = %v, want nil after a clean shutdown", err)
	}
	rest := lines(t, br, 100)
	if len(rest) == 0 || rest[len(rest)-1] != "bye" {
		t.Errorf("after shutdown the stream went on with %q, want it to end with bye", rest)
	}
}

func TestWebsocketSendsAMessagePerTickThenByeAndCloses(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v4", Name: "n", Tick: tick}))
	defer ts.Close()
	d := websocket.Dialer{HandshakeTimeout: patience}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/ws?ticks=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if resp.Header.Get(VersionHeader) != "v4" || resp.Header.Get(NameHeader) != "n" {
		t.Errorf("handshake headers %v, want the version and name", resp.Header)
	}
	conn.SetReadDeadline(time.Now().Add(patience))
	var got []string
	for range 10 {
		kind, msg, err := conn.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Errorf("after %q: %v, want a normal close", got, err)
			}
			break
		}
		if kind != websocket.TextMessage {
			t.Errorf("message %q is of type %d, want text", msg, kind)
		}
		got = append(got, string(msg))
	}
	if want := []string{"version=v4 name=n tick=0", "tick=1", "tick=2", "bye"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("messages %q, want %q", got, want)
	}
}

func TestWebsocketEndsWithByeAndGoingAwayWhenTheServerShutsDown(t *testing.T) {
	t.Parallel()
	s := serve(t, Options{Version: "v1", Name: "n"})
	d := websocket.Dialer{HandshakeTimeout: patience}
	conn, _, err := d.Dial("ws://"+s.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(patience))
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "version=v1 name=n tick=0" {
		t.Fatalf("first message %q, %v", msg, err)
	}

	s.cancel()
	var last string
	for range 1000 {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Errorf("stream ended with %v, want close 1001 (going away)", err)
			}
			break
		}
		last = string(msg)
	}
	if last != "bye" {
		t.Errorf("last message %q, want bye", last)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestServeWaitsForAWebsocketWhoseClientDoesNotAnswerTheClose(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := serve(t, Options{Version: "v1", Name: "n", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	d := websocket.Dialer{HandshakeTimeout: patience}
	conn, _, err := d.Dial("ws://"+s.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(patience))
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	s.cancel()
	// Read up to bye and then no further, so the close message is never
	// answered and the server gives up on it only after finalTimeout.
	for n := 0; n < 1000; n++ {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("before bye: %v", err)
		}
		if string(msg) == "bye" {
			break
		}
	}
	if err := s.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if !strings.Contains(logs.String(), "path=/ws status=101") {
		t.Errorf("Serve returned before the websocket's handler did; log:\n%s", logs.String())
	}
}

func TestShutdownEndsEveryStreamAndLeavesNoGoroutines(t *testing.T) {
	// Not parallel: it counts goroutines.
	const streams, sockets = 20, 5
	before := runtime.NumGoroutine()
	var logs syncBuffer
	s := serve(t, Options{Version: "v1", Name: "n", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := client(t)

	type ending struct {
		last string
		err  error
	}
	ended := make(chan ending, streams+sockets)
	var started sync.WaitGroup
	for range streams {
		started.Add(1)
		go func() {
			resp, err := c.Get("http://" + s.addr + "/stream")
			if err != nil {
				started.Done()
				ended <- ending{err: err}
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Scan()
			started.Done()
			last := sc.Text()
			for n := 0; n < 1000 && sc.Scan(); n++ {
				last = sc.Text()
			}
			ended <- ending{last, sc.Err()}
		}()
	}
	d := websocket.Dialer{HandshakeTimeout: patience}
	for range sockets {
		started.Add(1)
		go func() {
			conn, _, err := d.Dial("ws://"+s.addr+"/ws", nil)
			if err != nil {
				started.Done()
				ended <- ending{err: err}
				return
			}
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(patience))
			_, msg, err := conn.ReadMessage()
			started.Done()
			last := string(msg)
			for n := 0; n < 1000 && err == nil; n++ {
				if _, msg, err = conn.ReadMessage(); err == nil {
					last = string(msg)
				}
			}
			if websocket.IsCloseError(err, websocket.CloseGoingAway) {
				err = nil
			}
			ended <- ending{last, err}
		}()
	}
	started.Wait()

	begin := time.Now()
	if err := s.stop(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	// Every handler logs its request as it returns; Serve must wait for
	// all of them, websockets included, which http.Server does not track.
	if n := strings.Count(logs.String(), "msg=request"); n != streams+sockets {
		t.Errorf("%d of %d requests had finished when Serve returned", n, streams+sockets)
	}
	timeout := time.After(patience)
	for i := range streams + sockets {
		select {
		case e := <-ended:
			if e.err != nil || e.last != "bye" {
				t.Errorf("a stream ended with %q, %v; want bye", e.last, e.err)
			}
		case <-timeout:
			t.Fatalf("%d of %d streams still running %s after shutdown", streams+sockets-i, streams+sockets, patience)
		}
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("shutdown took %s with %d streams open, want well under 2s", took, streams+sockets)
	}

	c.Transport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(patience)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before Serve, %d after it returned:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestServeReturnsNilWhenItsContextIsCancelled(t *testing.T) {
	t.Parallel()
	s := serve(t, Options{Version: "v1"})
	if err := s.stop(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if conn, err := net.DialTimeout("tcp", s.addr, patience); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Serve returned", s.addr)
	}
}

func TestServeReturnsTheListenErrorWhenTheAddressIsInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	err = Serve(ctx, Options{Version: "v1", Listen: ln.Addr().String()})
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Serve on a busy address = %v, want EADDRINUSE naming %s", err, ln.Addr())
	}
}

func TestServeRefusesInvalidOptions(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"a version outside the grammar", Options{Version: "V_2", Listen: "127.0.0.1:0"}, `"V_2" is not valid`},
		{"no version", Options{Listen: "127.0.0.1:0"}, `"" is not valid`},
		{"no address", Options{Version: "v1"}, "no address"},
		{"a negative tick", Options{Version: "v1", Listen: "127.0.0.1:0", Tick: -time.Second}, "negative"},
		{"a fail rate above 1", Options{Version: "v1", Listen: "127.0.0.1:0", FailRate: 1.5}, "fail rate 1.5"},
		{"a negative fail rate", Options{Version: "v1", Listen: "127.0.0.1:0", FailRate: -0.1}, "fail rate -0.1"},
		{"a negative latency", Options{Version: "v1", Listen: "127.0.0.1:0", Latency: -time.Second}, "latency -1s"},
	} {
		if err := Serve(ctx, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Serve = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer that handlers may write while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTheRequestLogTimesRequestsOnTheInjectedClock(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { // each reading is 1.5s after the last
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(1500 * time.Millisecond)
		return now
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "remote" {
				return slog.Attr{}
			}
			return a
		},
	}))
	ts := httptest.NewServer(Handler(Options{Version: "v1", Now: clock, Logger: logger}))
	defer ts.Close()
	get(t, client(t), "GET", ts.URL+"/healthz")
	get(t, client(t), "POST", ts.URL+"/healthz/fail")
	get(t, client(t), "GET", ts.URL+"/healthz")

	want := `level=INFO msg=request method=GET path=/healthz status=200 elapsed=1.5s
level=INFO msg="health check changed" failing=true
level=INFO msg=request method=POST path=/healthz/fail status=200 elapsed=1.5s
level=INFO msg=request method=GET path=/healthz status=503 elapsed=1.5s
`
	if got := logs.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}
