package routing_test

import (
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

// TestAppsSharingABindAreChosenByHost serves two apps on one address, one
// by an exact host and one by a wildcard: each Host reaches its app, with
// that app's cookie and versions; an unknown Host gets 404; a promotion of
// one app leaves the other alone, without a reload.
func TestAppsSharingABindAreChosenByHost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	web := webApp()
	web.Bind, web.Host = "shared", "web.example.com"
	api := routing.App{Name: "api", Bind: "shared", Host: "*.api.example.com", Cookie: "api_v", ServerCookie: "api_s"}
	s := routingtest.StartApps(t, func(s *routingtest.Stack) {
		s.Backend("v1", 1, true)
		s.Backend("v2", 1, false)
		// api's instances reuse web's demo servers: the version header
		// says which web version answered, so api routes are visible.
		for i, v := range []string{"a1", "a2"} {
			port := s.Serve("api-"+v, 1)
			meta := map[string]string{naming.ServiceMetaOrder: naming.SortKey(v)}
			if i == 0 {
				meta[naming.ServiceMetaLive] = "true"
			}
			if err := s.Consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
				ID: "api-" + v, Name: "api", Tags: []string{naming.TagManaged, naming.VersionTag(v)},
				Address: "127.0.0.1", Port: port, Meta: meta,
				Check: &consulapi.AgentServiceCheck{CheckID: "api-" + v + "-ttl", TTL: "1h", Status: consulapi.HealthPassing},
			}); err != nil {
				t.Fatal(err)
			}
		}
	}, []routing.App{web, api}, 10*time.Millisecond, 100*time.Millisecond)
	if s.Fronts["web"] != s.Fronts["api"] {
		t.Fatalf("the apps do not share a bind: %v", s.Fronts)
	}
	host := func(h string) map[string]string { return map[string]string{"Host": h} }

	if a := s.Get("/", nil, host("web.example.com")); a.Version != "v1" || a.Cookies["strata_version"] == nil {
		t.Errorf("web.example.com: %d from %q, cookies %v", a.Status, a.Version, a.SetCookies)
	}
	if a := s.Get("/", nil, host("WEB.example.com:8080")); a.Version != "v1" {
		t.Errorf("WEB.example.com:8080: %d from %q", a.Status, a.Version)
	}
	if a := s.Get("/", nil, host("eu.api.example.com")); a.Version != "api-a1" || a.Cookies["api_v"] == nil || a.Cookies["api_v"].Value != "a1" {
		t.Errorf("eu.api.example.com: %d from %q, cookies %v", a.Status, a.Version, a.SetCookies)
	}
	if a := s.Get("/", map[string]string{"api_v": "a2"}, host("eu.api.example.com")); a.Version != "api-a2" {
		t.Errorf("api pinned to a2: %d from %q", a.Status, a.Version)
	}
	// A cookie of the other app's version means nothing here.
	if a := s.Get("/", map[string]string{"strata_version": "a2"}, host("web.example.com")); a.Version != "v1" {
		t.Errorf("web with api's version in its cookie: %d from %q", a.Status, a.Version)
	}
	for _, h := range []string{"api.example.com", "x.y.api.example.com", "example.com", "other.example.com", ""} {
		if a := s.Get("/", nil, host(h)); a.Status != 404 {
			t.Errorf("Host %q: %d from %q, want 404", h, a.Status, a.Version)
		}
	}
	reloads := s.MasterReloads()
	s.Put("strata/web/live", "v2")
	s.Eventually("web's new sessions go to v2", func() (bool, string) {
		a := s.Get("/", nil, host("web.example.com"))
		return a.Version == "v2", a.Version
	})
	if a := s.Get("/", nil, host("eu.api.example.com")); a.Version != "api-a1" {
		t.Errorf("api after web's promotion: %q", a.Version)
	}
	if got := s.MasterReloads(); got != reloads {
		t.Errorf("%d reloads, want 0", got-reloads)
	}
}
