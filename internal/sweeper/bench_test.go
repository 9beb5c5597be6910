package sweeper

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDecide is one pass of the decision over 10,000 managed jobs
// across 1,000 apps (10 versions each, a third of them draining, sessions
// on some). The goal is well under a second per pass.
func BenchmarkDecide(b *testing.B) {
	inv := Inventory{Live: map[string]string{}, Sessions: map[string]map[string]int{}, Draining: map[string]map[string]time.Time{}, SessionsComplete: true}
	cfg := Config{Policies: map[string]Policy{}, Versions: map[string][]string{}, Live: map[string]string{}, Default: policy}
	for a := range 1000 {
		app := fmt.Sprintf("app%d", a)
		cfg.Policies[app] = policy
		inv.Sessions[app] = map[string]int{}
		inv.Draining[app] = map[string]time.Time{}
		for v := 1; v <= 10; v++ {
			ver := fmt.Sprintf("v%d", v)
			inv.Jobs = append(inv.Jobs, Job{ID: app + "-" + ver, App: app, Version: ver, Kind: KindWeb, FirstSubmit: t0.Add(-time.Duration(100-v) * time.Hour)})
			cfg.Versions[app] = append(cfg.Versions[app], ver)
			if v%3 == 0 {
				inv.Draining[app][ver] = t0.Add(-time.Hour)
			}
			if v%4 == 0 {
				inv.Sessions[app][ver] = v
			}
		}
		inv.Live[app] = "v10"
	}
	b.ReportAllocs()
	for b.Loop() {
		p := Decide(inv, cfg, t0)
		if len(p.Verdicts) != 10000 {
			b.Fatal(len(p.Verdicts))
		}
	}
}
