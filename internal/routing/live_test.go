package routing

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/demo"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/testenv"
)

// stack is the whole routing chain of one test, all real: a Consul agent,
// demo backends registered the way Nomad registers them, the templates
// rendered continuously by the consul-template library, and an HAProxy in
// master-worker mode reloaded through the same coalescing reload the Nomad
// job's change script runs.
type stack struct {
	t       testing.TB
	consul  *testenv.Consul
	proxy   *haproxytest.Process
	dir     string // where the templates render
	front   string // the app's frontend, host:port
	reloads chan struct{}
	mu      sync.Mutex
	renders int
}

// backend starts a demo server for version v and registers it in Consul
// with an HTTP health check, as Nomad would. It returns the service ID.
func (s *stack) backend(v string, n int, live bool) string {
	port := s.serve(v, n)
	id := fmt.Sprintf("_nomad-task-%08d-0000-0000-0000-%012d-web-web-web-http-%s", n, len(v)*1000+n, v)
	s.register(id, v, port, live)
	return id
}

// serve starts a demo server for version v and returns its port.
func (s *stack) serve(v string, n int) int {
	t := s.t
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	name := fmt.Sprintf("%s-%d", v, n)
	done := make(chan error, 1)
	go func() {
		done <- demo.Serve(ctx, demo.Options{Version: v, Name: name, Listen: "127.0.0.1:0", Tick: 50 * time.Millisecond, Ready: func(a net.Addr) { ready <- a }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var addr *net.TCPAddr
	select {
	case a := <-ready:
		addr = a.(*net.TCPAddr)
	case err := <-done:
		t.Fatalf("demo %s: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("demo %s did not start", name)
	}
	return addr.Port
}

// register registers an instance of version v listening on port.
func (s *stack) register(id, v string, port int, live bool) {
	s.t.Helper()
	meta := map[string]string{naming.ServiceMetaOrder: naming.SortKey(v)}
	if live {
		meta[naming.ServiceMetaLive] = "true"
	}
	err := s.consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: id, Name: "web", Tags: []string{naming.TagManaged, naming.VersionTag(v)},
		Address: "127.0.0.1", Port: port, Meta: meta,
		Check: &consulapi.AgentServiceCheck{
			HTTP: fmt.Sprintf("http://127.0.0.1:%d/healthz", port), Interval: "1s", Timeout: "1s",
			Status: consulapi.HealthPassing,
		},
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// startStack renders once, starts HAProxy on the result, then keeps
// rendering and reloading until the test ends.
func startStack(t testing.TB, setup func(s *stack), app App) *stack {
	return startStackWait(t, setup, app, 10*time.Millisecond, 100*time.Millisecond)
}

// startStackWait is startStack with consul-template's wait timers.
func startStackWait(t testing.TB, setup func(s *stack), app App, waitMin, waitMax time.Duration) *stack {
	consul := testenv.StartConsul(t)
	testenv.RequireBinary(t, "haproxy")
	s := &stack{t: t, consul: consul, reloads: make(chan struct{}, 1000)}
	setup(s)
	dir, err := os.MkdirTemp("", "strata-routing")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.dir = dir
	ports := testenv.FreePorts(t, 2)
	app.Bind = fmt.Sprintf("127.0.0.1:%d", ports[0])
	s.front = app.Bind
	data := Data{Dir: dir, StatsBind: fmt.Sprintf("127.0.0.1:%d", ports[1]), Apps: []App{app}}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Render(ctx, data, Options{ConsulAddr: consul.Addr, Dir: dir, Once: true}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "haproxy.cfg"))
	s.proxy = haproxytest.Start(t, string(cfg))

	runCtx, stop := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Render(runCtx, data, Options{
			ConsulAddr: consul.Addr, Dir: dir, WaitMin: waitMin, WaitMax: waitMax,
			OnRender: s.reload,
		})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-errc; err != nil && err != context.Canceled {
			t.Errorf("rendering: %v", err)
		}
	})
	return s
}

// reload is the test's change script: the rendered configuration goes where
// this HAProxy reads it, then the coalescing reload runs.
func (s *stack) reload(files []string) error {
	cfg, err := os.ReadFile(filepath.Join(s.dir, "haproxy.cfg"))
	if err != nil {
		return err
	}
	s.proxy.WriteConfig(string(cfg))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = haproxy.ReloadCoalesced(ctx, s.proxy.Master(), filepath.Join(s.dir, "reload.lock"),
		[]string{s.proxy.ConfigPath, filepath.Join(s.dir, "versions.map")}, haproxy.DefaultSettle)
	if err != nil {
		return fmt.Errorf("reload: %w\n%s", err, s.proxy.Output())
	}
	s.mu.Lock()
	s.renders++
	s.mu.Unlock()
	select {
	case s.reloads <- struct{}{}:
	default:
	}
	return nil
}

// answer is what one request through HAProxy got.
type answer struct {
	status  int
	version string
	server  string
	cookies map[string]*http.Cookie
	// setCookies are the raw Set-Cookie headers.
	setCookies []string
	body       string
}

var noRedirects = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableKeepAlives: true},
}

// get sends one request through HAProxy with the given cookies and headers.
func (s *stack) get(path string, cookies map[string]string, headers map[string]string) answer {
	s.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.front+path, nil)
	for k, v := range cookies {
		req.Header.Add("Cookie", k+"="+v)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, version: resp.Header.Get(demo.VersionHeader), server: resp.Header.Get(demo.NameHeader),
		cookies: map[string]*http.Cookie{}, setCookies: resp.Header.Values("Set-Cookie"), body: string(body)}
	for _, c := range resp.Cookies() {
		a.cookies[c.Name] = c
	}
	return a
}

// eventually retries check until it holds, for at most 10 s: KV and catalog
// changes reach HAProxy through a render and a reload.
func (s *stack) eventually(what string, check func() (bool, string)) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for attempt := 0; attempt < 1000; attempt++ {
		ok, got := check()
		if ok {
			return
		}
		last = got
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s: still %s after 10s\nHAProxy output:\n%s", what, last, s.proxy.Output())
}

func (s *stack) put(key, value string) {
	s.t.Helper()
	if _, err := s.consul.Client.KV().Put(&consulapi.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
		s.t.Fatal(err)
	}
}

func threeVersions(s *stack) {
	s.backend("v1", 1, false)
	s.backend("v1", 2, false)
	s.backend("v2", 1, true)
	s.backend("v2", 2, true)
	s.backend("v3", 1, false)
}

func webApp() App {
	return App{Name: "web", Cookie: "strata_version", ServerCookie: "strata_server", Header: "X-Strata-Version"}
}

func TestLiveRouting(t *testing.T) {
	s := startStack(t, threeVersions, webApp())

	t.Run("a request without a cookie goes to the live version and is pinned to it", func(t *testing.T) {
		a := s.get("/", nil, nil)
		if a.status != 200 || a.version != "v2" {
			t.Fatalf("got %d from %q, want v2", a.status, a.version)
		}
		c := a.cookies["strata_version"]
		if c == nil || c.Value != "v2" || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode {
			t.Errorf("version cookie = %+v", c)
		}
	})
	t.Run("a pinned cookie goes to its version", func(t *testing.T) {
		for _, v := range []string{"v1", "v2", "v3"} {
			a := s.get("/", map[string]string{"strata_version": v}, nil)
			if a.version != v {
				t.Errorf("cookie %s answered by %q", v, a.version)
			}
			if _, set := a.cookies["strata_version"]; set {
				t.Errorf("cookie %s: a pinned session got a new version cookie", v)
			}
		}
	})
	t.Run("bad cookies go to the live version", func(t *testing.T) {
		for name, value := range map[string]string{
			"garbage":        "%%%garbage;;",
			"path traversal": "../v1",
			"10 KB":          strings.Repeat("v", 10<<10),
			"unknown":        "v9",
			"other app":      "api/v1",
			"empty":          "",
			"uppercase":      "V1",
		} {
			a := s.get("/", map[string]string{"strata_version": value}, nil)
			if a.status != 200 || a.version != "v2" {
				t.Errorf("%s cookie: %d from %q, want v2", name, a.status, a.version)
			}
		}
	})
	t.Run("the trusted header selects a version the way the cookie does", func(t *testing.T) {
		if a := s.get("/", nil, map[string]string{"X-Strata-Version": "v3"}); a.version != "v3" {
			t.Errorf("header v3 answered by %q", a.version)
		}
		if a := s.get("/", nil, map[string]string{"X-Strata-Version": "nope"}); a.version != "v2" {
			t.Errorf("header nope answered by %q", a.version)
		}
	})
	t.Run("a server cookie keeps a session on one server of its version", func(t *testing.T) {
		first := s.get("/", map[string]string{"strata_version": "v1"}, nil)
		sc := first.cookies["strata_server"]
		if sc == nil {
			t.Fatalf("no server cookie from %s", first.server)
		}
		for range 10 {
			a := s.get("/", map[string]string{"strata_version": "v1", "strata_server": sc.Value}, nil)
			if a.server != first.server {
				t.Fatalf("server cookie %s: answered by %s, then %s", sc.Value, first.server, a.server)
			}
		}
		// A reload (a cohort key appears) keeps server names: they derive
		// from the Consul service ID.
		before := s.renderCount()
		s.put("strata/web/cohorts/sticky-probe", `{"version":"v1","opt_in":"/sticky-probe"}`)
		s.eventually("a reload after a KV change", func() (bool, string) {
			return s.renderCount() > before, fmt.Sprintf("%d reloads", s.renderCount()-before)
		})
		for range 10 {
			a := s.get("/", map[string]string{"strata_version": "v1", "strata_server": sc.Value}, nil)
			if a.server != first.server {
				t.Fatalf("after a reload, server cookie %s went to %s, not %s", sc.Value, a.server, first.server)
			}
		}
	})
	t.Run("the opt-in path pins to the cohort's version and opt-out unpins", func(t *testing.T) {
		s.put("strata/web/cohorts/pro", `{"version":"v3","opt_in":"/trypro","opt_out":"/leavepro"}`)
		var in answer
		s.eventually("the opt-in path redirects", func() (bool, string) {
			in = s.get("/trypro", nil, nil)
			return in.status == 302, fmt.Sprint(in.status)
		})
		c := in.cookies["strata_version"]
		if c == nil || c.Value != "v3" {
			t.Fatalf("opt-in set %+v", c)
		}
		for range 3 {
			if a := s.get("/anything", map[string]string{"strata_version": c.Value}, nil); a.version != "v3" {
				t.Errorf("after opt-in, answered by %q", a.version)
			}
		}
		out := s.get("/leavepro", map[string]string{"strata_version": "v3"}, nil)
		oc := out.cookies["strata_version"]
		if out.status != 302 || oc == nil || oc.Value != "" || oc.MaxAge >= 0 {
			t.Errorf("opt-out: %d, cookie %+v", out.status, oc)
		}
	})
	t.Run("flipping live in KV moves new sessions and keeps pinned ones", func(t *testing.T) {
		s.put("strata/web/live", "v3")
		s.eventually("new sessions go to v3", func() (bool, string) {
			a := s.get("/", nil, nil)
			return a.version == "v3", a.version
		})
		if a := s.get("/", map[string]string{"strata_version": "v1"}, nil); a.version != "v1" {
			t.Errorf("a session pinned to v1 went to %q", a.version)
		}
		if a := s.get("/", map[string]string{"strata_version": "v2"}, nil); a.version != "v2" {
			t.Errorf("a session pinned to v2 went to %q", a.version)
		}
		s.put("strata/web/live", "v2")
		s.eventually("new sessions go back to v2", func() (bool, string) {
			a := s.get("/", nil, nil)
			return a.version == "v2", a.version
		})
	})
	t.Run("a draining version's stale cookies go to the live version", func(t *testing.T) {
		s.put("strata/web/draining/v1", "2026-11-26T10:00:00Z")
		s.eventually("v1 cookies go to v2", func() (bool, string) {
			a := s.get("/", map[string]string{"strata_version": "v1"}, nil)
			return a.version == "v2", a.version
		})
	})
}

func (s *stack) renderCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renders
}

func TestPinPathsAndCookiesTheApplicationSets(t *testing.T) {
	app := webApp()
	app.PinPaths = []string{"/record", "/set-cookie"}
	app.MaxAge = 3600
	app.Secure = true
	s := startStack(t, twoVersions, app)

	versionCookies := func(a answer) []string {
		var out []string
		for _, h := range a.setCookies {
			if strings.HasPrefix(h, "strata_version=") {
				out = append(out, h)
			}
		}
		return out
	}
	if a := s.get("/", nil, nil); a.version != "v2" || len(versionCookies(a)) != 0 {
		t.Errorf("outside the pin paths: %q, cookies %q", a.version, versionCookies(a))
	}
	a := s.get("/record/42", nil, nil)
	c := a.cookies["strata_version"]
	if a.version != "v2" || c == nil || c.Value != "v2" || c.MaxAge != 3600 || !c.Secure || !c.HttpOnly {
		t.Errorf("under /record: %q, cookie %+v", a.version, c)
	}
	// The application sets the version cookie itself, on an unpinned
	// session under a pin path: HAProxy adds none of its own.
	a = s.get("/set-cookie?name=strata_version&value=v1", nil, nil)
	if got := versionCookies(a); len(got) != 1 || !strings.HasPrefix(got[0], "strata_version=v1;") {
		t.Errorf("the application's own cookie: %q", got)
	}
	// And clears it: HAProxy does not put one back.
	a = s.get("/set-cookie?name=strata_version&value=", nil, nil)
	if got := versionCookies(a); len(got) != 1 || !strings.Contains(got[0], "Max-Age=0") {
		t.Errorf("the application's clearing cookie: %q", got)
	}
}
