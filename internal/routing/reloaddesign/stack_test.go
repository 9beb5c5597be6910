package reloaddesign_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"testing"

	"github.com/strata-dev/strata/internal/routing/reloaddesign"
)

func TestMain(m *testing.M) {
	// consul-template logs every render at DEBUG through the standard
	// logger; its failures reach the tests as errors anyway.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// TestTheFrozenDesignRoutesAndReloadsOnEveryChange checks that the baseline
// still is what it stands for: it routes new sessions to live and pinned
// ones to their version, and a routing change (a promote) reaches HAProxy
// through a reload, which starts a new worker.
func TestTheFrozenDesignRoutesAndReloadsOnEveryChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	s := reloaddesign.Start(t, func(s *reloaddesign.Stack) {
		s.Backend("v1", 1, false)
		s.Backend("v2", 1, true)
	}, reloaddesign.App{Name: "web", Cookie: "strata_version", ServerCookie: "strata_server"})

	if a := s.Get("/", nil, nil); a.Status != 200 || a.Version != "v2" {
		t.Fatalf("a new session got %d from %q, want v2", a.Status, a.Version)
	}
	if a := s.Get("/", map[string]string{"strata_version": "v1"}, nil); a.Version != "v1" {
		t.Fatalf("a session pinned to v1 got %q", a.Version)
	}
	before := s.MasterReloads()
	s.Put("strata/web/live", "v1")
	s.Eventually("promote v1", func() (bool, string) {
		a := s.Get("/", nil, nil)
		return a.Version == "v1", fmt.Sprintf("a new session on %q", a.Version)
	})
	if after := s.MasterReloads(); after <= before {
		t.Errorf("the master counts %d reloads after the promote, %d before: the reload design reloads on every change", after, before)
	}
}
