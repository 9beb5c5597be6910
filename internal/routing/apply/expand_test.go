package apply

import (
	"strings"
	"testing"
)

const structural = `global
    stats socket /x/admin.sock mode 600 level admin

backend strata_none

backend be_web_1
    balance roundrobin
    server-template s 1-2 strata.invalid:1 init-addr last,0.0.0.0 disabled

backend be_web_2
    balance roundrobin
    server-template s 1-2 strata.invalid:1 init-addr last,0.0.0.0 disabled

backend be_web-x_1
    balance roundrobin
    server-template s 1-2 strata.invalid:1 init-addr last,0.0.0.0 disabled
`

func TestExpand(t *testing.T) {
	got, err := Expand(structural, map[string]Limits{"web": {Slots: 4, Servers: 6}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"backend be_web_3\n", "backend be_web_4\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if n := strings.Count(got, "server-template s 1-6 "); n != 4 {
		t.Errorf("%d slots of 6 servers, want 4:\n%s", n, got)
	}
	if !strings.Contains(got, "backend be_web-x_1\n    balance roundrobin\n    server-template s 1-2 ") {
		t.Errorf("another app's slot changed:\n%s", got)
	}
	if strings.Index(got, "backend be_web_4") > strings.Index(got, "backend be_web-x_1") {
		t.Errorf("the new slots are not beside the app's others:\n%s", got)
	}
	again, err := Expand(got, map[string]Limits{"web": {Slots: 4, Servers: 6}})
	if err != nil || again != got {
		t.Errorf("expanding twice changed it (%v):\n%s", err, again)
	}
	same, _ := Expand(structural, map[string]Limits{"web": {Slots: 1, Servers: 1}})
	if same != structural {
		t.Errorf("smaller limits changed it:\n%s", same)
	}
	if _, err := Expand(structural, map[string]Limits{"api": {Slots: 2, Servers: 2}}); err == nil {
		t.Errorf("an app without slots was expanded")
	}
}

func TestNeeded(t *testing.T) {
	in := intent("v1:a@1", "v2:b@2", "v3:c@3,d@4,e@5")
	got := Needed(in, map[string]Limits{"web": {Slots: 3, Servers: 2}}, nil)
	if got["web"] != (Limits{Slots: 3, Servers: 6}) {
		t.Errorf("needed %+v", got)
	}
	if got := Needed(in, map[string]Limits{"web": {Slots: 3, Servers: 3}}, nil); len(got) != 0 {
		t.Errorf("needed %+v when everything fits", got)
	}
	// A slot kept for the sessions of a version gone counts as taken.
	tried := &State{Apps: map[string]*AppState{"web": {Slots: map[int]*Slot{4: {Version: "v0"}}}}}
	if got := Needed(in, map[string]Limits{"web": {Slots: 3, Servers: 3}}, tried); got["web"] != (Limits{Slots: 8, Servers: 3}) {
		t.Errorf("needed %+v with a slot held by v0's sessions", got)
	}
}
