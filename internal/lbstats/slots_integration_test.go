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
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/lbstats"
)

// slotConfig is routing the way strata's slot templates do it: the cookie
// strata_version picks a slot through versions.map, anything else goes to
// slot 1, and every slot names its version in a response header from
// slots.map (which is also what makes HAProxy load slots.map). Slots 1 to 3
// have one server each, at the given addresses.
func slotConfig(s1, s2, s3 string) string {
	slot := func(n int, addr string) string {
		return fmt.Sprintf(`backend be_web_%d
    http-response set-header X-Strata-Version %%[be_name,map({{dir}}/slots.map)]
    server s1 %s
`, n, addr)
	}
	return `global
    stats socket {{admin}} mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe_web
    bind 127.0.0.1:{{port}}
    use_backend %[req.cook(strata_version),map({{dir}}/versions.map)] if { req.cook(strata_version),map({{dir}}/versions.map) -m found }
    default_backend be_web_1
` + slot(1, s1) + slot(2, s2) + slot(3, s3) + `backend strata_stats
    server s1 127.0.0.1:9
`
}

// cookieStream opens a streaming request through HAProxy with the version
// cookie set to version ("" for none), checks that the slot answering it
// says wantVersion (<app>/<version>), and reads its first line.
func cookieStream(t *testing.T, port int, version, wantVersion string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	tr := &http.Transport{}
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/recording", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	if version != "" {
		req.AddCookie(&http.Cookie{Name: "strata_version", Value: version})
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET through HAProxy: %v", err)
	}
	s := &stream{lines: bufio.NewReader(resp.Body), body: resp.Body, cancel: cancel, tr: tr}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Strata-Version") != wantVersion {
		t.Fatalf("GET through HAProxy with version %q: %s from %q, want 200 from %s", version, resp.Status, resp.Header.Get("X-Strata-Version"), wantVersion)
	}
	s.next(t)
	return s
}

// sessionsOf returns the sessions part of r, for comparisons.
func sessionsOf(r lbstats.Report) (map[string]map[string]int, map[string]int) {
	return r.Versions, r.Other
}

// backendsOf returns, per worker PID, the version each backend serves and
// its sessions, as "web/v1:1".
func backendsOf(r lbstats.Report) map[int]map[string]string {
	out := map[int]map[string]string{}
	for _, p := range r.Processes {
		out[p.PID] = map[string]string{}
		for name, b := range p.Backends {
			out[p.PID][name] = fmt.Sprintf("%s/%s:%d", b.App, b.Version, b.Sessions)
		}
	}
	return out
}

func TestCollectAttributesSlotsPerWorkerThroughEachWorkersSlotsMap(t *testing.T) {
	t.Parallel()
	backend := streamingBackend(t)
	p := haproxytest.Start(t, slotConfig(backend, backend, "127.0.0.1:9"),
		haproxytest.WithFile("slots.map", "be_web_1 web/v1\nbe_web_2 web/v2\n"),
		haproxytest.WithFile("versions.map", "v1 be_web_1\nv2 be_web_2\n"))
	m := p.Master()
	old := collect(t, m)
	oldPID := old.Processes[0].PID

	// A recording on v1, in slot 1 of the first worker.
	cookieStream(t, p.Port, "", "web/v1")
	// Slot 1 now serves v3 in the next worker; v1 is gone from it.
	p.WriteFile("slots.map", "be_web_1 web/v3\nbe_web_2 web/v2\n")
	p.WriteFile("versions.map", "v3 be_web_1\nv2 be_web_2\n")
	cur, err := p.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cookieStream(t, p.Port, "v2", "web/v2")
	cookieStream(t, p.Port, "", "web/v3")

	r := collect(t, m)
	if err := r.ValidateTraffic(); err != nil {
		t.Fatal(err)
	}
	versions, other := sessionsOf(r)
	wantVersions := map[string]map[string]int{"web": {"v1": 1, "v2": 1, "v3": 1}}
	if !reflect.DeepEqual(versions, wantVersions) || !reflect.DeepEqual(other, map[string]int{"be_web_3": 0, "strata_stats": 0}) {
		t.Errorf("Collect after slot 1 moved from v1 to v3 = versions %v, other %v; want %v and be_web_3, strata_stats idle",
			versions, other, wantVersions)
	}
	wantBackends := map[int]map[string]string{
		oldPID:  {"be_web_1": "web/v1:1", "be_web_2": "web/v2:0"},
		cur.PID: {"be_web_1": "web/v3:1", "be_web_2": "web/v2:1"},
	}
	if got := backendsOf(r); !reflect.DeepEqual(got, wantBackends) {
		t.Errorf("backends per worker = %v, want %v", got, wantBackends)
	}
	if r.Workers != 2 || !r.Processes[0].Current || r.Processes[0].PID != cur.PID || r.Processes[0].Generation != 1 ||
		r.Processes[1].Current || r.Processes[1].Generation != 0 || r.Reloads != 1 {
		t.Errorf("processes %+v, reloads %d; want the current worker %d of generation 1, then the old one of generation 0",
			r.Processes, r.Reloads, cur.PID)
	}

	// The runtime API changes the current worker's map only: what it
	// says now is what counts, in that worker alone.
	if out, err := m.Command(context.Background(), fmt.Sprintf("@!%d set map %s/slots.map be_web_2 web/v4", cur.PID, p.Dir)); err != nil || out != "\n" {
		t.Fatalf("set map: %q, %v", out, err)
	}
	r = collect(t, m)
	wantVersions = map[string]map[string]int{"web": {"v1": 1, "v2": 0, "v3": 1, "v4": 1}}
	if !reflect.DeepEqual(r.Versions, wantVersions) {
		t.Errorf("Collect after set map be_web_2 web/v4 in the current worker = %v, want %v (v2 still in the old worker's map, idle)",
			r.Versions, wantVersions)
	}

	// A slot holding sessions that its worker's slots.map no longer
	// assigns makes the count fail: nobody can say whose they are.
	if out, err := m.Command(context.Background(), fmt.Sprintf("@!%d del map %s/slots.map be_web_2", cur.PID, p.Dir)); err != nil || out != "\n" {
		t.Fatalf("del map: %q, %v", out, err)
	}
	got, err := lbstats.Collect(context.Background(), m, fixedClock, "node-1")
	want := fmt.Sprintf("worker %d: slot be_web_2 holds 1 sessions but the worker has no entry for it in %s/slots.map", cur.PID, p.Dir)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Collect with a slot in use and unassigned = %+v, %v; want an error containing %q", got, err, want)
	}
}

func TestCollectCountsSessionsOnAServerInMaintenance(t *testing.T) {
	t.Parallel()
	backend := streamingBackend(t)
	p := haproxytest.Start(t, slotConfig(backend, backend, "127.0.0.1:9"),
		haproxytest.WithFile("slots.map", "be_web_1 web/v1\nbe_web_2 web/v2\n"),
		haproxytest.WithFile("versions.map", "v1 be_web_1\nv2 be_web_2\n"))
	m := p.Master()
	s := cookieStream(t, p.Port, "v2", "web/v2")
	// The apply step puts a server that leaves Consul in maintenance and
	// frees it only once it holds nothing: its sessions must still count.
	if out, err := m.Command(context.Background(), "@1 set server be_web_2/s1 state maint"); err != nil || out != "\n" {
		t.Fatalf("set server be_web_2/s1 state maint: %q, %v", out, err)
	}
	rows, err := m.Stat(context.Background(), collect(t, m).Processes[0].PID)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.PxName == "be_web_2" && row.Type == haproxy.TypeServer && (row.Status != "MAINT" || row.Scur != 1) {
			t.Fatalf("be_web_2/s1 is %s with %d sessions, want MAINT with 1", row.Status, row.Scur)
		}
	}
	s.next(t) // still streaming
	r := collect(t, m)
	if r.Versions["web"]["v2"] != 1 {
		t.Errorf("Collect with v2's stream on a server in maintenance = %v, want web v2: 1", r.Versions)
	}
	s.close()
	eventually(t, "v2 idle once its stream closed", func() (bool, string) {
		r, err := lbstats.Collect(context.Background(), m, fixedClock, "node-1")
		if err != nil {
			return false, err.Error()
		}
		return r.Versions["web"]["v2"] == 0, fmt.Sprint(r.Versions)
	})
}

// failingBackend answers 500 to every fifth request and 200 otherwise.
func failingBackend(t *testing.T) string {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			http.Error(w, "failing", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// hangingUpBackend accepts connections and closes them without a word once
// it has read a request.
func hangingUpBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(patience))
			bufio.NewReader(c).ReadString('\n')
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// request makes one request through HAProxy with the version cookie and
// returns the status.
func request(t *testing.T, port int, version string) int {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "strata_version", Value: version})
	c := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET through HAProxy: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestCollectCountsResponses5xxAndErrorsPerVersionAndStartsAgainInANewWorker(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, slotConfig(failingBackend(t), closedPort(t), hangingUpBackend(t)),
		haproxytest.WithFile("slots.map", "be_web_1 web/v1\nbe_web_2 web/v2\nbe_web_3 web/v3\n"),
		haproxytest.WithFile("versions.map", "v1 be_web_1\nv2 be_web_2\nv3 be_web_3\n"))
	m := p.Master()
	statuses := map[int]int{}
	for i := 0; i < 10; i++ {
		statuses[request(t, p.Port, "v1")]++
	}
	statuses[request(t, p.Port, "v2")]++
	statuses[request(t, p.Port, "v3")]++
	if want := map[int]int{200: 8, 500: 2, 503: 1, 502: 1}; !reflect.DeepEqual(statuses, want) {
		t.Fatalf("statuses through HAProxy = %v, want %v", statuses, want)
	}
	r := collect(t, m)
	if err := r.ValidateTraffic(); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]lbstats.Traffic{"web": {
		"v1": {Requests: 10, Responses5xx: 2},
		// HAProxy's own 503 after the connection was refused (and
		// retried): a response, a 5xx, one connection error.
		"v2": {Requests: 1, Responses5xx: 1, ConnectionErrors: 1},
		// HAProxy's own 502 after the server hung up: a response, a 5xx,
		// one response error.
		"v3": {Requests: 1, Responses5xx: 1, ResponseErrors: 1},
	}}
	if !reflect.DeepEqual(r.Traffic, want) {
		t.Errorf("traffic = %+v, want %+v", r.Traffic, want)
	}
	first := r.Processes[0]

	// A reload starts a worker whose counters start at 0; the old one,
	// holding nothing, exits.
	cur, err := p.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	request(t, p.Port, "v1")
	eventually(t, "the report shows the new worker alone", func() (bool, string) {
		r, err = lbstats.Collect(context.Background(), m, fixedClock, "node-1")
		if err != nil {
			return false, err.Error()
		}
		return r.Workers == 1, fmt.Sprintf("%+v", r.Processes)
	})
	p1 := r.Processes[0]
	if p1.PID != cur.PID || p1.PID == first.PID || p1.Generation != first.Generation+1 || !p1.Current {
		t.Errorf("after a reload: process %+v, want the current worker %d of generation %d", p1, cur.PID, first.Generation+1)
	}
	if got := r.Traffic["web"]["v1"]; got.Requests != 1 {
		t.Errorf("web v1 after a reload and one request = %+v, want 1 request: a new worker counts from 0", got)
	}
}

// upgradingBackend answers every request with 101 Switching Protocols and
// then one line, as a websocket handshake followed by a frame would.
func upgradingBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		// The accept value of the key the test sends (RFC 6455, 1.3): HAProxy
		// checks it.
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nhello\n")
		buf.Flush()
		c.SetReadDeadline(time.Now().Add(patience))
		buf.ReadByte() // until the client goes away
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestCollectCountsAWebsocketWhenItEnds: HAProxy 2.6.12 counts a
// backend's requests and responses when the transaction ends, so an open
// websocket (or any stream) is a session but not yet a response.
func TestCollectCountsAWebsocketWhenItEnds(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, slotConfig(upgradingBackend(t), closedPort(t), closedPort(t)),
		haproxytest.WithFile("slots.map", "be_web_1 web/v1\n"),
		haproxytest.WithFile("versions.map", "v1 be_web_1\n"))
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(patience))
	fmt.Fprint(c, "GET /ws HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	rd := bufio.NewReader(c)
	status, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101") {
		t.Fatalf("upgrade through HAProxy: %q, %v", status, err)
	}
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "hello\n" {
			break
		}
	}
	// The tunnel is open: one session, and no response counted yet.
	r := collect(t, p.Master())
	if got := r.Traffic["web"]["v1"]; got != (lbstats.Traffic{}) || r.Versions["web"]["v1"] != 1 {
		t.Errorf("an open websocket: traffic %+v, sessions %d; want no response yet and 1 session", got, r.Versions["web"]["v1"])
	}
	c.Close()
	eventually(t, "the closed websocket counted", func() (bool, string) {
		r, err := lbstats.Collect(context.Background(), p.Master(), fixedClock, "node-1")
		if err != nil {
			return false, err.Error()
		}
		return r.Versions["web"]["v1"] == 0, fmt.Sprintf("%+v, %d sessions", r.Traffic["web"]["v1"], r.Versions["web"]["v1"])
	})
	r = collect(t, p.Master())
	if got, want := r.Traffic["web"]["v1"], (lbstats.Traffic{Requests: 1}); got != want {
		t.Errorf("a closed websocket: traffic %+v, want %+v: its 101 is its one response", got, want)
	}
}

func TestServeExposesTheApplyStepsCounters(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, slotConfig("127.0.0.1:9", "127.0.0.1:9", "127.0.0.1:9"),
		haproxytest.WithFile("slots.map", "be_web_1 web/v1\n"), haproxytest.WithFile("versions.map", "v1 be_web_1\n"))
	counters := filepath.Join(t.TempDir(), applystats.CopyName)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- lbstats.Serve(ctx, lbstats.Options{Master: p.Master(), Listen: "127.0.0.1:0", Node: "node-1", Now: fixedClock,
			ApplyStats: counters, Ready: func(a net.Addr) { ready <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatalf("Serve: %v", err)
	case <-time.After(patience):
		t.Fatal("Serve was not ready in time")
	}
	metrics := func() (int, string) {
		resp, err := (&http.Client{Timeout: patience}).Get("http://" + addr.String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := metrics(); code != http.StatusOK || strings.Contains(body, "strata_haproxy_apply_") || !strings.Contains(body, `strata_sessions{node="node-1",app="web",version="v1"} 0`) {
		t.Errorf("GET /metrics before the apply step wrote its counters = %d\n%s\nwant 200, sessions and no strata_haproxy_apply_*", code, body)
	}
	if err := os.WriteFile(counters, []byte(`{"applies":7,"failures":2,"failing":true,"last_error":"apply: boom","reloads":0,"exhausted":3}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := metrics()
	for _, want := range []string{
		`strata_haproxy_apply_failures_total{node="node-1"} 2`,
		`strata_haproxy_apply_failing{node="node-1"} 1`,
		`strata_haproxy_apply_fallbacks_total{node="node-1"} 3`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want+"\n") {
			t.Errorf("GET /metrics with the counters written = %d\n%s\nwant %s", code, body, want)
		}
	}
	sessions := func() (int, lbstats.Report) {
		r, err := lbstats.Fetch(context.Background(), &http.Client{Timeout: patience}, "http://"+addr.String())
		if err != nil {
			return 0, r
		}
		return http.StatusOK, r
	}
	if code, r := sessions(); code != http.StatusOK || r.Apply == nil || !r.Apply.Failing || r.Apply.LastError != "apply: boom" {
		t.Errorf("GET /sessions with the counters written = %d, apply %+v; want the counters, failing", code, r.Apply)
	}
	if err := os.WriteFile(counters, []byte(`{"failures":-1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Counting sessions never depends on the apply step's file.
	if code, r := sessions(); code != http.StatusOK || r.Apply != nil {
		t.Errorf("GET /sessions with counters that are not the apply step's = %d, apply %+v; want the report without them", code, r.Apply)
	}
	if code, body := metrics(); code != http.StatusServiceUnavailable || !strings.Contains(body, counters+": a negative counter") {
		t.Errorf("GET /metrics with counters that are not the apply step's = %d\n%s\nwant 503 naming the file", code, body)
	}
}
