package routing_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/demo"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

// TestKeptAliveConnectionsLeaveAnOldWorkerAfterAReload: a reload (rare now:
// a routing setting, or slots running out) leaves the old worker with the
// connections it holds, and the apply step changes only the current worker
// at run time. A client's kept-alive connection must therefore not stay on
// the old worker, routed by its old maps: HAProxy closes a stopping
// worker's idle connections, so the client's next request reaches the new
// worker, which has every change since; and the old worker, holding no
// stream, exits.
func TestKeptAliveConnectionsLeaveAnOldWorkerAfterAReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	s := routingtest.Start(t, twoVersions, webApp())
	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1},
	}
	defer client.CloseIdleConnections()
	// get sends a request without cookies on the kept-alive client and
	// says which version answered and whether the connection was reused.
	get := func() (string, bool) {
		t.Helper()
		var reused bool
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.Front+"/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("a request on the kept-alive client: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get(demo.VersionHeader), reused
	}
	if v, _ := get(); v != "v2" {
		t.Fatalf("a new session went to %q, want the live v2", v)
	}
	if v, reused := get(); v != "v2" || !reused {
		t.Fatalf("the second request: %q, connection reused %v; want v2 on the same connection", v, reused)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Proxy.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	// A change only the new worker gets: promote v1.
	s.Put("strata/web/live", "v1")
	s.Eventually("new sessions on new connections go to v1", func() (bool, string) {
		a := s.Get("/", nil, nil)
		return a.Version == "v1", a.Version
	})
	if v, reused := get(); v != "v1" || reused {
		t.Fatalf("the first request on the kept-alive client after the reload went to %q on a reused connection: %v; want v1 on a new one (the old worker closes its idle connections)", v, reused)
	}
	for i := range 5 {
		if v, reused := get(); v != "v1" {
			t.Fatalf("request %d on the kept-alive client went to %q (connection reused: %v): routed by the old worker's maps", i, v, reused)
		}
	}
	s.Eventually("the old worker exits", func() (bool, string) {
		n := workers(t, s.Proxy.Master())
		return n == 1, fmt.Sprintf("%d workers", n)
	})
}
