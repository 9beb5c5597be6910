package routing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	ctconfig "github.com/hashicorp/consul-template/config"
	"github.com/hashicorp/consul-template/manager"
)

// safePath is what a path in HAProxy's configuration may hold unquoted.
var safePath = regexp.MustCompile(`^[A-Za-z0-9_./-]*$`)

// Options say where Render reads and writes.
type Options struct {
	// ConsulAddr and Token reach Consul; empty means CONSUL_HTTP_ADDR and
	// CONSUL_HTTP_TOKEN, read the way consul/api's DefaultConfig reads them.
	ConsulAddr, Token string
	// Dir receives haproxy.cfg and versions.map.
	Dir string
	// Once renders as soon as all data is there, then returns.
	Once bool
	// WaitMin and WaitMax are consul-template's quiescence timers: render
	// once data has been stable for WaitMin, and at the latest WaitMax
	// after the first change. Nomad's defaults (5 s and more, plus splay)
	// put seconds between a change and HAProxy seeing it.
	WaitMin, WaitMax time.Duration
	// OnRender, when set, is called after every pass that wrote at least
	// one file, with the files' paths; an error stops Render.
	OnRender func(files []string) error
}

// Render renders the templates for d into opts.Dir and, unless opts.Once,
// keeps them up to date until ctx ends. Files are written atomically and
// only when their content changes. When Consul cannot be read, nothing is
// written: the last good render stays in place while consul-template
// retries, without limit.
func Render(ctx context.Context, d Data, opts Options) error {
	if !safePath.MatchString(d.Dir) {
		return fmt.Errorf("routing: %q cannot be written into HAProxy's configuration: use a directory path of letters, digits, '_', '.', '/' and '-'", d.Dir)
	}
	tmpls, err := Templates(d)
	if err != nil {
		return err
	}
	return RenderTemplates(ctx, tmpls, opts)
}

// RenderTemplates is Render for template sources already bound to their
// data, such as those a running HAProxy job carries.
func RenderTemplates(ctx context.Context, tmpls []Template, opts Options) error {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	c := ctconfig.DefaultConfig()
	if opts.ConsulAddr != "" {
		c.Consul.Address = new(opts.ConsulAddr)
	}
	if opts.Token != "" {
		c.Consul.Token = new(opts.Token)
	}
	// Retry forever: giving up would stop the renders, and an empty
	// render is never better than the last good one.
	c.Consul.Retry = &ctconfig.RetryConfig{
		Enabled: new(true), Attempts: new(0),
		Backoff: new(250 * time.Millisecond), MaxBackoff: new(5 * time.Second),
	}
	c.Once = opts.Once
	if opts.WaitMin > 0 || opts.WaitMax > 0 {
		c.Wait = &ctconfig.WaitConfig{Enabled: new(true), Min: new(opts.WaitMin), Max: new(max(opts.WaitMin, opts.WaitMax))}
	}
	var files []string
	for _, t := range tmpls {
		dest := filepath.Join(opts.Dir, t.File)
		files = append(files, dest)
		*c.Templates = append(*c.Templates, &ctconfig.TemplateConfig{
			Contents:    new(t.Contents),
			Destination: new(dest),
			Perms:       new(os.FileMode(0o644)),
		})
	}
	c.Finalize()
	runner, err := manager.NewRunner(c, false)
	if err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	go runner.Start()
	defer runner.Stop()

	rendered := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-runner.ErrCh:
			return fmt.Errorf("routing: rendering the HAProxy templates: %w", err)
		case <-runner.DoneCh:
			if err := notify(runner, rendered, opts.OnRender); err != nil {
				return err
			}
			return nil
		case <-runner.TemplateRenderedCh():
			if err := notify(runner, rendered, opts.OnRender); err != nil {
				return err
			}
		}
	}
}

// notify calls onRender with the files written since the last call. It
// goes by LastDidRender alone: a template's latest event can be a pass that
// left the file unchanged (DidRender false) while an earlier write in the
// same event's history was never reported, and skipping such events lost
// reloads.
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
		return errors.Join(errors.New("routing: after rendering"), err)
	}
	return nil
}

// LogFilter passes on only the [WARN] and [ERR] lines of consul-template,
// which logs through the standard logger: log.SetOutput(LogFilter{W: w}).
type LogFilter struct{ W io.Writer }

// Write writes p to W if it is a warning or an error, and drops it
// otherwise.
func (f LogFilter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("[WARN]")) || bytes.Contains(p, []byte("[ERR]")) {
		if _, err := f.W.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
