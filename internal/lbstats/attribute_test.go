package lbstats_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/lbstats"
)

// backendRow is the BACKEND row of "show stat" for name with scur sessions
// and the given counters.
func backendRow(name string, scur int, counters map[string]string) haproxy.StatRow {
	f := map[string]string{"hrsp_1xx": "0", "hrsp_2xx": "0", "hrsp_3xx": "0", "hrsp_4xx": "0", "hrsp_5xx": "0",
		"hrsp_other": "0", "econ": "0", "eresp": "0"}
	for k, v := range counters {
		f[k] = v
	}
	return haproxy.StatRow{PxName: name, SvName: "BACKEND", Type: haproxy.TypeBackend, Scur: scur, Fields: f}
}

// slots is the slots.map of a worker.
func slots(pairs ...string) map[string][]haproxy.MapEntry {
	var entries []haproxy.MapEntry
	for i := 0; i+1 < len(pairs); i += 2 {
		entries = append(entries, haproxy.MapEntry{Key: pairs[i], Value: pairs[i+1]})
	}
	return map[string][]haproxy.MapEntry{"/alloc/slots.map": entries}
}

// worker is what worker pid of generation gen answered.
func worker(pid int, role haproxy.Role, gen int, maps map[string][]haproxy.MapEntry, rows ...haproxy.StatRow) haproxy.WorkerSnapshot {
	return haproxy.WorkerSnapshot{Proc: haproxy.Proc{PID: pid, Role: role, Type: "worker", Uptime: time.Duration(pid) * time.Second},
		Generation: gen, Stat: rows, Maps: maps}
}

func TestFromSnapshotAttributesEachWorkersSlotsThroughItsOwnSlotsMap(t *testing.T) {
	t.Parallel()
	// The old worker (generation 1) had v1 in slot 1; the current one
	// (generation 2) has v2 in slot 1 and v1 in slot 2, and slot 3 free.
	snap := haproxy.Snapshot{
		Master: haproxy.Proc{PID: 100, Role: haproxy.RoleMaster, Reloads: 2},
		Workers: []haproxy.WorkerSnapshot{
			worker(202, haproxy.RoleCurrent, 2, slots("be_web_1", "web/v2", "be_web_2", "web/v1"),
				backendRow("be_web_1", 2, map[string]string{"hrsp_2xx": "40", "hrsp_5xx": "3", "econ": "1"}),
				backendRow("be_web_2", 0, map[string]string{"hrsp_2xx": "9", "hrsp_4xx": "1", "eresp": "2"}),
				backendRow("be_web_3", 0, nil),
				backendRow("strata_stats", 0, nil),
				haproxy.StatRow{PxName: "be_web_1", SvName: "s1", Type: haproxy.TypeServer, Scur: 2},
			),
			worker(201, haproxy.RoleOld, 1, slots("be_web_1", "web/v1"),
				backendRow("be_web_1", 1, map[string]string{"hrsp_1xx": "1", "hrsp_2xx": "100", "hrsp_5xx": "5", "hrsp_other": "1"}),
				backendRow("be_web_2", 0, nil),
				backendRow("be_web_3", 0, nil),
				backendRow("strata_stats", 1, nil),
			),
		},
	}
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r, err := lbstats.FromSnapshot("node-1", t0, snap)
	if err != nil {
		t.Fatal(err)
	}
	want := lbstats.Report{
		Node: "node-1", Time: t0, Workers: 2, MasterPID: 100, Reloads: 2,
		Versions: map[string]map[string]int{"web": {"v1": 1, "v2": 2}},
		Other:    map[string]int{"be_web_3": 0, "strata_stats": 1},
		Processes: []lbstats.Process{
			{PID: 202, Current: true, Generation: 2, UptimeSeconds: 202, Backends: map[string]lbstats.Backend{
				"be_web_1": {App: "web", Version: "v2", Sessions: 2, Traffic: lbstats.Traffic{Requests: 43, Responses5xx: 3, ConnectionErrors: 1}},
				"be_web_2": {App: "web", Version: "v1", Traffic: lbstats.Traffic{Requests: 10, ResponseErrors: 2}},
			}},
			{PID: 201, Generation: 1, UptimeSeconds: 201, Backends: map[string]lbstats.Backend{
				"be_web_1": {App: "web", Version: "v1", Sessions: 1, Traffic: lbstats.Traffic{Requests: 107, Responses5xx: 5}},
			}},
		},
		Traffic: map[string]map[string]lbstats.Traffic{"web": {
			"v1": {Requests: 117, Responses5xx: 5, ResponseErrors: 2},
			"v2": {Requests: 43, Responses5xx: 3, ConnectionErrors: 1},
		}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("FromSnapshot =\n%+v\nwant\n%+v", r, want)
	}
	if err := r.ValidateTraffic(); err != nil {
		t.Errorf("the report does not validate: %v", err)
	}
}

func TestFromSnapshotKeepsBackendsNamedForAVersionAndDropsNothingElse(t *testing.T) {
	t.Parallel()
	// A worker from before slots: no slots.map, backends named for their
	// version.
	snap := haproxy.Snapshot{Master: haproxy.Proc{PID: 100, Role: haproxy.RoleMaster},
		Workers: []haproxy.WorkerSnapshot{worker(201, haproxy.RoleCurrent, 0, map[string][]haproxy.MapEntry{},
			backendRow("be_web_v1", 3, nil), backendRow("be_api-gw_1.10.0", 0, nil), backendRow("be_web_V1", 2, nil),
			backendRow("be_web_4", 0, nil))}}
	r, err := lbstats.FromSnapshot("node-1", time.Unix(1, 0), snap)
	if err != nil {
		t.Fatal(err)
	}
	wantVersions := map[string]map[string]int{"web": {"v1": 3}, "api-gw": {"1.10.0": 0}}
	wantOther := map[string]int{"be_web_V1": 2, "be_web_4": 0}
	if !reflect.DeepEqual(r.Versions, wantVersions) || !reflect.DeepEqual(r.Other, wantOther) {
		t.Errorf("FromSnapshot = versions %v, other %v; want %v, %v", r.Versions, r.Other, wantVersions, wantOther)
	}
}

func TestFromSnapshotRefusesWhatItCannotAttribute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		w    haproxy.WorkerSnapshot
		want string
	}{
		{"a slot with sessions that the worker's slots.map does not assign",
			worker(201, haproxy.RoleOld, 0, slots("be_web_1", "web/v1"), backendRow("be_web_2", 1, nil)),
			"worker 201: slot be_web_2 holds 1 sessions but the worker has no entry for it in /alloc/slots.map"},
		{"a slot with sessions in a worker without a slots.map",
			worker(201, haproxy.RoleOld, 0, nil, backendRow("be_web_2", 1, nil)),
			"worker 201: slot be_web_2 holds 1 sessions but the worker loads no slots.map"},
		{"an entry that is not a slot",
			worker(201, haproxy.RoleCurrent, 0, slots("be_web_v1", "web/v1"), backendRow("be_web_1", 0, nil)),
			`entry 1 (be_web_v1 web/v1): "be_web_v1" is not a slot`},
		{"an entry naming another app",
			worker(201, haproxy.RoleCurrent, 0, slots("be_web_1", "api/v1"), backendRow("be_web_1", 0, nil)),
			"entry 1 (be_web_1 api/v1): want web/<version>"},
		{"an entry without a version",
			worker(201, haproxy.RoleCurrent, 0, slots("be_web_1", "web/"), backendRow("be_web_1", 0, nil)),
			"want web/<version>"},
		{"a slot assigned twice",
			worker(201, haproxy.RoleCurrent, 0, slots("be_web_1", "web/v1", "be_web_1", "web/v2"), backendRow("be_web_1", 0, nil)),
			"entry 2 (be_web_1 web/v2): the slot is assigned twice"},
		{"two slots maps",
			worker(201, haproxy.RoleCurrent, 0, map[string][]haproxy.MapEntry{"/a/slots.map": nil, "/b/slots.map": nil}, backendRow("be_web_1", 0, nil)),
			"worker 201 loads two slots maps"},
		{"a counter that is not a number",
			worker(201, haproxy.RoleCurrent, 0, slots("be_web_1", "web/v1"), backendRow("be_web_1", 0, map[string]string{"econ": "x"})),
			`backend be_web_1: econ "x" is not a count`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := haproxy.Snapshot{Master: haproxy.Proc{PID: 100, Role: haproxy.RoleMaster}, Workers: []haproxy.WorkerSnapshot{tc.w}}
			r, err := lbstats.FromSnapshot("node-1", time.Unix(1, 0), snap)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("FromSnapshot = %+v, %v; want an error containing %q", r, err, tc.want)
			}
		})
	}
}

func TestIsSlotsMap(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]bool{
		"/alloc/data/slots.map": true,
		"slots.map":             true,
		"routing/slots.map":     true,
		"/alloc/oldslots.map":   false,
		"/alloc/slots.map.tmp":  false,
		"/alloc/versions.map":   false,
	} {
		if got := lbstats.IsSlotsMap(file); got != want {
			t.Errorf("IsSlotsMap(%q) = %v, want %v", file, got, want)
		}
	}
}
