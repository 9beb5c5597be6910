package lbstats_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/lbstats"
)

func TestParseBackend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, backend string
		app, version  string // empty when it is not a version
	}{
		{"a version of an app is parsed", "be_web_v10", "web", "v10"},
		{"a backend of an app with a dash is parsed", "be_api-gw_1.10.0", "api-gw", "1.10.0"},
		{"a version with dots and dashes is parsed", "be_web_2026.11-rc1", "web", "2026.11-rc1"},
		{"a one-letter app and a one-letter version are parsed", "be_a_x", "a", "x"},
		{"a slot is not a version", "be_a_1", "", ""},
		{"a version of digits is a slot, not a version", "be_web_20261130", "", ""},
		{"be_web_V1 is not a version", "be_web_V1", "", ""},
		{"strata_stats is other", "strata_stats", "", ""},
		{"a frontend's name is other", "fe_web", "", ""},
		{"BE_web_v1 in capitals is other", "BE_web_v1", "", ""},
		{"a third underscore makes it other", "be_web_v1_old", "", ""},
		{"an app starting with a digit is other", "be_1web_v1", "", ""},
		{"an app ending in a dash is other", "be_web-_v1", "", ""},
		{"a version ending in a dot is other", "be_web_v1.", "", ""},
		{"a version starting with a dash is other", "be_web_-v1", "", ""},
		{"an empty version is other", "be_web_", "", ""},
		{"an empty app is other", "be__v1", "", ""},
		{"a name without a version is other", "be_web", "", ""},
		{"the prefix alone is other", "be_", "", ""},
		{"an empty name is other", "", "", ""},
		{"a version of 33 characters is other", "be_web_" + strings.Repeat("1", 33), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, version, ok := lbstats.ParseBackend(tc.backend)
			if want := tc.app != ""; ok != want || app != tc.app || version != tc.version {
				t.Errorf("ParseBackend(%q) = %q, %q, %v; want %q, %q, %v", tc.backend, app, version, ok, tc.app, tc.version, want)
			}
		})
	}
}

func TestParseSlot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, backend string
		app           string // empty when it is not a slot
		n             int
	}{
		{"a slot of an app is parsed", "be_web_3", "web", 3},
		{"a slot of an app with a dash is parsed", "be_api-gw_12", "api-gw", 12},
		{"a slot with a leading zero is still a slot", "be_web_07", "web", 7},
		{"a version is not a slot", "be_web_v1", "", 0},
		{"a version with digits and dots is not a slot", "be_web_1.10", "", 0},
		{"an empty number is not a slot", "be_web_", "", 0},
		{"an app outside the grammar is not a slot", "be_Web_1", "", 0},
		{"a third underscore is not a slot", "be_web_1_2", "", 0},
		{"a number of ten digits is not a slot", "be_web_1234567890", "", 0},
		{"strata_stats is not a slot", "strata_stats", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, n, ok := lbstats.ParseSlot(tc.backend)
			if want := tc.app != ""; ok != want || app != tc.app || n != tc.n {
				t.Errorf("ParseSlot(%q) = %q, %d, %v; want %q, %d, %v", tc.backend, app, n, ok, tc.app, tc.n, want)
			}
		})
	}
}

// complete returns a report that validates: a current worker that
// serves v2 in slot 1 and v1 in slot 2, and an old worker from before
// that still holds a session of v1 in slot 1.
func complete() lbstats.Report {
	return lbstats.Report{
		Node:      "node-1",
		Time:      time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Workers:   2,
		Versions:  map[string]map[string]int{"web": {"v1": 1, "v2": 0}},
		Other:     map[string]int{"strata_stats": 0},
		MasterPID: 100,
		Reloads:   3,
		Processes: []lbstats.Process{
			{PID: 201, Current: true, Generation: 3, UptimeSeconds: 60, Backends: map[string]lbstats.Backend{
				"be_web_1": {App: "web", Version: "v2", Traffic: lbstats.Traffic{Requests: 10, Responses5xx: 1}},
				"be_web_2": {App: "web", Version: "v1", Traffic: lbstats.Traffic{Requests: 5}},
			}},
			{PID: 200, Generation: 2, UptimeSeconds: 3600, Backends: map[string]lbstats.Backend{
				"be_web_1": {App: "web", Version: "v1", Sessions: 1, Traffic: lbstats.Traffic{Requests: 7, ConnectionErrors: 1}},
			}},
		},
		Traffic: map[string]map[string]lbstats.Traffic{"web": {
			"v1": {Requests: 12, ConnectionErrors: 1},
			"v2": {Requests: 10, Responses5xx: 1},
		}},
	}
}

// legacy returns a report as a sidecar from before per-worker counters
// sends it.
func legacy() lbstats.Report {
	r := complete()
	r.MasterPID, r.Reloads, r.Processes, r.Traffic = 0, 0, nil, nil
	return r
}

// setBackend replaces one backend of one process of r.
func setBackend(r *lbstats.Report, i int, name string, change func(b *lbstats.Backend)) {
	b := r.Processes[i].Backends[name]
	change(&b)
	r.Processes[i].Backends[name] = b
}

func TestReportValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(r *lbstats.Report)
		want   string // empty when valid
	}{
		{"a complete report is valid", func(r *lbstats.Report) {}, ""},
		{"a report of a HAProxy without versions is valid", func(r *lbstats.Report) {
			r.Versions, r.Traffic = map[string]map[string]int{}, map[string]map[string]lbstats.Traffic{}
			r.Processes[0].Backends, r.Processes[1].Backends = map[string]lbstats.Backend{}, map[string]lbstats.Backend{}
		}, ""},
		{"a report without others is valid", func(r *lbstats.Report) { r.Other = nil }, ""},
		{"a report without a node is invalid", func(r *lbstats.Report) { r.Node = "" }, "no node"},
		{"a report without a time is invalid", func(r *lbstats.Report) { r.Time = time.Time{} }, "no time"},
		{"a report without workers is invalid", func(r *lbstats.Report) { r.Workers = 0 }, "workers is 0"},
		{"a report without a versions object is invalid", func(r *lbstats.Report) { r.Versions = nil }, "no versions object"},
		{"an app outside the grammar is invalid", func(r *lbstats.Report) { r.Versions["Web"] = map[string]int{"v1": 0} }, `"Web" is not a valid app name`},
		{"a version outside the grammar is invalid", func(r *lbstats.Report) { r.Versions["web"]["V_2"] = 0 }, `"V_2" is not a valid version`},
		{"an app whose versions are null is invalid", func(r *lbstats.Report) { r.Versions["api"] = nil }, "versions.api: null"},
		{"a negative count is invalid", func(r *lbstats.Report) { r.Versions["web"]["v1"] = -1 }, "versions.web.v1: -1 sessions"},
		{"a negative count of another backend is invalid", func(r *lbstats.Report) { r.Other["strata_stats"] = -1 }, "other.strata_stats: -1"},
		{"a report without processes and traffic (an older sidecar) is valid", func(r *lbstats.Report) { *r = legacy() }, ""},
		{"processes without traffic are invalid", func(r *lbstats.Report) { r.Traffic = nil }, "one of them is missing"},
		{"traffic without processes is invalid", func(r *lbstats.Report) { r.Processes = nil }, "one of them is missing"},
		{"fewer processes than workers is invalid", func(r *lbstats.Report) { r.Workers = 3 }, "2 processes for 3 workers"},
		{"a process ID twice is invalid", func(r *lbstats.Report) { r.Processes[1].PID = 201 }, "pid 201"},
		{"no current worker is invalid", func(r *lbstats.Report) { r.Processes[0].Current = false }, "no current worker"},
		{"a generation after the master's reloads is invalid", func(r *lbstats.Report) { r.Processes[0].Generation = 4 }, "generation 4"},
		{"a process without a backends object is invalid", func(r *lbstats.Report) {
			r.Processes[0].Backends = nil
			r.Versions["web"]["v2"] = 0
		}, "no backends object"},
		{"sessions that are not the sum of the processes' are invalid", func(r *lbstats.Report) { r.Versions["web"]["v1"] = 2 }, "not the sum"},
		{"a version no process serves is invalid", func(r *lbstats.Report) { r.Versions["web"]["v9"] = 0 }, "not the sum"},
		{"traffic that is not the sum of the processes' is invalid", func(r *lbstats.Report) {
			r.Traffic["web"]["v1"] = lbstats.Traffic{Requests: 13, ConnectionErrors: 1}
		}, "not the sum"},
		{"a slot attributed to another app is invalid", func(r *lbstats.Report) {
			setBackend(r, 0, "be_web_1", func(b *lbstats.Backend) { b.App = "api" })
		}, "a slot of app web attributed to app api"},
		{"a version backend attributed to another version is invalid", func(r *lbstats.Report) {
			r.Processes[0].Backends["be_web_v2"] = r.Processes[0].Backends["be_web_1"]
			delete(r.Processes[0].Backends, "be_web_1")
			r.Processes[0].Backends["be_web_v3"] = lbstats.Backend{App: "web", Version: "v2"}
		}, "backends.be_web_v3: neither a slot"},
		{"a version outside the grammar in a process is invalid", func(r *lbstats.Report) {
			setBackend(r, 0, "be_web_1", func(b *lbstats.Backend) { b.Version = "V2" })
		}, `version "V2"`},
		{"a negative counter is invalid", func(r *lbstats.Report) {
			setBackend(r, 0, "be_web_1", func(b *lbstats.Backend) { b.ResponseErrors = -1 })
		}, "a negative count"},
		{"more 5xx than responses is invalid", func(r *lbstats.Report) {
			setBackend(r, 0, "be_web_1", func(b *lbstats.Backend) { b.Responses5xx = 11 })
		}, "11 5xx responses of 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := complete()
			tc.change(&r)
			err := r.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestValidateTrafficRefusesAReportWithoutCounters(t *testing.T) {
	t.Parallel()
	if err := complete().ValidateTraffic(); err != nil {
		t.Errorf("ValidateTraffic of a complete report = %v", err)
	}
	err := legacy().ValidateTraffic()
	if err == nil || !strings.Contains(err.Error(), "predates per-worker counters") {
		t.Errorf("ValidateTraffic of a report without counters = %v, want an error saying the sidecar predates them", err)
	}
	r := complete()
	r.Node = ""
	if err := r.ValidateTraffic(); err == nil || !strings.Contains(err.Error(), "no node") {
		t.Errorf("ValidateTraffic of a report without a node = %v, want Validate's error", err)
	}
}

func TestTrafficAdd(t *testing.T) {
	t.Parallel()
	got := lbstats.Traffic{Requests: 1, Responses5xx: 2, ConnectionErrors: 3, ResponseErrors: 4}.Add(lbstats.Traffic{Requests: 10, Responses5xx: 20, ConnectionErrors: 30, ResponseErrors: 40})
	if want := (lbstats.Traffic{Requests: 11, Responses5xx: 22, ConnectionErrors: 33, ResponseErrors: 44}); got != want {
		t.Errorf("Add = %+v, want %+v", got, want)
	}
}
