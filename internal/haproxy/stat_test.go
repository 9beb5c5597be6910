package haproxy

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseStatReadsAnOldWorkersAnswer(t *testing.T) {
	rows, err := ParseStat(readTestdata(t, "showstat-old-worker.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := []StatRow{
		{PxName: "fe", SvName: "FRONTEND", Type: TypeFrontend, Status: "STOP", Scur: 1, Smax: 1, Stot: 1},
		{PxName: "be", SvName: "s1", Type: TypeServer, Status: "no check", Scur: 1, Smax: 1, Stot: 1},
		{PxName: "be", SvName: "BACKEND", Type: TypeBackend, Status: "UP", Scur: 1, Smax: 1, Stot: 1},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		got := rows[i]
		if got.Fields["pxname"] != w.PxName || got.Fields["scur"] != strconv.Itoa(w.Scur) || len(got.Fields) < 100 {
			t.Errorf("row %d: Fields = %v, want every column, pxname %q and scur %d", i, got.Fields, w.PxName, w.Scur)
		}
		got.Fields = nil
		if !reflect.DeepEqual(got, w) {
			t.Errorf("row %d = %+v, want %+v", i, got, w)
		}
	}
	if got := BackendSessions(rows); len(got) != 1 || got["be"] != 1 {
		t.Errorf("BackendSessions = %v, want map[be:1]", got)
	}
}

func TestParseStatRejectsAnswersThatAreNotWholeTables(t *testing.T) {
	whole := readTestdata(t, "showstat-old-worker.csv")
	for _, tc := range []struct {
		name, out, wantErr string
	}{
		{"an empty answer", "", "empty answer"},
		{"the master's answer for a PID it does not know", readTestdata(t, "showstat-gone.txt"), "header"},
		{"an answer cut at the end of a line", strings.TrimSuffix(whole, "\n"), "cut"},
		{"an answer cut inside a line", whole[:strings.Index(whole, "be,BACKEND")+20] + "\n\n", "wrong number of fields"},
		{"a count that is not a number", strings.Replace(whole, "be,BACKEND,0,0,1,", "be,BACKEND,0,0,x,", 1), `scur "x"`},
		{"a header without scur", strings.Replace(whole, ",scur,", ",sxyz,", 1), "no scur column"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseStat(tc.out)
			if err == nil {
				t.Fatalf("ParseStat = %+v, want an error", rows)
			}
			if !errors.Is(err, errBadAnswer) {
				t.Errorf("error %v does not wrap errBadAnswer", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestBackendSessionsSumsOnlyBackendRows(t *testing.T) {
	rows := []StatRow{
		{PxName: "fe", Type: TypeFrontend, Scur: 7},
		{PxName: "app-v1", Type: TypeServer, Scur: 2},
		{PxName: "app-v1", Type: TypeBackend, Scur: 3},
		{PxName: "app-v2", Type: TypeBackend, Scur: 0},
	}
	got := BackendSessions(rows)
	if len(got) != 2 || got["app-v1"] != 3 || got["app-v2"] != 0 {
		t.Errorf("BackendSessions = %v, want map[app-v1:3 app-v2:0]", got)
	}
}

func TestProxyTypeNamesItsRows(t *testing.T) {
	for typ, want := range map[ProxyType]string{TypeFrontend: "FRONTEND", TypeBackend: "BACKEND",
		TypeServer: "server", TypeListener: "listener", ProxyType(9): "ProxyType(9)"} {
		if got := typ.String(); got != want {
			t.Errorf("ProxyType(%d).String() = %q, want %q", int(typ), got, want)
		}
	}
}
