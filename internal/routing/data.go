package routing

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/routing/grammar"
	"github.com/strata-dev/strata/templates"
)

// Data is the static part of the routing: what strata.yaml says. Templates
// see it as $s.
type Data struct {
	// Dir is where the rendered files live (the map and the admin socket).
	// In a Nomad task it is left empty and the templates use
	// $NOMAD_TASK_DIR.
	Dir string `json:"dir"`
	// StatsBind is the stats and Prometheus listener; in a Nomad task
	// $NOMAD_ADDR_stats takes precedence.
	StatsBind string `json:"stats_bind"`
	// Apps are the routed web apps, by name.
	Apps []App `json:"apps"`
	// MworkerMaxReloads is HAProxy's mworker-max-reloads; 0 means
	// UnboundedReloads.
	MworkerMaxReloads int `json:"mworker_max_reloads,omitempty"`
}

// templateData is Data as the templates see it ($s).
type templateData struct {
	Dir               string        `json:"dir"`
	StatsBind         string        `json:"stats_bind"`
	MworkerMaxReloads int           `json:"mworker_max_reloads,string"`
	Apps              []templateApp `json:"apps"`
	Frontends         []Frontend    `json:"frontends"`
}

func (d Data) template() templateData {
	t := templateData{Dir: d.Dir, StatsBind: d.StatsBind, MworkerMaxReloads: d.MworkerMaxReloads,
		Apps: []templateApp{}, Frontends: d.Frontends()}
	if t.MworkerMaxReloads <= 0 {
		t.MworkerMaxReloads = UnboundedReloads
	}
	for _, a := range d.Apps {
		t.Apps = append(t.Apps, d.templateApp(a))
	}
	return t
}

// App is one routed web app. It holds only what changes the shape of the
// configuration (addresses, cookie names, slot counts): versions and the
// live version reach the templates through Consul, so deploying or promoting
// a version never changes the HAProxy job, whose replacement would cut every
// session its allocation holds.
type App struct {
	Name         string   `json:"name"`
	Bind         string   `json:"bind"`
	Host         string   `json:"host,omitempty"`
	Cookie       string   `json:"cookie"`
	ServerCookie string   `json:"server_cookie"`
	MaxAge       int64    `json:"max_age,omitempty"`
	Secure       bool     `json:"secure,omitempty"`
	PinPaths     []string `json:"pin_paths,omitempty"`
	Header       string   `json:"header,omitempty"`
	// MaxVersions is the number of version slots (backends be_<app>_<n>);
	// 0 means DefaultMaxVersions.
	MaxVersions int `json:"-"`
	// MaxServers is the number of pre-allocated servers in each slot; 0
	// means DefaultMaxServers.
	MaxServers int `json:"-"`
}

// Slot counts used when an App leaves them at 0 (config's defaults).
const (
	DefaultMaxVersions = 8
	DefaultMaxServers  = 16
)

// UnboundedReloads is the mworker-max-reloads strata writes when
// strata.yaml sets none: HAProxy 2.6 takes no "unlimited" keyword and 0
// would end every old worker, sessions and all, at the next reload.
const UnboundedReloads = 2147483647

// Versions returns a's slot count, its default applied.
func (a App) Versions() int {
	if a.MaxVersions > 0 {
		return a.MaxVersions
	}
	return DefaultMaxVersions
}

// Servers returns a's servers per slot, its default applied.
func (a App) Servers() int {
	if a.MaxServers > 0 {
		return a.MaxServers
	}
	return DefaultMaxServers
}

// SlotName is the backend of a's slot n (1-based): be_<app>_<n>.
func SlotName(app string, n int) string { return "be_" + app + "_" + strconv.Itoa(n) }

// ServerName is the n-th pre-allocated server (1-based) of every slot.
func ServerName(n int) string { return "s" + strconv.Itoa(n) }

// Frontend is one HAProxy frontend: one per distinct bind. Apps sharing a
// bind are told apart by their Host header.
type Frontend struct {
	Name string `json:"name"`
	Bind string `json:"bind"`
	// Shared is true when several apps share the bind.
	Shared bool `json:"shared"`
	// ByHost is true when the app is chosen (or the request refused) by
	// the Host header: a shared bind, or an app with a host.
	ByHost bool          `json:"by_host"`
	Apps   []templateApp `json:"apps"`
}

// templateApp is an App as the templates see it, with what they cannot
// compute themselves.
type templateApp struct {
	App
	Slots       []string `json:"slots"`
	CookieKey   string   `json:"cookie_key"`
	MaxVersionN int      `json:"max_versions"`
	MaxServerN  int      `json:"max_servers"`
}

// Frontends groups d's apps by bind, in the order of their first app.
func (d Data) Frontends() []Frontend {
	var out []Frontend
	index := map[string]int{}
	for _, a := range d.Apps {
		i, ok := index[a.Bind]
		if !ok {
			i = len(out)
			index[a.Bind] = i
			out = append(out, Frontend{Name: "fe_" + a.Name, Bind: a.Bind})
		}
		out[i].Apps = append(out[i].Apps, d.templateApp(a))
	}
	for i := range out {
		f := &out[i]
		f.Shared = len(f.Apps) > 1
		if f.Shared {
			f.Name = "fe_shared_" + strconv.Itoa(i+1)
		}
		f.ByHost = f.Shared || f.Apps[0].Host != ""
	}
	return out
}

func (d Data) templateApp(a App) templateApp {
	t := templateApp{App: a, CookieKey: "strata-" + a.Name, MaxVersionN: a.Versions(), MaxServerN: a.Servers()}
	for n := 1; n <= a.Versions(); n++ {
		t.Slots = append(t.Slots, SlotName(a.Name, n))
	}
	return t
}

// NewData collects the routing settings of every web app that has them.
func NewData(cfg *config.Config, dir, statsBind string) Data {
	d := Data{Dir: dir, StatsBind: statsBind, Apps: []App{}, MworkerMaxReloads: cfg.HAProxy.MworkerMaxReloadsSetting()}
	for _, a := range cfg.Apps {
		r := a.Routing
		if a.Kind != config.KindWeb || r == nil {
			continue
		}
		d.Apps = append(d.Apps, App{
			Name: a.Name, Bind: r.Bind, Host: r.Host,
			Cookie: r.Cookie, ServerCookie: r.ServerCookie,
			MaxAge: int64(r.CookieMaxAge.Seconds()), Secure: r.Secure,
			PinPaths: r.PinPaths, Header: r.Header,
			MaxVersions: r.MaxVersions, MaxServers: r.MaxServers,
		})
	}
	return d
}

// Names of the files the templates render into the routing directory.
const (
	// ConfigFile is HAProxy's structural configuration.
	ConfigFile = "haproxy.cfg"
	// IntentFile is the desired routing state the apply step reads.
	IntentFile = "routing.intent"
)

// Template is a consul-template source ready to render.
type Template struct {
	// Name is the source's name in package templates.
	Name string
	// File is the rendered file's name: ConfigFile or IntentFile.
	File string
	// Contents is the source with the $s and $g lines prepended.
	Contents string
}

// Templates returns the sources with d bound to $s and the patterns of
// package grammar to $g, in render order.
func Templates(d Data) ([]Template, error) {
	js, err := json.Marshal(d.template())
	if err != nil {
		return nil, fmt.Errorf("routing: encoding template data: %w", err)
	}
	g, err := json.Marshal(grammar.Template())
	if err != nil {
		return nil, fmt.Errorf("routing: encoding the grammars: %w", err)
	}
	header := "{{- $s := parseJSON " + strconv.Quote(string(js)) + " -}}\n" +
		"{{- $g := parseJSON " + strconv.Quote(string(g)) + " -}}\n"
	var out []Template
	for _, t := range []struct{ name, file string }{
		{templates.Intent, IntentFile},
		{templates.Config, ConfigFile},
	} {
		src, err := templates.FS.ReadFile(t.name)
		if err != nil {
			return nil, fmt.Errorf("routing: %w", err)
		}
		out = append(out, Template{Name: t.name, File: t.file, Contents: header + string(src)})
	}
	return out, nil
}
