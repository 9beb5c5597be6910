package routing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
	// Dir receives haproxy.cfg and routing.intent.
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

// OnceAttempts bounds the retries of a render with Options.Once while
// Consul cannot be read (about 7 s with the backoff), after which Render
// fails with an error that says whether the agent answers at all.
const OnceAttempts = 5

// Render renders the templates for d into opts.Dir and, unless opts.Once,
// keeps them up to date until ctx ends. Files are written atomically and
// only when their content changes. When Consul cannot be read, nothing is
// written: the last good render stays in place while consul-template
// retries, without limit; with opts.Once, OnceAttempts times.
func Render(ctx context.Context, d Data, opts Options) error {
	if !safePath.MatchString(d.Dir) {
		return fmt.Errorf("routing: %q cannot be written into HAProxy's configuration: use a directory path of letters, digits, '_', '.', '/' and '-'", d.Dir)
	}
	if d.StatsBind != "" {
		if err := CheckBind(d.StatsBind); err != nil {
			return fmt.Errorf("routing: stats listener: %w", err)
		}
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
	// Following changes, retry forever: giving up would stop the renders,
	// and an empty render is never better than the last good one. Once, a
	// person or a script waits for the answer: give up after OnceAttempts.
	c.Consul.Retry = &ctconfig.RetryConfig{
		Enabled: new(true), Attempts: new(0),
		Backoff: new(250 * time.Millisecond), MaxBackoff: new(5 * time.Second),
	}
	if opts.Once {
		c.Consul.Retry.Attempts = new(OnceAttempts)
		c.Consul.Retry.MaxBackoff = new(2 * time.Second)
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
			addr := "127.0.0.1:8500"
			if c.Consul.Address != nil && *c.Consul.Address != "" {
				addr = *c.Consul.Address
			}
			return explain(ctx, addr, err)
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

// CheckBind checks an address HAProxy's configuration binds, as strata
// writes it after "bind": host:port, where host is empty or "*" (every
// address), an IPv4 address, or an IPv6 address in brackets, and port is
// 1 to 65535. Nothing else reaches the configuration: a space or a newline
// would add settings of its own.
func CheckBind(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (like 127.0.0.1:8404, :8404 or [::1]:8404): %v", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return fmt.Errorf("%q: the port must be a number from 1 to 65535", addr)
	}
	if host == "" || host == "*" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return fmt.Errorf("%q: the host must be an IP address, empty or * (every address); not a name", addr)
	}
	if want := net.JoinHostPort(host, port); want != addr {
		return fmt.Errorf("%q: write it as %s", addr, want)
	}
	return nil
}

// explain turns consul-template's error after its last retry into one that
// says which Consul was asked, whether an agent answers there, and what to
// do.
func explain(ctx context.Context, addr string, err error) error {
	where := fmt.Sprintf("Consul at %s (CONSUL_HTTP_ADDR, or --consul)", addr)
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	probeCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, rerr := http.NewRequestWithContext(probeCtx, http.MethodGet, strings.TrimSuffix(base, "/")+"/v1/status/leader", nil)
	if rerr != nil {
		return fmt.Errorf("routing: reading %s: %w; the address is not usable: %v", where, err, rerr)
	}
	resp, perr := http.DefaultClient.Do(req)
	if perr != nil {
		return fmt.Errorf("routing: reading %s failed after %d attempts: %w\nno Consul agent answers there (%v): start one, or point CONSUL_HTTP_ADDR or --consul at one", where, OnceAttempts, err, perr)
	}
	resp.Body.Close()
	return fmt.Errorf("routing: reading %s failed after %d attempts: %w\nthe agent answers (GET /v1/status/leader: %s), so the read itself was refused: check CONSUL_HTTP_TOKEN and its ACL policy (policies/haproxy)", where, OnceAttempts, err, resp.Status)
}
