package routing_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

func threeVersions(s *routingtest.Stack) {
	s.Backend("v1", 1, false)
	s.Backend("v1", 2, false)
	s.Backend("v2", 1, true)
	s.Backend("v2", 2, true)
	s.Backend("v3", 1, false)
}

func webApp() routing.App {
	return routing.App{Name: "web", Cookie: "strata_version", ServerCookie: "strata_server", Header: "X-Strata-Version"}
}

func TestLiveRouting(t *testing.T) {
	s := routingtest.Start(t, threeVersions, webApp())

	t.Run("a request without a cookie goes to the live version and is pinned to it", func(t *testing.T) {
		a := s.Get("/", nil, nil)
		if a.Status != 200 || a.Version != "v2" {
			t.Fatalf("got %d from %q, want v2", a.Status, a.Version)
		}
		c := a.Cookies["strata_version"]
		if c == nil || c.Value != "v2" || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode {
			t.Errorf("version cookie = %+v", c)
		}
	})
	t.Run("a pinned cookie goes to its version", func(t *testing.T) {
		for _, v := range []string{"v1", "v2", "v3"} {
			a := s.Get("/", map[string]string{"strata_version": v}, nil)
			if a.Version != v {
				t.Errorf("cookie %s answered by %q", v, a.Version)
			}
			if _, set := a.Cookies["strata_version"]; set {
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
			a := s.Get("/", map[string]string{"strata_version": value}, nil)
			if a.Status != 200 || a.Version != "v2" {
				t.Errorf("%s cookie: %d from %q, want v2", name, a.Status, a.Version)
			}
		}
	})
	t.Run("the trusted header selects a version the way the cookie does", func(t *testing.T) {
		if a := s.Get("/", nil, map[string]string{"X-Strata-Version": "v3"}); a.Version != "v3" {
			t.Errorf("header v3 answered by %q", a.Version)
		}
		if a := s.Get("/", nil, map[string]string{"X-Strata-Version": "nope"}); a.Version != "v2" {
			t.Errorf("header nope answered by %q", a.Version)
		}
	})
	t.Run("a server cookie keeps a session on one server of its version", func(t *testing.T) {
		first := s.Get("/", map[string]string{"strata_version": "v1"}, nil)
		sc := first.Cookies["strata_server"]
		if sc == nil {
			t.Fatalf("no server cookie from %s", first.Server)
		}
		for range 10 {
			a := s.Get("/", map[string]string{"strata_version": "v1", "strata_server": sc.Value}, nil)
			if a.Server != first.Server {
				t.Fatalf("server cookie %s: answered by %s, then %s", sc.Value, first.Server, a.Server)
			}
		}
		// A reload (a cohort key appears) keeps server names: they derive
		// from the Consul service ID.
		before := s.RenderCount()
		s.Put("strata/web/cohorts/sticky-probe", `{"version":"v1","opt_in":"/sticky-probe"}`)
		s.Eventually("a reload after a KV change", func() (bool, string) {
			return s.RenderCount() > before, fmt.Sprintf("%d reloads", s.RenderCount()-before)
		})
		for range 10 {
			a := s.Get("/", map[string]string{"strata_version": "v1", "strata_server": sc.Value}, nil)
			if a.Server != first.Server {
				t.Fatalf("after a reload, server cookie %s went to %s, not %s", sc.Value, a.Server, first.Server)
			}
		}
	})
	t.Run("the opt-in path pins to the cohort's version and opt-out unpins", func(t *testing.T) {
		s.Put("strata/web/cohorts/pro", `{"version":"v3","opt_in":"/trypro","opt_out":"/leavepro"}`)
		var in routingtest.Answer
		s.Eventually("the opt-in path redirects", func() (bool, string) {
			in = s.Get("/trypro", nil, nil)
			return in.Status == 302, fmt.Sprint(in.Status)
		})
		c := in.Cookies["strata_version"]
		if c == nil || c.Value != "v3" {
			t.Fatalf("opt-in set %+v", c)
		}
		for range 3 {
			if a := s.Get("/anything", map[string]string{"strata_version": c.Value}, nil); a.Version != "v3" {
				t.Errorf("after opt-in, answered by %q", a.Version)
			}
		}
		out := s.Get("/leavepro", map[string]string{"strata_version": "v3"}, nil)
		oc := out.Cookies["strata_version"]
		if out.Status != 302 || oc == nil || oc.Value != "" || oc.MaxAge >= 0 {
			t.Errorf("opt-out: %d, cookie %+v", out.Status, oc)
		}
	})
	t.Run("flipping live in KV moves new sessions and keeps pinned ones", func(t *testing.T) {
		s.Put("strata/web/live", "v3")
		s.Eventually("new sessions go to v3", func() (bool, string) {
			a := s.Get("/", nil, nil)
			return a.Version == "v3", a.Version
		})
		if a := s.Get("/", map[string]string{"strata_version": "v1"}, nil); a.Version != "v1" {
			t.Errorf("a session pinned to v1 went to %q", a.Version)
		}
		if a := s.Get("/", map[string]string{"strata_version": "v2"}, nil); a.Version != "v2" {
			t.Errorf("a session pinned to v2 went to %q", a.Version)
		}
		s.Put("strata/web/live", "v2")
		s.Eventually("new sessions go back to v2", func() (bool, string) {
			a := s.Get("/", nil, nil)
			return a.Version == "v2", a.Version
		})
	})
	t.Run("a draining version's stale cookies go to the live version", func(t *testing.T) {
		s.Put("strata/web/draining/v1", "2026-11-26T10:00:00Z")
		s.Eventually("v1 cookies go to v2", func() (bool, string) {
			a := s.Get("/", map[string]string{"strata_version": "v1"}, nil)
			return a.Version == "v2", a.Version
		})
	})
}

func TestPinPathsAndCookiesTheApplicationSets(t *testing.T) {
	app := webApp()
	app.PinPaths = []string{"/record", "/set-cookie"}
	app.MaxAge = 3600
	app.Secure = true
	s := routingtest.Start(t, twoVersions, app)

	versionCookies := func(a routingtest.Answer) []string {
		var out []string
		for _, h := range a.SetCookies {
			if strings.HasPrefix(h, "strata_version=") {
				out = append(out, h)
			}
		}
		return out
	}
	if a := s.Get("/", nil, nil); a.Version != "v2" || len(versionCookies(a)) != 0 {
		t.Errorf("outside the pin paths: %q, cookies %q", a.Version, versionCookies(a))
	}
	a := s.Get("/record/42", nil, nil)
	c := a.Cookies["strata_version"]
	if a.Version != "v2" || c == nil || c.Value != "v2" || c.MaxAge != 3600 || !c.Secure || !c.HttpOnly {
		t.Errorf("under /record: %q, cookie %+v", a.Version, c)
	}
	// The application sets the version cookie itself, on an unpinned
	// session under a pin path: HAProxy adds none of its own.
	a = s.Get("/set-cookie?name=strata_version&value=v1", nil, nil)
	if got := versionCookies(a); len(got) != 1 || !strings.HasPrefix(got[0], "strata_version=v1;") {
		t.Errorf("the application's own cookie: %q", got)
	}
	// And clears it: HAProxy does not put one back.
	a = s.Get("/set-cookie?name=strata_version&value=", nil, nil)
	if got := versionCookies(a); len(got) != 1 || !strings.Contains(got[0], "Max-Age=0") {
		t.Errorf("the application's clearing cookie: %q", got)
	}
}
