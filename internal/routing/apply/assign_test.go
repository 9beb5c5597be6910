package apply

import (
	"reflect"
	"strings"
	"testing"
)

// intent builds an intent of app web with 3 slots of 2 servers from
// "version:id@port,id@port" items.
func intent(items ...string) *Intent {
	a := &AppIntent{Slots: 3, Servers: 2, Versions: map[string]*VersionIntent{}}
	for _, it := range items {
		v, servers, _ := strings.Cut(it, ":")
		vi := &VersionIntent{}
		if d, ok := strings.CutSuffix(v, "!"); ok {
			v, vi.Draining = d, true
		}
		for _, s := range strings.Split(servers, ",") {
			if s == "" {
				continue
			}
			id, port, _ := strings.Cut(s, "@")
			p := 0
			for _, c := range port {
				p = p*10 + int(c-'0')
			}
			vi.Servers = append(vi.Servers, Server{ID: id, Addr: "10.0.0.1", Port: p})
		}
		a.Versions[v] = vi
	}
	return &Intent{Apps: map[string]*AppIntent{"web": a}}
}

// slots summarises an assignment as slot -> "version id[m] id", [m] marking
// a server in maintenance, in server order.
func slots(st *State) map[int]string {
	out := map[int]string{}
	for n, s := range st.Apps["web"].Slots {
		parts := []string{s.Version}
		for k := 1; k <= 4; k++ {
			srv := s.Servers[k]
			switch {
			case srv == nil:
				parts = append(parts, "-")
			case srv.Maint:
				parts = append(parts, srv.ID+"[m]")
			default:
				parts = append(parts, srv.ID)
			}
		}
		out[n] = strings.Join(parts, " ")
	}
	return out
}

func sessions(pairs ...any) Sessions {
	s := Sessions{Backends: map[string]int{}, Servers: map[string]map[string]int{}}
	for i := 0; i < len(pairs); i += 2 {
		name, n := pairs[i].(string), pairs[i+1].(int)
		be, srv, ok := strings.Cut(name, "/")
		if !ok {
			s.Backends[be] += n
			continue
		}
		if s.Servers[be] == nil {
			s.Servers[be] = map[string]int{}
		}
		s.Servers[be][srv] += n
		s.Backends[be] += n
	}
	return s
}

func TestAssign(t *testing.T) {
	cases := []struct {
		sentence  string
		steps     []*Intent
		sess      Sessions // at every step after the first
		want      map[int]string
		exhausted int
	}{
		{
			sentence: "new versions get the lowest free slots, newest first, and instances the lowest servers",
			steps:    []*Intent{intent("v9:a@1", "v10:b@2,c@3")},
			want:     map[int]string{1: "v10 b c - -", 2: "v9 a - - -"},
		},
		{
			sentence: "a version keeps its slot and an instance its server when others come and go",
			steps:    []*Intent{intent("v1:a@1,b@2", "v2:c@3"), intent("v2:c@3", "v3:d@4", "v1:b@2")},
			want:     map[int]string{1: "v2 c - - -", 2: "v1 - b - -", 3: "v3 d - - -"},
		},
		{
			sentence: "an instance that left is freed at once when its server holds no session, and its server is reused",
			steps:    []*Intent{intent("v1:a@1,b@2"), intent("v1:b@2,e@5")},
			want:     map[int]string{1: "v1 e b - -"},
		},
		{
			sentence: "an instance that left while its server holds sessions stays in maintenance, and a new one takes another server",
			steps:    []*Intent{intent("v1:a@1,b@2"), intent("v1:b@2,e@5")},
			sess:     sessions("be_web_1/s1", 1),
			want:     map[int]string{1: "v1 a[m] b - -"},
			// e finds no free server among 2: said so.
			exhausted: 1,
		},
		{
			sentence: "an instance that comes back takes its server back from maintenance",
			steps:    []*Intent{intent("v1:a@1,b@2"), intent("v1:b@2"), intent("v1:a@1,b@2")},
			sess:     sessions("be_web_1/s1", 1),
			want:     map[int]string{1: "v1 a b - -"},
		},
		{
			sentence: "a version that left while its slot holds sessions keeps the slot, its busy servers in maintenance",
			steps:    []*Intent{intent("v1:a@1,b@2", "v2:c@3"), intent("v2:c@3")},
			sess:     sessions("be_web_2/s2", 3),
			want:     map[int]string{1: "v2 c - - -", 2: "v1 - b[m] - -"},
		},
		{
			sentence: "a slot whose version left is freed at 0 sessions and given to the next new version",
			steps:    []*Intent{intent("v1:a@1", "v2:c@3"), intent("v2:c@3"), intent("v2:c@3", "v3:d@4")},
			want:     map[int]string{1: "v2 c - - -", 2: "v3 d - - -"},
		},
		{
			sentence: "a free slot an old worker still holds sessions on is not reused",
			steps:    []*Intent{intent("v2:c@3"), intent("v2:c@3", "v3:d@4")},
			sess:     sessions("be_web_2", 1),
			want:     map[int]string{1: "v2 c - - -", 3: "v3 d - - -"},
		},
		{
			sentence: "a draining version keeps its slot and its servers",
			steps:    []*Intent{intent("v1:a@1", "v2:c@3"), intent("v1!:a@1", "v2:c@3")},
			want:     map[int]string{1: "v2 c - - -", 2: "v1 a - - -"},
		},
		{
			sentence:  "more versions than slots: the oldest are left out and said so",
			steps:     []*Intent{intent("v1:a@1", "v2:b@2", "v3:c@3", "v4:d@4")},
			want:      map[int]string{1: "v4 d - - -", 2: "v3 c - - -", 3: "v2 b - - -"},
			exhausted: 1,
		},
		{
			sentence: "a version whose slot holds sessions and comes back finds its slot and servers",
			steps:    []*Intent{intent("v1:a@1", "v2:b@2"), intent("v2:b@2"), intent("v1:a@1", "v2:b@2")},
			sess:     sessions("be_web_2/s1", 1),
			want:     map[int]string{1: "v2 b - - -", 2: "v1 a - - -"},
		},
		{
			sentence: "an instance that moved to another port keeps its server",
			steps:    []*Intent{intent("v1:a@1"), intent("v1:a@7")},
			want:     map[int]string{1: "v1 a - - -"},
		},
	}
	for _, c := range cases {
		t.Run(c.sentence, func(t *testing.T) {
			st := &State{Apps: map[string]*AppState{}}
			var exhausted []string
			for i, in := range c.steps {
				var s Sessions
				if i > 0 {
					s = c.sess
				}
				st, exhausted = Assign(st, in, s)
			}
			if got := slots(st); !reflect.DeepEqual(got, c.want) {
				t.Errorf("slots:\n got %v\nwant %v", got, c.want)
			}
			if len(exhausted) != c.exhausted {
				t.Errorf("exhausted %q, want %d sentence(s)", exhausted, c.exhausted)
			}
		})
	}
}

func TestAssignIsStableWhenNothingChanges(t *testing.T) {
	in := intent("v1:a@1,b@2", "v2:c@3", "v3:d@4")
	first, _ := Assign(nil, in, Sessions{})
	again, _ := Assign(first, in, Sessions{})
	if !reflect.DeepEqual(first, again) {
		t.Errorf("the same intent moved things:\n%v\n%v", slots(first), slots(again))
	}
}

func TestDesireMapsOnlyAllowedVersions(t *testing.T) {
	in := intent("v1!:a@1", "v2:c@3")
	a := in.Apps["web"]
	a.Live, a.Candidate, a.Weight = "v2", "v1", 30
	a.Cohorts = []Cohort{{Name: "pro", Version: "v2", OptIn: "/pro", OptOut: "/out"}, {Name: "old", Version: "v1", OptIn: "/old"}}
	in.Hosts = []Host{{Frontend: "fe_shared_1", Name: "web.example.com", App: "web"}, {Frontend: "fe_shared_1", Name: "*.example.org", App: "web"}}
	st, _ := Assign(nil, in, Sessions{})
	d := Desire(st, in)
	want := map[string][]Entry{
		VersionsMap:   {{"web/v2", "be_web_1"}},
		SlotsMap:      {{"be_web_1", "web/v2"}, {"be_web_2", "web/v1"}},
		LiveMap:       {{"web", "v2"}},
		CandidatesMap: {},
		WeightsMap:    {},
		CohortsMap:    {{"web/pro", "v2"}, {"web/out", "-"}},
		HostsMap:      {{"fe_shared_1/web.example.com", "web"}},
		WildcardsMap:  {{`^fe_shared_1/[^./]+\.example\.org$`, "web"}},
	}
	if !reflect.DeepEqual(d.Maps, want) {
		t.Errorf("maps:\n got %v\nwant %v", d.Maps, want)
	}
	if len(d.Servers) != 6 || !d.Servers[0].Ready || d.Servers[0].Port != 3 || d.Servers[1].Ready || !d.Servers[2].Ready {
		t.Errorf("servers %+v", d.Servers)
	}
}

func TestNeedsSessions(t *testing.T) {
	base := intent("v1:a@1,b@2", "v2:c@3")
	st, _ := Assign(nil, base, Sessions{})
	promoted := intent("v1:a@1,b@2", "v2:c@3")
	promoted.Apps["web"].Live = "v2"
	drained := intent("v1!:a@1,b@2", "v2:c@3")
	moved := intent("v1:a@1,b@9", "v2:c@3")
	for _, c := range []struct {
		sentence string
		in       *Intent
		want     bool
	}{
		{"a promotion needs no sessions", promoted, false},
		{"a drain needs no sessions", drained, false},
		{"an instance on a new port needs no sessions", moved, false},
		{"an instance gone needs them", intent("v1:a@1", "v2:c@3"), true},
		{"a new instance needs them", intent("v1:a@1,b@2,d@4", "v2:c@3"), true},
		{"a version gone needs them", intent("v1:a@1,b@2"), true},
		{"a new version needs them", intent("v1:a@1,b@2", "v2:c@3", "v3:e@5"), true},
	} {
		t.Run(c.sentence, func(t *testing.T) {
			if got := NeedsSessions(st, c.in); got != c.want {
				t.Errorf("NeedsSessions = %v, want %v", got, c.want)
			}
			if !c.want {
				// Sessions cannot change the answer.
				a, _ := Assign(st, c.in, Sessions{})
				b, _ := Assign(st, c.in, sessions("be_web_1/s1", 1, "be_web_2", 1, "be_web_3", 1))
				if !reflect.DeepEqual(a, b) {
					t.Errorf("sessions changed the assignment")
				}
			}
		})
	}
}
