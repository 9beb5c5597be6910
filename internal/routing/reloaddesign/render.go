package reloaddesign

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	ctconfig "github.com/hashicorp/consul-template/config"
	"github.com/hashicorp/consul-template/manager"
)

//go:embed frozen/haproxy.cfg.ctmpl frozen/versions.map.ctmpl frozen/grammar.json
var frozen embed.FS

// Data is the static part of the routing as the frozen templates read it
// ($s): a copy of routing.Data at the frozen commit.
type Data struct {
	// Dir is where the rendered files live (the map and the admin socket).
	Dir string `json:"dir"`
	// StatsBind is the stats and Prometheus listener.
	StatsBind string `json:"stats_bind"`
	// Apps are the routed web apps.
	Apps []App `json:"apps"`
}

// App is one routed web app: a copy of routing.App at the frozen commit.
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

// template is a frozen source bound to its data, and the file it renders.
type template struct {
	file, contents string
}

// templates binds d and the frozen grammar to the frozen sources, in the
// order the reload design rendered them.
func templates(d Data) ([]template, error) {
	js, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("reloaddesign: encoding template data: %w", err)
	}
	g, err := frozen.ReadFile("frozen/grammar.json")
	if err != nil {
		return nil, fmt.Errorf("reloaddesign: %w", err)
	}
	header := "{{- $s := parseJSON " + strconv.Quote(string(js)) + " -}}\n" +
		"{{- $g := parseJSON " + strconv.Quote(string(g)) + " -}}\n"
	var out []template
	for _, t := range []struct{ src, file string }{
		{"frozen/versions.map.ctmpl", "versions.map"},
		{"frozen/haproxy.cfg.ctmpl", "haproxy.cfg"},
	} {
		src, err := frozen.ReadFile(t.src)
		if err != nil {
			return nil, fmt.Errorf("reloaddesign: %w", err)
		}
		out = append(out, template{file: t.file, contents: header + string(src)})
	}
	return out, nil
}

// renderOptions are routing.Options of the frozen commit, less the token.
type renderOptions struct {
	consulAddr       string
	dir              string
	once             bool
	waitMin, waitMax time.Duration
	onRender         func(files []string) error
}

// render is routing.Render of the frozen commit: it renders the frozen
// templates for d into opts.dir and, unless opts.once, keeps them up to date
// until ctx ends, calling opts.onRender after every pass that wrote a file.
func render(ctx context.Context, d Data, opts renderOptions) error {
	tmpls, err := templates(d)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.dir, 0o755); err != nil {
		return fmt.Errorf("reloaddesign: %w", err)
	}
	c := ctconfig.DefaultConfig()
	c.Consul.Address = new(opts.consulAddr)
	c.Consul.Retry = &ctconfig.RetryConfig{
		Enabled: new(true), Attempts: new(0),
		Backoff: new(250 * time.Millisecond), MaxBackoff: new(5 * time.Second),
	}
	if opts.once {
		c.Consul.Retry.Attempts = new(5)
		c.Consul.Retry.MaxBackoff = new(2 * time.Second)
	}
	c.Once = opts.once
	if opts.waitMin > 0 || opts.waitMax > 0 {
		c.Wait = &ctconfig.WaitConfig{Enabled: new(true), Min: new(opts.waitMin), Max: new(max(opts.waitMin, opts.waitMax))}
	}
	for _, t := range tmpls {
		*c.Templates = append(*c.Templates, &ctconfig.TemplateConfig{
			Contents:    new(t.contents),
			Destination: new(filepath.Join(opts.dir, t.file)),
			Perms:       new(os.FileMode(0o644)),
		})
	}
	c.Finalize()
	runner, err := manager.NewRunner(c, false)
	if err != nil {
		return fmt.Errorf("reloaddesign: %w", err)
	}
	go runner.Start()
	defer runner.Stop()

	rendered := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-runner.ErrCh:
			return fmt.Errorf("reloaddesign: rendering from Consul at %s: %w", opts.consulAddr, err)
		case <-runner.DoneCh:
			return notify(runner, rendered, opts.onRender)
		case <-runner.TemplateRenderedCh():
			if err := notify(runner, rendered, opts.onRender); err != nil {
				return err
			}
		}
	}
}

// notify calls onRender with the files written since the last call, going
// by LastDidRender alone (see routing's notify at the frozen commit).
func notify(runner *manager.Runner, seen map[string]time.Time, onRender func([]string) error) error {
	var changed []string
	for _, ev := range runner.RenderEvents() {
		if ev.LastDidRender.IsZero() {
			continue
		}
		for _, tc := range ev.TemplateConfigs {
			dest := *tc.Destination
			if ev.LastDidRender.After(seen[dest]) {
				seen[dest] = ev.LastDidRender
				changed = append(changed, dest)
			}
		}
	}
	if len(changed) == 0 || onRender == nil {
		return nil
	}
	if err := onRender(changed); err != nil {
		return errors.Join(errors.New("reloaddesign: after rendering"), err)
	}
	return nil
}
