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
}

// App is one routed web app. It holds only what changes the shape of the
// configuration (addresses, cookie names): versions and the live version
// reach the templates through Consul, so deploying or promoting a version
// never changes the HAProxy job, whose replacement would cut every session
// its allocation holds.
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
}

// NewData collects the routing settings of every web app that has them.
func NewData(cfg *config.Config, dir, statsBind string) Data {
	d := Data{Dir: dir, StatsBind: statsBind, Apps: []App{}}
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
		})
	}
	return d
}

// Template is a consul-template source ready to render.
type Template struct {
	// Name is the source's name in package templates.
	Name string
	// File is the rendered file's name: haproxy.cfg or versions.map.
	File string
	// Contents is the source with the $s and $g lines prepended.
	Contents string
}

// Templates returns the sources with d bound to $s and the patterns of
// package grammar to $g, in render order.
func Templates(d Data) ([]Template, error) {
	js, err := json.Marshal(d)
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
		{templates.Versions, "versions.map"},
		{templates.Config, "haproxy.cfg"},
	} {
		src, err := templates.FS.ReadFile(t.name)
		if err != nil {
			return nil, fmt.Errorf("routing: %w", err)
		}
		out = append(out, Template{Name: t.name, File: t.file, Contents: header + string(src)})
	}
	return out, nil
}
