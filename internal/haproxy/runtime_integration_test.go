//go:build unix

package haproxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
)

// slotConfig is the shape strata's routing gives HAProxy: a backend (a
// version slot) of pre-allocated, disabled servers whose addresses are set
// at run time, a dynamic stickiness cookie that follows an instance's
// address, a map read at every request, and a server-state-file that
// carries the runtime state across reloads and restarts.
const slotConfig = `global
    stats socket {{admin}} mode 600 level admin expose-fd listeners
    server-state-file {{dir}}/servers.state
    mworker-max-reloads 2147483647
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    load-server-state-from-file global
frontend fe
    bind 127.0.0.1:{{port}}
    http-request set-var(txn.slot) req.hdr(host),host_only,map({{dir}}/versions.map,none)
    http-after-response set-header X-Slot %[var(txn.slot)]
    default_backend be_app_1
backend be_app_1
    cookie SRV insert indirect nocache dynamic
    dynamic-cookie-key strata-test
    server-template s 1-4 unassigned.invalid:1 disabled init-addr last,0.0.0.0
`

// startSlots starts HAProxy with slotConfig and an empty versions map.
func startSlots(t testing.TB, opts ...haproxytest.Option) (*haproxytest.Process, *haproxy.Runtime) {
	t.Helper()
	opts = append([]haproxytest.Option{haproxytest.WithFile("versions.map", "")}, opts...)
	p := haproxytest.Start(t, slotConfig, opts...)
	return p, &haproxy.Runtime{Socket: p.AdminSocket}
}

// instance is an HTTP server standing for one instance of a version: it
// answers its name, and streams ticks at /stream.
type instance struct {
	name string
	host string
	port int
}

func startInstance(t *testing.T, name string) instance {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			fmt.Fprintln(w, name)
			return
		}
		f := w.(http.Flusher)
		for i := 0; i < int(time.Minute/tick); i++ {
			if _, err := fmt.Fprintf(w, "%s %d\n", name, i); err != nil {
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
	host, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return instance{name: name, host: host, port: n}
}

// exec runs commands built by the builders, failing the test on any error.
func exec(t *testing.T, r *haproxy.Runtime, cmds ...func() (string, error)) []string {
	t.Helper()
	var texts []string
	for _, c := range cmds {
		cmd, err := c()
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, cmd)
	}
	answers, err := r.Exec(context.Background(), texts...)
	if err != nil {
		t.Fatal(err)
	}
	return answers
}

// serve puts inst into slot server s of be_app_1 and makes it ready.
func serve(t *testing.T, r *haproxy.Runtime, s string, inst instance) {
	t.Helper()
	exec(t, r,
		func() (string, error) { return haproxy.SetServerAddrCmd("be_app_1", s, inst.host, inst.port) },
		func() (string, error) { return haproxy.SetServerStateCmd("be_app_1", s, "ready") })
}

// response is what a request through HAProxy got.
type response struct {
	status int
	body   string
	cookie string // the SRV cookie HAProxy set, if any
	slot   string // the X-Slot header: the versions map's answer
}

// request sends GET / through HAProxy, with the SRV cookie when cookie is
// set, and the Host header host.
func request(t *testing.T, port int, host, cookie string) response {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "SRV", Value: cookie})
	}
	c := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET through HAProxy: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET through HAProxy: %v", err)
	}
	r := response{status: resp.StatusCode, body: strings.TrimSpace(string(b)), slot: resp.Header.Get("X-Slot")}
	for _, c := range resp.Cookies() {
		if c.Name == "SRV" {
			r.cookie = c.Value
		}
	}
	return r
}

func serverNamed(t *testing.T, servers []haproxy.ServerState, backend, name string) haproxy.ServerState {
	t.Helper()
	for _, s := range servers {
		if s.Backend == backend && s.Name == name {
			return s
		}
	}
	t.Fatalf("no server %s/%s in %+v", backend, name, servers)
	return haproxy.ServerState{}
}

func servers(t *testing.T, r *haproxy.Runtime) []haproxy.ServerState {
	t.Helper()
	s, err := r.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAPreAllocatedServerServesOnceGivenAnAddressAndMadeReady(t *testing.T) {
	t.Parallel()
	p, r := startSlots(t)
	for _, s := range servers(t, r) {
		if s.AdminState() != "maint" || s.OpState != haproxy.OpStopped || s.Addr != "0.0.0.0" || s.FQDN != "unassigned.invalid" {
			t.Errorf("at start %+v, want a server in maintenance at 0.0.0.0", s)
		}
	}
	if got := request(t, p.Port, "", ""); got.status != http.StatusServiceUnavailable {
		t.Errorf("with every server in maintenance: %+v, want 503", got)
	}

	a := startInstance(t, "a")
	serve(t, r, "s1", a)
	if got := request(t, p.Port, "", ""); got.status != http.StatusOK || got.body != "a" || got.cookie == "" {
		t.Errorf("after serving a in s1: %+v, want a and a cookie", got)
	}
	s1 := serverNamed(t, servers(t, r), "be_app_1", "s1")
	if s1.Addr != a.host || s1.Port != a.port || s1.AdminState() != "ready" || s1.OpState != haproxy.OpRunning {
		t.Errorf("s1 = %+v, want ready and running at %s:%d", s1, a.host, a.port)
	}

	// IPv6 addresses are accepted too; nothing listens there, so the
	// server goes back to maintenance untested.
	exec(t, r, func() (string, error) { return haproxy.SetServerAddrCmd("be_app_1", "s2", "::1", 1) })
	if s2 := serverNamed(t, servers(t, r), "be_app_1", "s2"); s2.Addr != "::1" || s2.Port != 1 || s2.AdminState() != "maint" {
		t.Errorf("s2 = %+v, want in maintenance at [::1]:1", s2)
	}
}

func TestExecReportsEachRefusedCommandAndRunsTheOthers(t *testing.T) {
	t.Parallel()
	_, r := startSlots(t)
	a := startInstance(t, "a")
	ready, _ := haproxy.SetServerStateCmd("be_app_1", "s1", "ready")
	unknown, _ := haproxy.SetServerStateCmd("be_app_1", "s9", "ready")
	addr, _ := haproxy.SetServerAddrCmd("be_app_1", "s1", a.host, a.port)
	noBackend, _ := haproxy.SetServerStateCmd("be_nope", "s1", "maint")
	answers, err := r.Exec(context.Background(), unknown, addr, noBackend, ready)
	if len(answers) != 4 {
		t.Fatalf("answers %q, want 4", answers)
	}
	var rerr *haproxy.RuntimeError
	if !errors.As(err, &rerr) || rerr.Command != unknown || rerr.Answer != "No such server." || rerr.Socket != r.Socket {
		t.Fatalf("err = %#v, want a RuntimeError for %q", err, unknown)
	}
	if !strings.Contains(err.Error(), noBackend) || !strings.Contains(err.Error(), "No such backend.") {
		t.Errorf("err = %v, want the second refusal too", err)
	}
	if s1 := serverNamed(t, servers(t, r), "be_app_1", "s1"); s1.AdminState() != "ready" || s1.Port != a.port {
		t.Errorf("s1 = %+v: the commands after a refused one did not run", s1)
	}
}

func TestExecSendsManyCommandsOverFewConnections(t *testing.T) {
	t.Parallel()
	_, r := startSlots(t)
	var cmds []string
	for i := 0; i < 1100; i++ {
		cmd, err := haproxy.AddMapCmd(filepath.Join(filepath.Dir(r.Socket), "versions.map"), fmt.Sprintf("app/v%d", i), "be_app_1")
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	cmds = append(cmds, "show servers state be_app_1")
	answers, err := r.Exec(context.Background(), cmds...)
	if err != nil {
		t.Fatal(err)
	}
	if len(answers) != len(cmds) || answers[0] != "" || !strings.HasPrefix(answers[len(cmds)-1], "1\n# be_id") {
		t.Fatalf("%d answers for %d commands; last %q", len(answers), len(cmds), answers[len(answers)-1])
	}
	entries, err := r.ShowMap(context.Background(), filepath.Join(filepath.Dir(r.Socket), "versions.map"))
	if err != nil || len(entries) != 1100 || entries[1099] != (haproxy.MapEntry{Key: "app/v1099", Value: "be_app_1"}) {
		t.Errorf("the map holds %d entries (last %v), %v; want 1100", len(entries), entries[len(entries)-1:], err)
	}
}

func TestTheDynamicCookieFollowsTheInstanceToAnotherServer(t *testing.T) {
	t.Parallel()
	p, r := startSlots(t)
	a, b := startInstance(t, "a"), startInstance(t, "b")
	serve(t, r, "s1", a)
	serve(t, r, "s2", b)
	cookies := map[string]string{}
	for i := 0; i < 10 && len(cookies) < 2; i++ {
		got := request(t, p.Port, "", "")
		cookies[got.body] = got.cookie
	}
	if cookies["a"] == "" || cookies["b"] == "" || cookies["a"] == cookies["b"] {
		t.Fatalf("cookies %v, want one per instance", cookies)
	}
	// Swap the two instances' servers, never giving two servers the same
	// address at once: s1 goes to maintenance and a placeholder address
	// first.
	exec(t, r,
		func() (string, error) { return haproxy.SetServerStateCmd("be_app_1", "s1", "maint") },
		func() (string, error) { return haproxy.SetServerAddrCmd("be_app_1", "s1", "0.0.0.0", 1) },
		func() (string, error) { return haproxy.SetServerAddrCmd("be_app_1", "s2", a.host, a.port) },
		func() (string, error) { return haproxy.SetServerAddrCmd("be_app_1", "s1", b.host, b.port) },
		func() (string, error) { return haproxy.SetServerStateCmd("be_app_1", "s1", "ready") })
	for _, name := range []string{"a", "b"} {
		for i := 0; i < 4; i++ {
			if got := request(t, p.Port, "", cookies[name]); got.body != name {
				t.Fatalf("with %s's cookie after the swap: %+v, want %s", name, got, name)
			}
		}
	}
	if strings.Contains(p.Output(), "two equal cookies") {
		t.Errorf("HAProxy saw two servers with the same cookie:\n%s", p.Output())
	}
}

// restartWith starts a second HAProxy with slotConfig and the state file
// the first one wrote.
func restartWith(t *testing.T, state string) (*haproxytest.Process, *haproxy.Runtime) {
	t.Helper()
	return startSlots(t, haproxytest.WithFile("servers.state", state))
}

func TestTheServersStateFileCarriesRuntimeChangesAcrossAReloadAndARestart(t *testing.T) {
	t.Parallel()
	p, r := startSlots(t)
	a, b := startInstance(t, "a"), startInstance(t, "b")
	serve(t, r, "s1", a)
	serve(t, r, "s2", b)
	exec(t, r,
		func() (string, error) { return haproxy.SetServerStateCmd("be_app_1", "s2", "drain") },
		func() (string, error) { return haproxy.SetServerAddrCmd("be_app_1", "s3", "::1", 8443) },
		func() (string, error) { return haproxy.SetServerWeightCmd("be_app_1", "s1", 20) })
	before := servers(t, r)
	state, err := r.ServersStateFile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.WriteFile("servers.state", state)

	if _, err := p.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	same := func(when string, after []haproxy.ServerState) {
		t.Helper()
		type key struct {
			name, addr, admin string
			port, weight      int
			op                haproxy.ServerOpState
		}
		var want, got []key
		for _, s := range before {
			want = append(want, key{s.Name, s.Addr, s.AdminState(), s.Port, s.UserWeight, s.OpState})
		}
		for _, s := range after {
			got = append(got, key{s.Name, s.Addr, s.AdminState(), s.Port, s.UserWeight, s.OpState})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: servers\n%+v\nwant\n%+v", when, got, want)
		}
	}
	same("after a reload", servers(t, r))
	if got := request(t, p.Port, "", ""); got.body != "a" {
		t.Errorf("after the reload: %+v, want a (b drains)", got)
	}

	p2, r2 := restartWith(t, state)
	same("after a restart", servers(t, r2))
	if got := request(t, p2.Port, "", ""); got.body != "a" {
		t.Errorf("after a restart: %+v, want a", got)
	}
}

func TestReplaceMapSwapsEveryEntryAtOnce(t *testing.T) {
	t.Parallel()
	p, r := startSlots(t)
	serve(t, r, "s1", startInstance(t, "a"))
	file := filepath.Join(p.Dir, "versions.map")
	maps, err := r.Maps(context.Background())
	if err != nil || len(maps) != 1 || maps[0].File != file {
		t.Fatalf("maps %+v, %v; want %s", maps, err, file)
	}
	if got, err := r.ShowMap(context.Background(), file); err != nil || len(got) != 0 {
		t.Fatalf("the empty map holds %v, %v", got, err)
	}

	entriesOf := func(round int) []haproxy.MapEntry {
		entries := []haproxy.MapEntry{{Key: "kept.example.com", Value: "kept"}}
		for i := 0; i < 300*round; i++ {
			entries = append(entries, haproxy.MapEntry{Key: fmt.Sprintf("v%d-%d.example.com", round, i), Value: fmt.Sprintf("be_%d", i)})
		}
		return entries
	}
	replace := func(round int) []haproxy.MapEntry {
		t.Helper()
		entries := entriesOf(round)
		if err := r.ReplaceMap(context.Background(), file, entries); err != nil {
			t.Fatal(err)
		}
		got, err := r.ShowMap(context.Background(), file)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, entries) {
			t.Fatalf("round %d: the map holds %d entries, want %d", round, len(got), len(entries))
		}
		return entries
	}
	replace(0)

	// From now on every version of the map holds kept.example.com: a
	// request loop checks that no request sees a map without it while
	// the map is replaced again and again.
	var stop atomic.Bool
	var requests, misses, failures atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
		for i := 0; i < 100000 && !stop.Load(); i++ {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", p.Port), nil)
			req.Host = "kept.example.com"
			resp, err := c.Do(req)
			if err != nil {
				failures.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			requests.Add(1)
			if resp.Header.Get("X-Slot") != "kept" {
				misses.Add(1)
			}
		}
	}()
	var last []haproxy.MapEntry
	for round := 1; round < 6; round++ {
		last = replace(round)
	}
	eventually(t, "requests during the replacements", func() (bool, string) {
		return requests.Load() > 0, "no request answered yet"
	})
	stop.Store(true)
	wg.Wait()
	if misses.Load() != 0 || failures.Load() != 0 {
		t.Errorf("%d of %d requests did not see the kept entry, %d failed", misses.Load(), requests.Load(), failures.Load())
	}
	if got := request(t, p.Port, last[len(last)-1].Key, ""); got.slot != last[len(last)-1].Value {
		t.Errorf("request for %s: %+v, want X-Slot %s", last[len(last)-1].Key, got, last[len(last)-1].Value)
	}

	// An unknown map is refused before anything changes.
	err = r.ReplaceMap(context.Background(), filepath.Join(p.Dir, "nope.map"), last)
	var rerr *haproxy.RuntimeError
	if !errors.As(err, &rerr) || !strings.HasPrefix(rerr.Command, "prepare map") {
		t.Errorf("ReplaceMap of an unknown map: %v, want prepare refused", err)
	}
	if got, _ := r.ShowMap(context.Background(), file); !slices.Equal(got, last) {
		t.Errorf("after a refused replacement the map changed")
	}
	// Replacing with nothing empties the map.
	if err := r.ReplaceMap(context.Background(), file, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ShowMap(context.Background(), file); err != nil || len(got) != 0 {
		t.Errorf("after replacing with nothing: %v, %v", got, err)
	}
}

func TestAServerInMaintenanceKeepsItsStreamAndItIsCounted(t *testing.T) {
	t.Parallel()
	p, r := startSlots(t)
	a := startInstance(t, "a")
	serve(t, r, "s1", a)
	s := openStream(t, p.Port)
	defer s.close()

	exec(t, r, func() (string, error) { return haproxy.SetServerStateCmd("be_app_1", "s1", "maint") })
	for i := 0; i < 5; i++ {
		s.next(t)
	}
	sessions, err := r.ServerSessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sessions["be_app_1"]["s1"] != 1 || sessions["be_app_1"]["s2"] != 0 {
		t.Errorf("server sessions %v, want 1 on be_app_1/s1", sessions)
	}
	total, err := p.Master().Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if total["be_app_1"] != 1 {
		t.Errorf("backend sessions %v, want 1 on be_app_1", total)
	}
	if got := request(t, p.Port, "", ""); got.status != http.StatusServiceUnavailable {
		t.Errorf("a new request with s1 in maintenance: %+v, want 503", got)
	}
}

func TestTheMasterCountsWorkersAndRunsCommandsInAnOldOne(t *testing.T) {
	t.Parallel()
	p, r := startSlots(t)
	serve(t, r, "s1", startInstance(t, "a"))
	m := p.Master()
	cur, old, err := m.Workers(context.Background())
	if err != nil || len(cur) != 1 || len(old) != 0 {
		t.Fatalf("workers %v, old %v, %v; want one current", cur, old, err)
	}
	first := cur[0]
	s := openStream(t, p.Port)
	defer s.close()
	for i := 0; i < 3; i++ {
		if _, err := p.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The workers of the two reloads in between held nothing: they leave.
	eventually(t, "one current worker and the first, old, holding the stream", func() (bool, string) {
		cur, old, err := m.Workers(context.Background())
		return err == nil && len(cur) == 1 && len(old) == 1 && old[0].PID == first.PID,
			fmt.Sprintf("workers %v, old %v, %v", cur, old, err)
	})
	s.next(t)

	// The old worker still runs its runtime state; the new one came up
	// without a state file, so its s1 is in maintenance.
	answers, err := m.WorkerExec(context.Background(), first.PID, "show servers state be_app_1")
	if err != nil {
		t.Fatal(err)
	}
	old1, err := haproxy.ParseServersState(answers[0])
	if err != nil {
		t.Fatal(err)
	}
	if s1 := serverNamed(t, old1, "be_app_1", "s1"); s1.AdminState() != "ready" {
		t.Errorf("in the old worker s1 = %+v, want ready", s1)
	}
	if s1 := serverNamed(t, servers(t, r), "be_app_1", "s1"); s1.AdminState() != "maint" {
		t.Errorf("in the current worker s1 = %+v, want maint", s1)
	}
	// An old worker's proxies are stopped: its servers cannot be changed.
	_, err = m.WorkerExec(context.Background(), first.PID, "set server be_app_1/s1 state maint")
	var rerr *haproxy.RuntimeError
	if !errors.As(err, &rerr) || rerr.Answer != "Proxy is disabled." || !strings.Contains(rerr.Command, fmt.Sprintf("@!%d ", first.PID)) {
		t.Errorf("set server in the old worker: %v, want \"Proxy is disabled.\"", err)
	}
	s.next(t)
	s.close()
	eventually(t, "the old worker exits once its stream is closed", func() (bool, string) {
		_, old, err := m.Workers(context.Background())
		return err == nil && len(old) == 0, fmt.Sprintf("old workers %v, %v", old, err)
	})
	if _, err := m.WorkerExec(context.Background(), first.PID, "show info"); !errors.Is(err, haproxy.ErrProcessGone) {
		t.Errorf("a command for the exited worker: %v, want ErrProcessGone", err)
	}
}

// BenchmarkExecTwentyCommands measures one Exec of 20 commands (one
// connection), against the same 20 commands sent one Exec each and against
// one command alone, in the same run.
func BenchmarkExecTwentyCommands(b *testing.B) {
	p, r := startSlots(b)
	file := filepath.Join(p.Dir, "versions.map")
	var cmds []string
	for i := 0; i < 20; i++ {
		cmd, err := haproxy.AddMapCmd(file, fmt.Sprintf("app/v%d", i), "be_app_1")
		if err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	ctx := context.Background()
	clear := func() {
		if _, err := r.Exec(ctx, "clear map "+file); err != nil {
			b.Fatal(err)
		}
	}
	var batched, separate, single time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clear()
		b.StartTimer()
		start := time.Now()
		if _, err := r.Exec(ctx, cmds...); err != nil {
			b.Fatal(err)
		}
		batched += time.Since(start)

		b.StopTimer()
		clear()
		b.StartTimer()
		start = time.Now()
		for _, cmd := range cmds {
			if _, err := r.Exec(ctx, cmd); err != nil {
				b.Fatal(err)
			}
		}
		separate += time.Since(start)

		start = time.Now()
		if _, err := r.Exec(ctx, "show map "+file); err != nil {
			b.Fatal(err)
		}
		single += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(batched.Microseconds())/n, "batched-us/op")
	b.ReportMetric(float64(separate.Microseconds())/n, "separate-us/op")
	b.ReportMetric(float64(single.Microseconds())/n, "one-command-us/op")
	b.ReportMetric(float64(separate)/float64(batched), "separate/batched")
	b.ReportMetric(float64(batched)/float64(single), "batched/one-command")
}

// TestOnlyAHostNameAndAPortLetTheStateFileRestoreASlot shows why [Runtime]
// asks for "unassigned.invalid:1 ... init-addr last,0.0.0.0": with the other
// ways of declaring an unassigned server, a reload with the state file
// brings the server back ready but pointing elsewhere.
func TestOnlyAHostNameAndAPortLetTheStateFileRestoreASlot(t *testing.T) {
	t.Parallel()
	const template = "server-template s 1-4 unassigned.invalid:1 disabled init-addr last,0.0.0.0"
	for _, tc := range []struct {
		name, template string
		serves         bool
		addr           string // after the reload
	}{
		{"a host name and a port", template, true, ""},
		// It still reaches a here only because on Linux 0.0.0.0 means
		// this host; an instance elsewhere is lost.
		{"an address", "server-template s 1-4 0.0.0.0:1 disabled", true, "0.0.0.0"},
		{"port 0, which maps ports", "server-template s 1-4 unassigned.invalid:0 disabled init-addr last,0.0.0.0", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := haproxytest.Start(t, strings.Replace(slotConfig, template, tc.template, 1),
				haproxytest.WithFile("versions.map", ""))
			r := &haproxy.Runtime{Socket: p.AdminSocket}
			a := startInstance(t, "a")
			serve(t, r, "s1", a)
			if got := request(t, p.Port, "", ""); got.body != "a" {
				t.Fatalf("before the reload: %+v", got)
			}
			state, err := r.ServersStateFile(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			p.WriteFile("servers.state", state)
			if _, err := p.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			s1 := serverNamed(t, servers(t, r), "be_app_1", "s1")
			if s1.AdminState() != "ready" || s1.Port != a.port {
				t.Errorf("after the reload s1 = %+v, want ready on port %d", s1, a.port)
			}
			want := tc.addr
			if want == "" {
				want = a.host
			}
			if s1.Addr != want {
				t.Errorf("after the reload s1's address is %q, want %q", s1.Addr, want)
			}
			if got := request(t, p.Port, "", ""); (got.body == "a") != tc.serves {
				t.Errorf("after the reload: %+v; serves a: %v, want %v", got, got.body == "a", tc.serves)
			}
		})
	}
}

func TestACookieStillReachesADrainingServerButNotOneInMaintenance(t *testing.T) {
	t.Parallel()
	p, r := startSlots(t)
	a, b := startInstance(t, "a"), startInstance(t, "b")
	serve(t, r, "s1", a)
	serve(t, r, "s2", b)
	var cookie string
	for i := 0; i < 10 && cookie == ""; i++ {
		if got := request(t, p.Port, "", ""); got.body == "a" {
			cookie = got.cookie
		}
	}
	if cookie == "" {
		t.Fatal("no request reached a")
	}
	exec(t, r, func() (string, error) { return haproxy.SetServerStateCmd("be_app_1", "s1", "drain") })
	for i := 0; i < 4; i++ {
		if got := request(t, p.Port, "", cookie); got.body != "a" {
			t.Fatalf("with a's cookie, a draining: %+v, want a", got)
		}
		if got := request(t, p.Port, "", ""); got.body != "b" {
			t.Fatalf("without a cookie, a draining: %+v, want b", got)
		}
	}
	exec(t, r, func() (string, error) { return haproxy.SetServerStateCmd("be_app_1", "s1", "maint") })
	got := request(t, p.Port, "", cookie)
	if got.body != "b" || got.cookie == "" || got.cookie == cookie {
		t.Errorf("with a's cookie, a in maintenance: %+v, want b and b's cookie", got)
	}
}
