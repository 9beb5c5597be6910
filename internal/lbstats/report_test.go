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
		{"a one-letter app and a one-digit version are parsed", "be_a_1", "a", "1"},
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

// complete returns a report that validates.
func complete() lbstats.Report {
	return lbstats.Report{
		Node:     "node-1",
		Time:     time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Workers:  2,
		Versions: map[string]map[string]int{"web": {"v1": 1, "v2": 0}},
		Other:    map[string]int{"strata_stats": 0},
	}
}

func TestReportValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(r *lbstats.Report)
		want   string // empty when valid
	}{
		{"a complete report is valid", func(r *lbstats.Report) {}, ""},
		{"a report of a HAProxy without versions is valid", func(r *lbstats.Report) { r.Versions = map[string]map[string]int{} }, ""},
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
