//go:build unix

package haproxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
)

// patience bounds every wait in these tests.
const patience = 10 * time.Second

// poll is the pause between two checks of a condition.
const poll = 10 * time.Millisecond

// tick paces the streaming backend.
const tick = 20 * time.Millisecond

// configFor returns a configuration with a frontend on {{port}} that sends
// everything to the backend "app" at backendAddr, plus extra lines.
func configFor(backendAddr string, extra ...string) string {
	return fmt.Sprintf(`global
    stats socket {{admin}} mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{{port}}
    default_backend app
backend app
    server s1 %s
%s`, backendAddr, strings.Join(extra, "\n")+"\n")
}

// streamingBackend starts an HTTP server on 127.0.0.1 that answers every
// request with a stream of "tick N" lines, one per tick, until the client
// goes away, the test ends, or a minute of ticks has passed.
func streamingBackend(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
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

// stream is a request held open through HAProxy.
type stream struct {
	lines  *bufio.Reader
	cancel context.CancelFunc
	body   io.Closer
}

func openStream(t *testing.T, port int) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	tr := &http.Transport{}
	t.Cleanup(func() {
		cancel()
		tr.CloseIdleConnections()
	})
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/stream", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET through HAProxy: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET through HAProxy: %s", resp.Status)
	}
	s := &stream{lines: bufio.NewReader(resp.Body), cancel: cancel, body: resp.Body}
	s.next(t)
	return s
}

// next reads the next tick, proving the stream still flows.
func (s *stream) next(t *testing.T) string {
	t.Helper()
	line, err := s.lines.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the stream through HAProxy: %v", err)
	}
	return line
}

func (s *stream) close() {
	s.cancel()
	s.body.Close()
}

func get(t *testing.T, port int) string {
	t.Helper()
	c := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("GET through HAProxy: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET through HAProxy: %v", err)
	}
	return string(b)
}

func okBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok\n")
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func procs(t *testing.T, m *haproxy.Master) []haproxy.Proc {
	t.Helper()
	ps, err := m.Procs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func byRole(ps []haproxy.Proc, r haproxy.Role) []haproxy.Proc {
	var out []haproxy.Proc
	for _, p := range ps {
		if p.Role == r {
			out = append(out, p)
		}
	}
	return out
}

func master(t *testing.T, m *haproxy.Master) haproxy.Proc {
	t.Helper()
	return byRole(procs(t, m), haproxy.RoleMaster)[0]
}

func current(t *testing.T, m *haproxy.Master) haproxy.Proc {
	t.Helper()
	cur := byRole(procs(t, m), haproxy.RoleCurrent)
	if len(cur) != 1 {
		t.Fatalf("%d current workers, want 1", len(cur))
	}
	return cur[0]
}

// backendScur returns the scur of the BACKEND row of backend in rows, and
// whether there is one.
func backendScur(rows []haproxy.StatRow, backend string) (int, bool) {
	for _, r := range rows {
		if r.PxName == backend && r.Type == haproxy.TypeBackend {
			return r.Scur, true
		}
	}
	return 0, false
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

func TestProcsListsTheMasterAndTheCurrentWorker(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, configFor(okBackend(t)))
	ps := procs(t, p.Master())
	if len(ps) != 2 {
		t.Fatalf("show proc lists %+v, want a master and a worker", ps)
	}
	if ps[0].Role != haproxy.RoleMaster || ps[0].PID != p.PID || ps[0].Reloads != 0 || ps[0].FailedReloads != 0 {
		t.Errorf("first process = %+v, want the master %d, never reloaded", ps[0], p.PID)
	}
	if ps[1].Role != haproxy.RoleCurrent || ps[1].Type != "worker" || !strings.HasPrefix(ps[1].Version, "2.") {
		t.Errorf("second process = %+v, want the current worker", ps[1])
	}
}

func TestProcsListsTheOldWorkerThatStillHoldsAConnection(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, configFor(streamingBackend(t)))
	port := p.Port
	m := p.Master()
	first := current(t, m)
	s := openStream(t, port)
	defer s.close()

	second, err := p.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ps := procs(t, m)
	cur, old := byRole(ps, haproxy.RoleCurrent), byRole(ps, haproxy.RoleOld)
	if len(cur) != 1 || cur[0].PID != second.PID || cur[0].Reloads != 0 {
		t.Errorf("current workers %+v, want only %d, started by the reload", cur, second.PID)
	}
	if len(old) != 1 || old[0].PID != first.PID || old[0].Reloads != 1 {
		t.Errorf("old workers %+v, want only %d, one reload old", old, first.PID)
	}
	if mp := byRole(ps, haproxy.RoleMaster)[0]; mp.Reloads != 1 {
		t.Errorf("master %+v, want 1 reload", mp)
	}
	s.next(t)
}

func TestReloadReturnsANewCurrentWorker(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, configFor(okBackend(t)))
	port := p.Port
	m := p.Master()
	before := current(t, m)
	for i := 1; i <= 3; i++ {
		start := time.Now()
		w, err := m.Reload(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("reload %d confirmed in %v: worker %d", i, time.Since(start), w.PID)
		if w.PID == before.PID || w.Role != haproxy.RoleCurrent || w.Reloads != 0 {
			t.Errorf("Reload = %+v, want a current worker other than %d", w, before.PID)
		}
		if got := current(t, m); got.PID != w.PID {
			t.Errorf("show proc lists current worker %d, Reload returned %d", got.PID, w.PID)
		}
		if mp := master(t, m); mp.Reloads != i {
			t.Errorf("the master counts %d reloads, want %d", mp.Reloads, i)
		}
		before = w
	}
	if got := get(t, port); got != "ok\n" {
		t.Errorf("GET through HAProxy after the reloads = %q", got)
	}
}

func TestReloadWithABrokenConfigFailsAndTheOldWorkerKeepsServing(t *testing.T) {
	t.Parallel()
	good := configFor(okBackend(t))
	p := haproxytest.Start(t, good)
	port := p.Port
	m := p.Master()
	serving := current(t, m)

	p.WriteConfig(good + "    bogus_keyword on\n")
	start := time.Now()
	w, err := m.Reload(context.Background())
	if !errors.Is(err, haproxy.ErrReloadFailed) {
		t.Fatalf("Reload with a broken configuration = %+v, %v; want ErrReloadFailed", w, err)
	}
	t.Logf("failed reload reported in %v: %v", time.Since(start), err)
	if !strings.Contains(err.Error(), fmt.Sprint(serving.PID)) {
		t.Errorf("the error does not name the worker that keeps serving, %d", serving.PID)
	}
	if got := current(t, m); got.PID != serving.PID {
		t.Errorf("current worker %d after the failed reload, want %d still", got.PID, serving.PID)
	}
	if mp := master(t, m); mp.Reloads != 1 || mp.FailedReloads != 1 {
		t.Errorf("master %+v, want 1 reload, 1 failed", mp)
	}
	if got := get(t, port); got != "ok\n" {
		t.Errorf("GET through HAProxy after the failed reload = %q, want the old worker's answer", got)
	}
	if !strings.Contains(p.Output(), "bogus_keyword") {
		t.Errorf("HAProxy's output does not say what is wrong:\n%s", p.Output())
	}

	// A second failure counts too; a good configuration then loads.
	if _, err := m.Reload(context.Background()); !errors.Is(err, haproxy.ErrReloadFailed) {
		t.Fatalf("second Reload with the broken configuration: %v, want ErrReloadFailed", err)
	}
	p.WriteConfig(good)
	w, err = m.Reload(context.Background())
	if err != nil {
		t.Fatalf("Reload after fixing the configuration: %v", err)
	}
	if w.PID == serving.PID {
		t.Errorf("Reload after fixing returned the old worker %d", w.PID)
	}
	if mp := master(t, m); mp.Reloads != 3 || mp.FailedReloads != 0 {
		t.Errorf("master %+v, want 3 reloads, failed reset to 0", mp)
	}
	if got := get(t, port); got != "ok\n" {
		t.Errorf("GET through HAProxy after the fix = %q", got)
	}
}

func TestSessionsCountsALongLivedConnectionInAnOldWorker(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, configFor(streamingBackend(t), "backend idle", "    server s1 127.0.0.1:9"))
	port := p.Port
	m := p.Master()
	holder := current(t, m)
	s := openStream(t, port)
	defer s.close()

	var newest haproxy.Proc
	for i := 0; i < 3; i++ {
		w, err := m.Reload(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		newest = w
	}
	s.next(t) // the old worker still streams

	// The workers of the first two reloads, idle, may not have exited yet;
	// the one holding the stream must still be there.
	old := byRole(procs(t, m), haproxy.RoleOld)
	if !slices.ContainsFunc(old, func(p haproxy.Proc) bool { return p.PID == holder.PID && p.Reloads == 3 }) {
		t.Fatalf("old workers %+v, want among them %d, three reloads old, which holds the stream", old, holder.PID)
	}
	sessions, err := m.Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sessions["app"] != 1 || sessions["idle"] != 0 || len(sessions) != 2 {
		t.Errorf("Sessions = %v, want app: 1 (in the old worker), idle: 0", sessions)
	}
	rows, err := m.Stat(context.Background(), newest.PID)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := backendScur(rows, "app"); !ok || n != 0 {
		t.Errorf("the new worker's own stat: app has %d sessions (listed: %v), want 0", n, ok)
	}
	rows, err = m.Stat(context.Background(), holder.PID)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := backendScur(rows, "app"); !ok || n != 1 {
		t.Errorf("the old worker's stat: app has %d sessions (listed: %v), want 1", n, ok)
	}

	s.close()
	eventually(t, "Sessions reports app idle once the client closed", func() (bool, string) {
		sessions, err := m.Sessions(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return sessions["app"] == 0, fmt.Sprint(sessions)
	})
	eventually(t, "the old worker exits once idle", func() (bool, string) {
		ps, err := m.Procs(context.Background())
		if err != nil {
			return false, err.Error()
		}
		old := byRole(ps, haproxy.RoleOld)
		return len(old) == 0, fmt.Sprintf("old workers %+v", old)
	})
	if _, err := m.Stat(context.Background(), holder.PID); !errors.Is(err, haproxy.ErrProcessGone) {
		t.Errorf("Stat of the exited worker %d: %v, want ErrProcessGone", holder.PID, err)
	}
}

func TestCommandRunsACommandInAWorker(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, configFor(okBackend(t)))
	m := p.Master()
	out, err := m.Command(context.Background(), fmt.Sprintf("@!%d show info", current(t, m).PID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Name: HAProxy\n") {
		t.Errorf("show info in the worker answered %q", out)
	}
	out, err = m.Command(context.Background(), "show version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "2.") {
		t.Errorf("show version answered %q", out)
	}
}
