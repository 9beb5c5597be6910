package rollout

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/release"
	"github.com/strata-dev/strata/internal/routing/measure"
)

// BenchmarkWeightChangeVsPromote times, in the same run and on the same
// chain (real Consul, templates, apply step, HAProxy), how long a rollout's
// weight change in KV takes to reach HAProxy, beside a promote: from the KV
// write until a new session lands where the change sends it. The weight
// alternates between 0 and 100 and the promotion between v4 and v3, so
// that each change has one observable outcome. It reports ms per change
// for each, and their ratio (weight/promote).
func BenchmarkWeightChangeVsPromote(b *testing.B) {
	e := startE2E(b, 0)
	ctx := context.Background()
	kv, health := e.s.Consul.Client.KV(), e.s.Consul.Client.Health()
	newSessionOn := func(v string) func() (bool, string) {
		return func() (bool, string) {
			_, got, _, err := e.get("")
			return got == v, fmt.Sprintf("%q, %v", got, err)
		}
	}
	timed := func(change func() error, routed func() (bool, string)) time.Duration {
		took, err := measure.Convergence(change, routed, time.Millisecond, 5000, 15*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		return took
	}
	_, err := Start(ctx, kv, health, "web", "v4", "v3", Settings{Steps: []int{100}, Interval: Duration(time.Hour), MaxErrorRate: 0.01, MinRequests: 1, OnFailure: OnFailureStay}, time.Now(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	setWeight := func(w int) func() error {
		return func() error {
			cur, idx, _, err := Read(ctx, kv, "web")
			if err != nil {
				return err
			}
			cur.Weight = w
			ok, err := Write(ctx, kv, cur, idx)
			if err == nil && !ok {
				err = fmt.Errorf("the rollout changed while the benchmark wrote it")
			}
			return err
		}
	}
	// The rollout's weight starts at 0 and the live version at v3.
	timed(setWeight(0), newSessionOn("v3"))
	promote := func(v string) func() error {
		return func() error { _, err := release.Promote(ctx, kv, health, "web", v); return err }
	}
	timed(promote("v3"), newSessionOn("v3"))
	var weight, prom time.Duration
	for b.Loop() {
		weight += timed(setWeight(100), newSessionOn("v4"))
		weight += timed(setWeight(0), newSessionOn("v3"))
		prom += timed(promote("v4"), newSessionOn("v4"))
		prom += timed(promote("v3"), newSessionOn("v3"))
	}
	n := float64(2 * b.N)
	b.ReportMetric(float64(weight.Microseconds())/1000/n, "weight-ms/change")
	b.ReportMetric(float64(prom.Microseconds())/1000/n, "promote-ms/change")
	b.ReportMetric(float64(weight)/float64(prom), "weight/promote")
	b.ReportMetric(0, "ns/op")
}
