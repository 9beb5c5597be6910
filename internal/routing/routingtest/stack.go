// Package routingtest runs strata's whole routing chain for tests, all of it
// real: a Consul agent, demo backends registered the way Nomad registers
// them, the templates rendered continuously by the consul-template library,
// and an HAProxy in master-worker mode changed through the same apply step
// (package routing/apply) the HAProxy task runs at each template signal:
// at run time through the admin socket, with a reload only when haproxy.cfg
// changes.
package routingtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/demo"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/apply"
	"github.com/strata-dev/strata/internal/testenv"
)

// Stack is the whole routing chain of one test, all real: a Consul agent,
// demo backends registered the way Nomad registers them, the templates
// rendered continuously by the consul-template library, and an HAProxy in
// master-worker mode changed through the same apply step the HAProxy task
// runs.
type Stack struct {
	t testing.TB
	// Consul is the agent the templates read.
	Consul *testenv.Consul
	// Proxy is the HAProxy serving the apps.
	Proxy *haproxytest.Process
	// Dir is where the templates render and the apply step writes.
	Dir string
	// Front is the first app's frontend, host:port.
	Front string
	// Fronts are every app's frontends, host:port, by app name.
	Fronts map[string]string
	// Data is what the templates were rendered with.
	Data routing.Data
	// Strata, when a setup function sets it, is a strata binary: HAProxy
	// then runs as the HAProxy task runs it, through `strata haproxy run`,
	// and each render sends that process the template signal
	// (apply.ChangeSignal), as Nomad's template blocks do, instead of
	// calling the apply step in the test's own process. Applied then
	// stays empty, and RenderCount counts the signals sent.
	Strata string
	// StrataArgs are more flags for `strata haproxy run`, when Strata is
	// set.
	StrataArgs []string
	reloads    chan struct{}
	mu         sync.Mutex
	renders    int
	applied    []apply.Result
}

// Backend starts a demo server for version v and registers it in Consul
// with an HTTP health check, as Nomad would. It returns the service ID.
func (s *Stack) Backend(v string, n int, live bool) string {
	port := s.Serve(v, n)
	id := fmt.Sprintf("_nomad-task-%08d-0000-0000-0000-%012d-web-web-web-http-%s", n, len(v)*1000+n, v)
	s.Register(id, v, port, live)
	return id
}

// Serve starts a demo server for version v and returns its port.
func (s *Stack) Serve(v string, n int) int {
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

// Register registers an instance of version v listening on port.
func (s *Stack) Register(id, v string, port int, live bool) {
	s.t.Helper()
	meta := map[string]string{naming.ServiceMetaOrder: naming.SortKey(v)}
	if live {
		meta[naming.ServiceMetaLive] = "true"
	}
	err := s.Consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
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

// Start renders once, starts HAProxy on the result, then keeps
// rendering and applying until the test ends.
func Start(t testing.TB, setup func(s *Stack), app routing.App) *Stack {
	return StartWait(t, setup, app, 10*time.Millisecond, 100*time.Millisecond)
}

// StartWait is Start with consul-template's wait timers.
func StartWait(t testing.TB, setup func(s *Stack), app routing.App, waitMin, waitMax time.Duration) *Stack {
	return StartApps(t, setup, []routing.App{app}, waitMin, waitMax)
}

// StartApps is StartWait for several apps. Each app with an empty Bind gets
// a frontend on a free port of its own; apps whose Bind is the same
// non-empty label (any text, "shared" say) share one free port, and are
// chosen by their Host. Fronts says where each app is served.
func StartApps(t testing.TB, setup func(s *Stack), apps []routing.App, waitMin, waitMax time.Duration) *Stack {
	consul := testenv.StartConsul(t)
	testenv.RequireBinary(t, "haproxy")
	s := &Stack{t: t, Consul: consul, reloads: make(chan struct{}, 1000), Fronts: map[string]string{}}
	setup(s)
	dir, err := os.MkdirTemp("", "strata-routing")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.Dir = dir
	ports := testenv.FreePorts(t, len(apps)+1)
	shared := map[string]string{}
	apps = append([]routing.App(nil), apps...)
	for i := range apps {
		label := apps[i].Bind
		bind := fmt.Sprintf("127.0.0.1:%d", ports[i+1])
		if label != "" {
			if b, ok := shared[label]; ok {
				bind = b
			}
			shared[label] = bind
		}
		apps[i].Bind = bind
		s.Fronts[apps[i].Name] = bind
	}
	s.Front = apps[0].Bind
	s.Data = routing.Data{Dir: dir, StatsBind: fmt.Sprintf("127.0.0.1:%d", ports[0]), Apps: apps}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := routing.Render(ctx, s.Data, routing.Options{ConsulAddr: consul.Addr, Dir: dir, Once: true}); err != nil {
		t.Fatal(err)
	}
	// The files HAProxy loads at start: maps and servers.state.
	if _, err := apply.Apply(ctx, apply.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, routing.ConfigFile))
	var opts []haproxytest.Option
	if s.Strata != "" {
		opts = append(opts, haproxytest.WithCommand(func(p *haproxytest.Process, bin string, args []string) []string {
			cmd := append([]string{s.Strata, "haproxy", "run", "--dir", dir, "--master-socket", p.MasterSocket, "--haproxy", bin}, s.StrataArgs...)
			return append(append(cmd, "--"), args...)
		}))
	}
	s.Proxy = haproxytest.Start(t, string(cfg), opts...)

	runCtx, stop := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- routing.Render(runCtx, s.Data, routing.Options{
			ConsulAddr: consul.Addr, Dir: dir, WaitMin: waitMin, WaitMax: waitMax,
			OnRender: s.apply,
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

// apply runs at each render, as the template signal does in the HAProxy
// task: the apply step of `strata haproxy
// apply`, with the configuration installed where this HAProxy reads it.
func (s *Stack) apply(files []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var applied []apply.Result
	if s.Strata != "" {
		if exited, _ := s.Proxy.Exited(0); exited {
			return nil // the test stopped it: nothing to apply to
		}
		if err := s.Proxy.Signal(apply.ChangeSignal); err != nil {
			return fmt.Errorf("signalling strata haproxy run: %w\n%s", err, s.Proxy.Output())
		}
	} else {
		res, err := apply.Apply(ctx, s.ApplyOptions())
		if err != nil {
			return fmt.Errorf("apply: %w\n%s", err, s.Proxy.Output())
		}
		applied = append(applied, res)
	}
	s.mu.Lock()
	s.renders++
	s.applied = append(s.applied, applied...)
	s.mu.Unlock()
	select {
	case s.reloads <- struct{}{}:
	default:
	}
	return nil
}

// ApplyOptions are the options the stack's render hook passes to
// apply.Apply, for tests that run the apply step themselves.
func (s *Stack) ApplyOptions() apply.Options {
	return apply.Options{
		Dir: s.Dir, ConfigPath: s.Proxy.ConfigPath, Master: s.Proxy.Master(),
		Runtime: &haproxy.Runtime{Socket: filepath.Join(s.Dir, "admin.sock")},
		Settle:  apply.DefaultSettle,
	}
}

// Applied returns what every apply step so far did.
func (s *Stack) Applied() []apply.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]apply.Result(nil), s.applied...)
}

// Answer is what one request through HAProxy got.
type Answer struct {
	Status int
	// Version and Server are the demo backend's headers: who answered.
	Version, Server string
	// Cookies are the cookies set, by name.
	Cookies map[string]*http.Cookie
	// SetCookies are the raw Set-Cookie headers.
	SetCookies []string
	Body       string
}

var noRedirects = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableKeepAlives: true},
}

// Get sends one request through HAProxy with the given cookies and headers
// to the first app's frontend. A "Host" header sets the request's host.
func (s *Stack) Get(path string, cookies map[string]string, headers map[string]string) Answer {
	s.t.Helper()
	return s.GetFrom(s.Front, path, cookies, headers)
}

// GetApp is Get on app's frontend.
func (s *Stack) GetApp(app, path string, cookies map[string]string, headers map[string]string) Answer {
	s.t.Helper()
	front, ok := s.Fronts[app]
	if !ok {
		s.t.Fatalf("no app %s in this stack", app)
	}
	return s.GetFrom(front, path, cookies, headers)
}

// GetFrom is Get on the frontend at front, host:port.
func (s *Stack) GetFrom(front, path string, cookies map[string]string, headers map[string]string) Answer {
	s.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+front+path, nil)
	for k, v := range cookies {
		req.Header.Add("Cookie", k+"="+v)
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := Answer{Status: resp.StatusCode, Version: resp.Header.Get(demo.VersionHeader), Server: resp.Header.Get(demo.NameHeader),
		Cookies: map[string]*http.Cookie{}, SetCookies: resp.Header.Values("Set-Cookie"), Body: string(body)}
	for _, c := range resp.Cookies() {
		a.Cookies[c.Name] = c
	}
	return a
}

// Eventually retries check until it holds, for at most 10 s: KV and catalog
// changes reach HAProxy through a render and an apply step.
func (s *Stack) Eventually(what string, check func() (bool, string)) {
	s.t.Helper()
	s.EventuallyT(s.t, what, check)
}

// EventuallyT is Eventually failing t, a subtest of the stack's test,
// instead of the test that started the stack.
func (s *Stack) EventuallyT(t testing.TB, what string, check func() (bool, string)) {
	t.Helper()
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
	var files strings.Builder
	for _, f := range []string{routing.IntentFile, apply.VersionsMap, apply.LiveMap, apply.CohortsMap} {
		b, _ := os.ReadFile(filepath.Join(s.Dir, f))
		fmt.Fprintf(&files, "%s:\n%s\n", f, b)
	}
	t.Fatalf("%s: still %s after 10s\nHAProxy output:\n%s\n%s", what, last, s.Proxy.Output(), files.String())
}

// Put writes a Consul KV key.
func (s *Stack) Put(key, value string) {
	s.t.Helper()
	if _, err := s.Consul.Client.KV().Put(&consulapi.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
		s.t.Fatal(err)
	}
}

// RenderCount is how many renders have been applied to HAProxy.
func (s *Stack) RenderCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renders
}

// Stream is a long-lived chunked stream through HAProxy.
type Stream struct {
	// Ticks counts the lines received.
	Ticks atomic.Int64
	// Done receives how the stream ended.
	Done chan error
}

// OpenStream opens a /stream request pinned to version and counts its lines
// until ctx ends or the stream does.
func (s *Stack) OpenStream(ctx context.Context, version string) *Stream {
	s.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.Front+"/stream", nil)
	req.Header.Set("Cookie", "strata_version="+version)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		s.t.Fatalf("opening a stream: %v", err)
	}
	st := &Stream{Done: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "version="+version) || strings.HasPrefix(sc.Text(), "tick=") {
				st.Ticks.Add(1)
			}
		}
		st.Done <- sc.Err()
	}()
	return st
}

// MasterReloads is the reload counter of HAProxy's master.
func (s *Stack) MasterReloads() int {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	procs, err := s.Proxy.Master().Procs(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, p := range procs {
		if p.Role == haproxy.RoleMaster {
			return p.Reloads
		}
	}
	s.t.Fatal("show proc lists no master")
	return 0
}
