package release_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/release"
)

// TestPromoteWithCommitsExtraOperationsInTheSameTransaction: the rollout
// controller's check-and-set goes in promote's transaction: both are
// written, or, when the extra check fails, neither is and the error says
// so; promoting the live version still commits them.
func TestPromoteWithCommitsExtraOperationsInTheSameTransaction(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	s.run("v1", consulapi.HealthPassing)
	s.run("v2", consulapi.HealthPassing)
	s.promote("v1")
	s.put("strata/web/rollout", "running")
	p, _, err := s.kv.Get("strata/web/rollout", nil)
	if err != nil {
		t.Fatal(err)
	}
	stale := &consulapi.KVTxnOp{Verb: consulapi.KVCAS, Key: "strata/web/rollout", Value: []byte("succeeded"), Index: p.ModifyIndex + 1000}
	if _, err := release.PromoteWith(ctx, s.kv, s.health, "web", "v2", "", consulapi.KVTxnOps{stale}); !errors.Is(err, release.ErrPrecondition) {
		t.Fatalf("a failing extra operation: %v, want ErrPrecondition", err)
	}
	if live, hist := s.state(); live != "v1" || len(hist) != 0 {
		t.Fatalf("after a failed extra operation: live %s, history %v; want nothing written", live, hist)
	}
	ok := &consulapi.KVTxnOp{Verb: consulapi.KVCAS, Key: "strata/web/rollout", Value: []byte("succeeded"), Index: p.ModifyIndex}
	prev, err := release.PromoteWith(ctx, s.kv, s.health, "web", "v2", "", consulapi.KVTxnOps{ok})
	if err != nil || prev != "v1" {
		t.Fatalf("PromoteWith: %q, %v", prev, err)
	}
	live, hist := s.state()
	got, _, _ := s.kv.Get("strata/web/rollout", nil)
	if live != "v2" || strings.Join(hist, ",") != "v1" || string(got.Value) != "succeeded" {
		t.Fatalf("live %s, history %v, rollout %s; want v2, [v1], succeeded", live, hist, got.Value)
	}
	// v2 is live already: the extra operation is still committed.
	again := &consulapi.KVTxnOp{Verb: consulapi.KVCAS, Key: "strata/web/rollout", Value: []byte("again"), Index: got.ModifyIndex}
	if _, err := release.PromoteWith(ctx, s.kv, s.health, "web", "v2", "", consulapi.KVTxnOps{again}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.kv.Get("strata/web/rollout", nil); string(got.Value) != "again" {
		t.Errorf("rollout %s, want again", got.Value)
	}
	if _, hist := s.state(); strings.Join(hist, ",") != "v1" {
		t.Errorf("history %v, want [v1]: promoting the live version records nothing", hist)
	}
}
