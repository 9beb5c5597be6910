package topology

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/apply"
	"github.com/strata-dev/strata/internal/sweeper"
)

// Ports of the services a node runs, on the node's address.
const (
	// StatsPort is HAProxy's stats listener, registered as strata-haproxy.
	StatsPort = 8404
	// LBStatsPort is the lbstats sidecar, registered as strata-lbstats.
	LBStatsPort = 8405
)

// HAProxy is a node's HAProxy in master-worker mode, its configuration
// rendered from the node's own Consul agent with strata's templates and
// kept up to date the way the strata-haproxy job's template blocks keep it:
// a render on every change, then the apply step (`strata haproxy apply`),
// which changes HAProxy at run time and reloads only when haproxy.cfg
// changed.
type HAProxy struct {
	// Dir holds haproxy.cfg, routing.intent, the maps and the sockets.
	Dir string
	// Master is HAProxy's master CLI.
	Master *haproxy.Master
	// Proc is the HAProxy master process.
	Proc *Proc
}

// RunHAProxy renders the templates for apps once, starts HAProxy in the
// node's namespace on the result, and keeps rendering and reloading until
// the cluster is closed; a failure to render or reload later is returned by
// Close. The frontends bind where apps say (":8080" is every address of the
// node), stats on StatsPort.
func (n *Node) RunHAProxy(ctx context.Context, haproxyBin string, apps []routing.App) (*HAProxy, error) {
	dir := filepath.Join(n.Dir, "haproxy")
	data := routing.Data{Dir: dir, StatsBind: n.IP + ":" + strconv.Itoa(StatsPort), Apps: apps}
	opts := routing.Options{ConsulAddr: n.IP + ":8500", Dir: dir, Once: true}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := routing.Render(rctx, data, opts)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("topology: %s: rendering HAProxy's configuration: %w", n.Name, err)
	}
	// The maps and servers.state HAProxy loads, as `strata haproxy run`
	// writes them in the job.
	if _, err := apply.Apply(ctx, apply.Options{Dir: dir}); err != nil {
		return nil, fmt.Errorf("topology: %s: %w", n.Name, err)
	}
	h := &HAProxy{Dir: dir, Master: &haproxy.Master{Socket: filepath.Join(dir, "master.sock")}}
	h.Proc, err = n.Run("haproxy", haproxyBin, "-W", "-S", h.Master.Socket, "-f", filepath.Join(dir, "haproxy.cfg"))
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if _, err := os.Stat(h.Master.Socket); err == nil {
			break
		}
		if h.Proc.Exited() || attempt > 500 {
			return nil, fmt.Errorf("topology: %s: HAProxy did not start:\n%s", n.Name, h.Proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The renderer runs until the cluster closes; Close stops HAProxy and
	// with it any reload in flight.
	follow, stop := context.WithCancel(context.Background())
	n.c.mu.Lock()
	n.c.stops = append(n.c.stops, stop)
	n.c.mu.Unlock()
	opts.Once, opts.WaitMin, opts.WaitMax = false, 20*time.Millisecond, 200*time.Millisecond
	opts.OnRender = func([]string) error {
		rctx, cancel := context.WithTimeout(follow, 25*time.Second)
		defer cancel()
		// The node's directory stands for the allocation directory the
		// HAProxy task and lbstats share: the counters' copy goes there.
		_, err := apply.Apply(rctx, apply.Options{Dir: dir, Master: h.Master,
			Runtime: &haproxy.Runtime{Socket: filepath.Join(dir, "admin.sock")}, Settle: apply.DefaultSettle,
			StatsCopy: filepath.Join(n.Dir, applystats.CopyName)})
		if err != nil && follow.Err() == nil {
			return fmt.Errorf("topology: %s: applying the routing to HAProxy: %w", n.Name, err)
		}
		return nil
	}
	go func() {
		if err := routing.Render(follow, data, opts); err != nil && follow.Err() == nil {
			n.c.backgroundError(fmt.Errorf("topology: %s: rendering HAProxy's configuration: %w", n.Name, err))
		}
	}()
	return h, nil
}

// RunLBStats starts strata's lbstats sidecar beside the node's HAProxy and
// registers both with the node's agent as the strata-haproxy job does:
// strata-haproxy on StatsPort, strata-lbstats on LBStatsPort, each with its
// HTTP check.
func (n *Node) RunLBStats(ctx context.Context, strataBin string, h *HAProxy) (*Proc, error) {
	listen := n.IP + ":" + strconv.Itoa(LBStatsPort)
	// NOMAD_ALLOC_DIR, as in the HAProxy job, is where lbstats finds the
	// apply step's counters (RunHAProxy writes them to the node's
	// directory).
	p, err := n.Run("lbstats", "env", "NOMAD_ALLOC_DIR="+n.Dir, strataBin, "lbstats", "--master-socket", h.Master.Socket, "--listen", listen, "--node", n.Name)
	if err != nil {
		return nil, err
	}
	if err := n.WaitListening(ctx, LBStatsPort); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, p.Output())
	}
	for _, s := range []struct {
		name, path string
		port       int
	}{{sweeper.HAProxyService, "/stats", StatsPort}, {sweeper.LBStatsService, "/healthz", LBStatsPort}} {
		err := n.Consul.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
			ID: s.name + "-" + n.Name, Name: s.name, Tags: []string{naming.TagManaged}, Address: n.IP, Port: s.port,
			Check: &consulapi.AgentServiceCheck{HTTP: fmt.Sprintf("http://%s:%d%s", n.IP, s.port, s.path), Interval: "2s", Timeout: "1s"},
		})
		if err != nil {
			return nil, fmt.Errorf("topology: %s: registering %s: %w", n.Name, s.name, err)
		}
	}
	return p, nil
}

// Backend is one instance of a version of an app, run by strata's demo
// server and registered in Consul as Nomad registers an instance of a job
// strata generates.
type Backend struct {
	App, Version string
	// ServiceID is its Consul service ID.
	ServiceID string
	Port      int
	Node      *Node
	Proc      *Proc
}

// RunBackend starts `strata demo serve` for app's version on the node's
// port, registers it with the node's agent (service app, tags strata and
// strata-version=<version>, meta strata-order and, for the version
// strata.yaml names live, strata-live, an HTTP check on /healthz), and waits
// until its check passes.
func (n *Node) RunBackend(ctx context.Context, strataBin, app, version string, port int, live bool, tick time.Duration) (*Backend, error) {
	listen := n.IP + ":" + strconv.Itoa(port)
	name := n.Name + "/" + version
	p, err := n.Run(app+"-"+version+"-"+strconv.Itoa(port), strataBin, "demo", "serve", "--version", version,
		"--listen", listen, "--name", name, "--tick", tick.String())
	if err != nil {
		return nil, err
	}
	if err := n.WaitListening(ctx, port); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, p.Output())
	}
	b := &Backend{App: app, Version: version, Port: port, Node: n, Proc: p,
		ServiceID: fmt.Sprintf("_nomad-task-%s-%s-%d", naming.JobID(app, version), n.Name, port)}
	meta := map[string]string{naming.ServiceMetaOrder: naming.SortKey(version)}
	if live {
		meta[naming.ServiceMetaLive] = "true"
	}
	err = n.Consul.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: b.ServiceID, Name: app, Tags: []string{naming.TagManaged, naming.VersionTag(version)},
		Address: n.IP, Port: port, Meta: meta,
		Check: &consulapi.AgentServiceCheck{HTTP: "http://" + listen + "/healthz", Interval: "1s", Timeout: "1s"},
	})
	if err != nil {
		return nil, fmt.Errorf("topology: %s: registering %s: %w", n.Name, b.ServiceID, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		checks, _, err := n.Consul.Health().Checks(app, (&consulapi.QueryOptions{}).WithContext(wctx))
		for _, c := range checks {
			if c.ServiceID == b.ServiceID && c.Status == consulapi.HealthPassing {
				return b, nil
			}
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("topology: %s: %s's check did not pass (%v)", n.Name, b.ServiceID, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop does what Nomad does when it stops the instance: it deregisters the
// service, waits shutdownDelay for the HAProxies to drop it, then stops the
// server (SIGTERM, which ends its streams).
func (b *Backend) Stop(shutdownDelay time.Duration) error {
	err := b.Node.Consul.Agent().ServiceDeregister(b.ServiceID)
	time.Sleep(shutdownDelay)
	b.Proc.Stop(10 * time.Second)
	if err != nil {
		return fmt.Errorf("topology: %s: deregistering %s: %w", b.Node.Name, b.ServiceID, err)
	}
	return nil
}
