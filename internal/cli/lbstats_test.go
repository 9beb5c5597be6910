//go:build unix

package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/lbstats"
)

// lbstatsPatience bounds every wait in the lbstats tests.
const lbstatsPatience = 10 * time.Second

// lbstatsWriter keeps what a running command writes and hands every write
// to a channel, so that a test can wait for a line without polling.
type lbstatsWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes chan string
}

func newLbstatsWriter() *lbstatsWriter { return &lbstatsWriter{writes: make(chan string, 64)} }

func (w *lbstatsWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.writes <- string(p):
	default:
	}
	return w.b.Write(p)
}

func (w *lbstatsWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// lbstatsRun is `strata lbstats` running in the background.
type lbstatsRun struct {
	base   string // http://host:port
	stderr *lbstatsWriter
	cancel context.CancelFunc
	done   chan error
}

var servingRE = regexp.MustCompile(`serving (http://[^/\s]+)/sessions`)

// startLbstats runs lbstats with env and args and waits until it serves.
func startLbstats(t *testing.T, env map[string]string, args ...string) *lbstatsRun {
	t.Helper()
	stdout, stderr := newLbstatsWriter(), newLbstatsWriter()
	c := &CLI{Stdout: stdout, Stderr: stderr, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	ctx, cancel := context.WithCancel(context.Background())
	r := &lbstatsRun{stderr: stderr, cancel: cancel, done: make(chan error, 1)}
	cmd := c.lbstatsCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	go func() { r.done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	timeout := time.After(lbstatsPatience)
	for i := 0; i < cap(stdout.writes)+1; i++ {
		select {
		case w := <-stdout.writes:
			if m := servingRE.FindStringSubmatch(w); m != nil {
				r.base = m[1]
				return r
			}
		case err := <-r.done:
			r.done <- err
			t.Fatalf("lbstats %v returned before serving: %v\nstderr: %s", args, err, stderr)
		case <-timeout:
			t.Fatalf("lbstats %v did not serve within %v; stdout %q", args, lbstatsPatience, stdout)
		}
	}
	t.Fatalf("lbstats %v never said where it serves; stdout %q", args, stdout)
	return nil
}

// stop ends the command as SIGTERM would and returns what it returned.
func (r *lbstatsRun) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(lbstatsPatience):
		t.Fatalf("lbstats did not stop within %v", lbstatsPatience)
		return nil
	}
}

// runLbstatsUntilError runs lbstats expecting it to refuse to start.
func runLbstatsUntilError(t *testing.T, env map[string]string, args ...string) error {
	t.Helper()
	c := &CLI{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	ctx, cancel := context.WithTimeout(context.Background(), lbstatsPatience)
	defer cancel()
	cmd := c.lbstatsCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	return cmd.ExecuteContext(ctx)
}

func TestLbstatsRefusesToStartWithoutWhatItNeedsNamingTheFlag(t *testing.T) {
	t.Parallel()
	alloc := map[string]string{"NOMAD_ALLOC_DIR": "/alloc"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"outside an allocation without a master socket", map[string]string{"NOMAD_ADDR_lbstats": "127.0.0.1:0"}, nil, "--master-socket is required outside a Nomad allocation ($NOMAD_ALLOC_DIR"},
		{"without an address to listen on", alloc, nil, "--listen is required outside a Nomad task with an \"lbstats\" port ($NOMAD_ADDR_lbstats"},
		{"with an address without a port", alloc, []string{"--listen", "127.0.0.1"}, `--listen "127.0.0.1": want host:port`},
		{"with Nomad's address without a port", map[string]string{"NOMAD_ALLOC_DIR": "/alloc", "NOMAD_ADDR_lbstats": "10.0.0.5"}, nil, `--listen "10.0.0.5": want host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runLbstatsUntilError(t, tc.env, tc.args...)
			if err == nil || !isUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("lbstats %v: %v, want a usage error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// lbstatsHAProxy starts an HAProxy with one strata version, be_web_v1, and
// an allocation directory whose haproxy-master.sock leads to its master
// socket, as in the strata-haproxy job.
func lbstatsHAProxy(t *testing.T) (*haproxytest.Process, string) {
	t.Helper()
	p := haproxytest.Start(t, `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe_web
    bind 127.0.0.1:{{port}}
    default_backend be_web_v1
backend be_web_v1
    server s1 127.0.0.1:9
`)
	// Unix socket paths are limited to about 100 bytes, which t.TempDir
	// can exceed with a long test name.
	alloc, err := os.MkdirTemp("", "alloc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(alloc) })
	if err := os.Symlink(p.MasterSocket, filepath.Join(alloc, lbstats.MasterSocketName)); err != nil {
		t.Fatal(err)
	}
	return p, alloc
}

func fetchFrom(t *testing.T, r *lbstatsRun) lbstats.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lbstatsPatience)
	defer cancel()
	rep, err := lbstats.Fetch(ctx, &http.Client{Timeout: lbstatsPatience}, r.base)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestLbstatsServesTheHAProxyOfItsAllocationUntilStopped(t *testing.T) {
	t.Parallel()
	_, alloc := lbstatsHAProxy(t)
	r := startLbstats(t, map[string]string{
		"NOMAD_ALLOC_DIR": alloc, "NOMAD_ADDR_lbstats": "127.0.0.1:0", "NOMAD_NODE_ID": "9f1c2a7e",
	})
	rep := fetchFrom(t, r)
	if rep.Node != "9f1c2a7e" || rep.Workers != 1 || fmt.Sprint(rep.Versions) != "map[web:map[v1:0]]" {
		t.Errorf("report = %+v, want node 9f1c2a7e, 1 worker, web v1: 0", rep)
	}
	if s := r.stderr.String(); s != "" {
		t.Errorf("stderr while the socket exists: %s", s)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("lbstats after SIGTERM's context ended: %v, want nil", err)
	}
}

func TestLbstatsNodeIsTheFlagThenNomadsNodeIDThenTheHostName(t *testing.T) {
	t.Parallel()
	p, _ := lbstatsHAProxy(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	listen := map[string]string{"NOMAD_ADDR_lbstats": "127.0.0.1:0"}
	withNode := map[string]string{"NOMAD_ADDR_lbstats": "127.0.0.1:0", "NOMAD_NODE_ID": "9f1c2a7e"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"the flag wins over Nomad's node ID", withNode, []string{"--node", "edge-1"}, "edge-1"},
		{"Nomad's node ID wins over the host name", withNode, nil, "9f1c2a7e"},
		{"the host name is the last resort", listen, nil, host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startLbstats(t, tc.env, append([]string{"--master-socket", p.MasterSocket}, tc.args...)...)
			if got := fetchFrom(t, r).Node; got != tc.want {
				t.Errorf("node = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLbstatsStartsBeforeHAProxySayingSoAndServesItOnceItIsThere(t *testing.T) {
	t.Parallel()
	alloc, err := os.MkdirTemp("", "alloc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(alloc) })
	sock := filepath.Join(alloc, lbstats.MasterSocketName)
	r := startLbstats(t, map[string]string{"NOMAD_ALLOC_DIR": alloc, "NOMAD_ADDR_lbstats": "127.0.0.1:0", "NOMAD_NODE_ID": "n"})
	if s := r.stderr.String(); !strings.Contains(s, sock+" does not exist yet") {
		t.Errorf("stderr = %q, want a note that %s does not exist yet", s, sock)
	}
	// HAProxy starts and its socket appears where lbstats looks. (What
	// lbstats answers meanwhile, 503, is tested in package lbstats with a
	// shorter timeout than the master client's default 5 s.)
	p, _ := lbstatsHAProxy(t)
	if err := os.Symlink(p.MasterSocket, sock); err != nil {
		t.Fatal(err)
	}
	if rep := fetchFrom(t, r); rep.Versions["web"] == nil {
		t.Errorf("report once HAProxy runs = %+v, want web's versions", rep)
	}
}

func TestLbstatsLooksForTheMasterSocketWhereTheHAProxyJobPutsIt(t *testing.T) {
	t.Parallel()
	if lbstats.MasterSocketName != generator.MasterSocketName {
		t.Errorf("lbstats looks for $NOMAD_ALLOC_DIR/%s, the HAProxy job puts its master socket at $NOMAD_ALLOC_DIR/%s",
			lbstats.MasterSocketName, generator.MasterSocketName)
	}
}

func TestLbstatsMetricsReadTheApplyStepsCounterInItsAllocation(t *testing.T) {
	t.Parallel()
	_, alloc := lbstatsHAProxy(t)
	if err := os.WriteFile(filepath.Join(alloc, applystats.CopyName), []byte(`{"applies":4,"failures":0,"failing":false,"exhausted":2}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startLbstats(t, map[string]string{
		"NOMAD_ALLOC_DIR": alloc, "NOMAD_ADDR_lbstats": "127.0.0.1:0", "NOMAD_NODE_ID": "9f1c2a7e",
	})
	resp, err := (&http.Client{Timeout: lbstatsPatience}).Get(r.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(bytes.Buffer)
	b.ReadFrom(resp.Body)
	for _, want := range []string{`strata_haproxy_workers{node="9f1c2a7e"} 1`, `strata_haproxy_apply_fallbacks_total{node="9f1c2a7e"} 2`, `strata_haproxy_apply_failing{node="9f1c2a7e"} 0`} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(b.String(), want+"\n") {
			t.Errorf("GET /metrics = %s\n%s\nwant %s", resp.Status, b, want)
		}
	}
}
