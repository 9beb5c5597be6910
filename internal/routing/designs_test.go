package routing_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/demo"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing/reloaddesign"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

// design is one routing design running for a test, whichever it is: the
// current one (routingtest.Stack) or the frozen reload design
// (reloaddesign.Stack), so that churn tests and benchmarks run the same
// scenario on both, in the same run. Requests go through front with a
// client of the design's own, never through a Stack's helpers, whose types
// differ.
type design struct {
	// name is "runtime" for the current design, "reload" for the baseline.
	name   string
	consul *consulapi.Client
	master *haproxy.Master
	front  string
	// serve starts a demo server for a version and returns its port;
	// register registers it with an HTTP check, as Nomad would.
	serve    func(v string, n int) int
	register func(id, v string, port int, live bool)
	// ports are the ports of the instances backend started, by the demo
	// name that answers ("<version>-<n>").
	ports map[string]int
}

// webApp's settings, for both designs.
const (
	versionCookie = "strata_version"
	serverCookie  = "strata_server"
)

// startRuntime runs the current design, with strata's template timers
// (config.DefaultTemplateWaitMin to DefaultTemplateWaitMax); setup adds
// backends before the first render.
func startRuntime(tb testing.TB, setup func(d *design)) *design {
	d := &design{name: "runtime"}
	s := routingtest.StartWait(tb, func(s *routingtest.Stack) {
		d.consul, d.serve, d.register = s.Consul.Client, s.Serve, s.Register
		setup(d)
	}, webApp(), config.DefaultTemplateWaitMin, config.DefaultTemplateWaitMax)
	d.master, d.front = s.Proxy.Master(), s.Front
	return d
}

// startRuntimeTask is startRuntime with HAProxy run as the HAProxy task
// runs it, through `<strata> haproxy run`, signalled at each render as
// Nomad's template blocks signal it; strata is the binary.
func startRuntimeTask(tb testing.TB, strata string, setup func(d *design)) *design {
	d := &design{name: "runtime-task"}
	s := routingtest.StartWait(tb, func(s *routingtest.Stack) {
		s.Strata = strata
		d.consul, d.serve, d.register = s.Consul.Client, s.Serve, s.Register
		setup(d)
	}, webApp(), config.DefaultTemplateWaitMin, config.DefaultTemplateWaitMax)
	d.master, d.front = s.Proxy.Master(), s.Front
	return d
}

// strataBuild is strata's binary, built once per test process (buildStrata)
// and removed by TestMain.
var strataBuild struct {
	once      sync.Once
	dir, path string
	err       error
}

// buildStrata returns the path of strata's binary, built the first time a
// test asks for it.
func buildStrata(tb testing.TB) string {
	tb.Helper()
	strataBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "strata-bin")
		if err != nil {
			strataBuild.err = err
			return
		}
		strataBuild.dir, strataBuild.path = dir, filepath.Join(dir, "strata")
		if out, err := exec.Command("go", "build", "-o", strataBuild.path, "github.com/strata-dev/strata/cmd/strata").CombinedOutput(); err != nil {
			strataBuild.err = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if strataBuild.err != nil {
		tb.Fatalf("building strata: %v", strataBuild.err)
	}
	return strataBuild.path
}

// startReload runs the frozen reload design with the timers strata set when
// it was current: wait 50 ms to 1 s.
func startReload(tb testing.TB, setup func(d *design)) *design {
	d := &design{name: "reload"}
	s := reloaddesign.StartWait(tb, func(s *reloaddesign.Stack) {
		d.consul, d.serve, d.register = s.Consul.Client, s.Serve, s.Register
		setup(d)
	}, reloaddesign.App{Name: "web", Cookie: versionCookie, ServerCookie: serverCookie, Header: "X-Strata-Version"}, 50*time.Millisecond, time.Second)
	d.master, d.front = s.Proxy.Master(), s.Front
	return d
}

// designs are the two designs, the baseline first.
var designs = []struct {
	name  string
	start func(testing.TB, func(*design)) *design
}{
	{"reload", startReload},
	{"runtime", startRuntime},
}

// backend starts and registers an instance with an HTTP check, as
// routingtest.Stack.Backend does.
func (d *design) backend(v string, n int, live bool) {
	port := d.serve(v, n)
	if d.ports == nil {
		d.ports = map[string]int{}
	}
	d.ports[fmt.Sprintf("%s-%d", v, n)] = port
	d.register(fmt.Sprintf("_nomad-task-%08d-0000-0000-0000-%012d-web-web-web-http-%s", n, len(v)*1000+n, v), v, port, live)
}

// ttlInstance registers an instance of v on port with a TTL check in the
// given status, so a test turns it passing or critical at once; it returns
// the service ID and the check ID.
func (d *design) ttlInstance(tb testing.TB, id, v string, port int, status string) (string, string) {
	tb.Helper()
	check := id + "-ttl"
	err := d.consul.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: id, Name: "web", Tags: []string{naming.TagManaged, naming.VersionTag(v)},
		Address: "127.0.0.1", Port: port, Meta: map[string]string{naming.ServiceMetaOrder: naming.SortKey(v)},
		Check: &consulapi.AgentServiceCheck{CheckID: check, TTL: "1h", Status: status},
	})
	if err != nil {
		tb.Fatalf("%s: registering %s: %v", d.name, id, err)
	}
	return id, check
}

func (d *design) put(key, value string) error {
	_, err := d.consul.KV().Put(&consulapi.KVPair{Key: key, Value: []byte(value)}, nil)
	return err
}

func (d *design) del(key string) error {
	_, err := d.consul.KV().Delete(key, nil)
	return err
}

// promote sets strata/web/live to v and appends previous to the history,
// as release.Promote writes them.
func (d *design) promote(v, previous string) error {
	hist, _ := json.Marshal([]string{previous})
	ok, _, _, err := d.consul.KV().Txn(consulapi.KVTxnOps{
		{Verb: consulapi.KVSet, Key: "strata/web/live", Value: []byte(v)},
		{Verb: consulapi.KVSet, Key: "strata/web/history", Value: hist},
	}, nil)
	if err == nil && !ok {
		err = fmt.Errorf("promoting %s: the transaction was rolled back", v)
	}
	return err
}

// answer is what one request through the design's HAProxy got.
type answer struct {
	status          int
	version, server string
	err             error
}

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("%d from %s (%s)", a.status, a.version, a.server)
}

// oneShot opens a new connection per request, so no answer comes from an
// old worker through a kept-alive connection, and follows no redirect.
var oneShot = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableKeepAlives: true},
}

// get sends one request for path through the design's HAProxy, pinned to
// version when it is not empty.
func (d *design) get(path, version string) answer {
	req, _ := http.NewRequest("GET", "http://"+d.front+path, nil)
	if version != "" {
		req.Header.Set("Cookie", versionCookie+"="+version)
	}
	resp, err := oneShot.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return answer{status: resp.StatusCode, version: resp.Header.Get(demo.VersionHeader), server: resp.Header.Get(demo.NameHeader)}
}

// stream is a long-lived /stream through the design's HAProxy.
type stream struct {
	// version is the version that answered.
	version string
	lines   atomic.Int64
	ended   chan error
}

// openStream opens a /stream pinned to version; it reads until ctx ends or
// the stream does. It must be answered 200; a version that is draining or
// gone sends it to live, and the stream's version says where it went.
func (d *design) openStream(tb testing.TB, ctx context.Context, version string) *stream {
	tb.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+d.front+"/stream", nil)
	req.Header.Set("Cookie", versionCookie+"="+version)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		tb.Fatalf("%s: opening a stream on %s: %v", d.name, version, err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		tb.Fatalf("%s: a stream pinned to %s got %d from %q", d.name, version, resp.StatusCode, resp.Header.Get(demo.VersionHeader))
	}
	st := &stream{version: resp.Header.Get(demo.VersionHeader), ended: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "tick=") || strings.HasPrefix(sc.Text(), "version=") {
				st.lines.Add(1)
			}
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		st.ended <- err
	}()
	return st
}

// alive reports whether the stream still runs and received a line within
// wait (the demo writes one per 50 ms), and if not, why.
func (st *stream) alive(wait time.Duration) (bool, string) {
	before := st.lines.Load()
	deadline := time.After(wait)
	for {
		select {
		case err := <-st.ended:
			st.ended <- err
			return false, fmt.Sprintf("the stream on %s ended after %d lines: %v", st.version, st.lines.Load(), err)
		case <-deadline:
			return false, fmt.Sprintf("the stream on %s received nothing for %s (%d lines)", st.version, wait, before)
		case <-time.After(10 * time.Millisecond):
			if st.lines.Load() > before {
				return true, ""
			}
		}
	}
}
