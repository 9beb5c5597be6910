//go:build unix

package lbstats_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/lbstats"
)

// tick paces the streaming backend.
const tick = 20 * time.Millisecond

// t0 is the time of the fixed clock the tests stamp reports with.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return t0 }

// routedConfig routes requests with the cookie strata_version=v2 to
// be_web_v2 and everything else to be_web_v1, the way strata's template
// does, and has a version of an app with a dash and two backends that are
// not versions.
func routedConfig(v1, v2 string) string {
	return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe_web
    bind 127.0.0.1:{{port}}
    use_backend be_web_v2 if { req.cook(strata_version) -m str v2 }
    default_backend be_web_v1
backend be_web_v1
    server s1 %s
backend be_web_v2
    server s1 %s
backend be_api-gw_1.10.0
    server s1 127.0.0.1:9
backend be_web_V1
    server s1 127.0.0.1:9
backend strata_stats
    server s1 127.0.0.1:9
`, v1, v2)
}

// streamingBackend starts an HTTP server on 127.0.0.1 that answers every
// request with a line per tick and never ends the stream by itself: only
// when the client goes away, the test ends, or a minute of ticks has passed.
func streamingBackend(t testing.TB) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		for i := 0; i < int(time.Minute/tick); i++ {
			if _, err := fmt.Fprintf(w, "tick %d\n", i); err != nil {
				return
			}
			f.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-stop:
				return
			case <-time.After(tick):
			}
		}
	}))
	t.Cleanup(func() {
		close(stop)
		srv.Close()
	})
	return srv.Listener.Addr().String()
}

func okBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "v2\n")
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// stream is a request held open through HAProxy.
type stream struct {
	lines  *bufio.Reader
	body   io.Closer
	cancel context.CancelFunc
	tr     *http.Transport
}

func openStream(t testing.TB, port int) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	tr := &http.Transport{}
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/recording", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET through HAProxy: %v", err)
	}
	s := &stream{lines: bufio.NewReader(resp.Body), body: resp.Body, cancel: cancel, tr: tr}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET through HAProxy: %s", resp.Status)
	}
	s.next(t)
	return s
}

// next reads the next line, proving the stream still flows.
func (s *stream) next(t testing.TB) {
	t.Helper()
	if _, err := s.lines.ReadString('\n'); err != nil {
		t.Fatalf("reading the stream through HAProxy: %v", err)
	}
}

func (s *stream) close() {
	s.cancel()
	s.body.Close()
	s.tr.CloseIdleConnections()
}

// getV2 makes one request that HAProxy routes to be_web_v2 and closes it.
func getV2(t *testing.T, port int) {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "strata_version", Value: "v2"})
	c := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET through HAProxy: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "v2\n" {
		t.Fatalf("GET with the v2 cookie through HAProxy = %q, want v2's answer", b)
	}
}

func collect(t *testing.T, m *haproxy.Master) lbstats.Report {
	t.Helper()
	r, err := lbstats.Collect(context.Background(), m, fixedClock, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// eventually checks cond every poll until it holds, failing the test after
// patience with the last reason cond gave.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(patience)
	var why string
	for i := 0; i < int(patience/poll)+1; i++ {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(poll)
	}
	t.Fatalf("%s: still not true after %v: %s", what, patience, why)
}

func TestCollectCountsAStreamHeldByAnOldWorkerAcrossThreeReloads(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, routedConfig(streamingBackend(t), okBackend(t)))
	m := p.Master()

	r := collect(t, m)
	want := lbstats.Report{
		Node:     "node-1",
		Time:     t0,
		Workers:  1,
		Versions: map[string]map[string]int{"web": {"v1": 0, "v2": 0}, "api-gw": {"1.10.0": 0}},
		Other:    map[string]int{"be_web_V1": 0, "strata_stats": 0},
	}
	got := lbstats.Report{Node: r.Node, Time: r.Time, Workers: r.Workers, Versions: r.Versions, Other: r.Other}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Collect of an idle HAProxy = %+v, want %+v", got, want)
	}
	if len(r.Processes) != 1 || !r.Processes[0].Current || r.Processes[0].Generation != 0 || r.MasterPID != p.PID {
		t.Errorf("Collect of an idle HAProxy: master %d, processes %+v; want master %d and one current worker of generation 0",
			r.MasterPID, r.Processes, p.PID)
	}

	s := openStream(t, p.Port)
	getV2(t, p.Port) // ends before it is counted
	r = collect(t, m)
	if r.Versions["web"]["v1"] != 1 || r.Versions["web"]["v2"] != 0 {
		t.Errorf("Collect with a stream open to v1 = %v, want web v1: 1, v2: 0", r.Versions)
	}

	var newest haproxy.Proc
	for i := 0; i < 3; i++ {
		w, err := p.Reload(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		newest = w
	}
	s.next(t) // an old worker still streams
	r = collect(t, m)
	if r.Versions["web"]["v1"] != 1 || r.Versions["web"]["v2"] != 0 || r.Workers < 2 {
		t.Errorf("Collect after three reloads = %d workers, %v; want web v1: 1 (in an old worker), v2: 0, more than one worker",
			r.Workers, r.Versions)
	}
	// Why old workers matter: the new worker alone says v1 is idle.
	rows, err := m.Stat(context.Background(), newest.PID)
	if err != nil {
		t.Fatal(err)
	}
	if n := haproxy.BackendSessions(rows)["be_web_v1"]; n != 0 {
		t.Errorf("the new worker's own stat counts %d sessions on be_web_v1, want 0", n)
	}

	// The sweeper reads the same numbers through the handler.
	srv := serve(t, func(ctx context.Context) (lbstats.Report, error) {
		return lbstats.Collect(ctx, m, fixedClock, "node-1")
	})
	fetched, err := lbstats.Fetch(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if fetched.Versions["web"]["v1"] != 1 || fetched.Node != "node-1" || !fetched.Time.Equal(t0) {
		t.Errorf("Fetch through the handler = %+v, want node-1 at %v with web v1: 1", fetched, t0)
	}

	s.close()
	eventually(t, "Collect reports web v1 idle once the client closed its stream", func() (bool, string) {
		r, err := lbstats.Collect(context.Background(), m, fixedClock, "node-1")
		if err != nil {
			return false, err.Error()
		}
		return r.Versions["web"]["v1"] == 0, fmt.Sprintf("%d workers, %v", r.Workers, r.Versions)
	})
}

func TestHandlerAnswers503NotZerosOnceTheMasterIsGone(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, routedConfig(okBackend(t), okBackend(t)))
	// A short timeout: a master that is gone is retried until it passes.
	m := &haproxy.Master{Socket: p.MasterSocket, Timeout: 300 * time.Millisecond}
	srv := serve(t, func(ctx context.Context) (lbstats.Report, error) {
		return lbstats.Collect(ctx, m, fixedClock, "node-1")
	})
	if code, _, body := get(t, srv, "/healthz"); code != http.StatusOK {
		t.Fatalf("GET /healthz while HAProxy runs = %d %s", code, body)
	}
	if _, err := lbstats.Fetch(context.Background(), srv.Client(), srv.URL); err != nil {
		t.Fatalf("Fetch while HAProxy runs: %v", err)
	}

	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "/healthz answers 503 once the master is gone", func() (bool, string) {
		code, _, body := get(t, srv, "/healthz")
		return code == http.StatusServiceUnavailable, fmt.Sprintf("%d %s", code, body)
	})
	code, _, body := get(t, srv, "/sessions")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"error"`) || strings.Contains(body, "versions") {
		t.Errorf("GET /sessions without a master = %d %s, want 503 with an error and no numbers", code, body)
	}
	_, err := lbstats.Fetch(context.Background(), srv.Client(), srv.URL)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), p.MasterSocket) {
		t.Errorf("Fetch without a master: %v, want an error with 503 and the socket %s", err, p.MasterSocket)
	}
}

func TestCollectThroughASocketThatIsNotThereFails(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), lbstats.MasterSocketName)
	m := &haproxy.Master{Socket: sock, Timeout: 100 * time.Millisecond}
	r, err := lbstats.Collect(context.Background(), m, fixedClock, "node-1")
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("Collect through %s = %+v, %v; want an error naming the socket", sock, r, err)
	}
	srv := serve(t, func(ctx context.Context) (lbstats.Report, error) {
		return lbstats.Collect(ctx, m, fixedClock, "node-1")
	})
	if code, _, body := get(t, srv, "/sessions"); code != http.StatusServiceUnavailable || !strings.Contains(body, sock) {
		t.Errorf("GET /sessions = %d %s, want 503 naming %s", code, body, sock)
	}
}

func TestServeServesReportsUntilItsContextEnds(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, routedConfig(okBackend(t), okBackend(t)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- lbstats.Serve(ctx, lbstats.Options{
			Master: p.Master(), Listen: "127.0.0.1:0", Node: "node-7", Now: fixedClock,
			Ready: func(a net.Addr) { ready <- a },
		})
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatalf("Serve returned before it was ready: %v", err)
	case <-time.After(patience):
		t.Fatal("Serve was not ready in time")
	}
	r, err := lbstats.Fetch(context.Background(), &http.Client{Timeout: patience}, "http://"+addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Node != "node-7" || !r.Time.Equal(t0) || r.Workers != 1 || r.Versions["web"]["v1"] != 0 {
		t.Errorf("Fetch from Serve = %+v", r)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after its context ended: %v, want nil", err)
		}
	case <-time.After(patience):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := lbstats.Fetch(context.Background(), &http.Client{Timeout: patience}, "http://"+addr.String()); err == nil {
		t.Error("Fetch after Serve returned still got a report")
	}
}

func TestServeRefusesIncompleteOptions(t *testing.T) {
	t.Parallel()
	m := &haproxy.Master{Socket: "/nonexistent/" + lbstats.MasterSocketName}
	for _, tc := range []struct {
		name string
		opts lbstats.Options
		want string
	}{
		{"no master", lbstats.Options{Listen: "127.0.0.1:0", Node: "n"}, "no HAProxy master socket"},
		{"a master without a socket", lbstats.Options{Master: &haproxy.Master{}, Listen: "127.0.0.1:0", Node: "n"}, "no HAProxy master socket"},
		{"no address", lbstats.Options{Master: m, Node: "n"}, "no address"},
		{"no node", lbstats.Options{Master: m, Listen: "127.0.0.1:0"}, "no node"},
		{"an address that is not one", lbstats.Options{Master: m, Listen: "127.0.0.1", Node: "n"}, "missing port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			err := lbstats.Serve(ctx, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Serve = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
