package generator

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/apply"
)

// HAProxyJobID is the ID of the HAProxy system job (naming.HAProxyJobID).
const HAProxyJobID = naming.HAProxyJobID

// HAProxyService is the Consul service of HAProxy's stats and Prometheus
// endpoint, which the sweeper finds every HAProxy by (naming.HAProxyService).
const HAProxyService = naming.HAProxyService

// LBStatsService is the Consul service of the lbstats sidecar beside every
// HAProxy: its sessions per version, current and old workers summed
// (naming.LBStatsService).
const LBStatsService = naming.LBStatsService

// MasterSocketName is HAProxy's master CLI socket in the allocation
// directory ($NOMAD_ALLOC_DIR), where the lbstats sidecar looks for it.
const MasterSocketName = lbstats.MasterSocketName

// HAProxyJob builds the system job that runs HAProxy in master-worker mode on
// every client node, with template blocks rendering the structural
// haproxy.cfg (from strata.yaml alone) and routing.intent (the desired
// routing state, from Consul). It returns nil when no app is routed.
//
// The job holds only what shapes the configuration (addresses, cookie
// names, slot counts); versions, live and cohorts reach the templates
// through Consul, so a deploy or a promotion never changes this job: a
// change would replace its allocations and cut every session they hold.
//
// Both templates run `strata haproxy apply` when they change: it writes the
// map files and servers.state and applies the difference through HAProxy's
// runtime API, reloading only when haproxy.cfg changed. It serialises and
// coalesces like the reload it replaces. HAProxy itself starts through
// `strata haproxy run`, which writes those files from the first render
// before it executes haproxy, so HAProxy loads them.
func HAProxyJob(cfg *config.Config) (*api.Job, error) {
	data := routing.NewData(cfg, "", "")
	if len(data.Apps) == 0 {
		return nil, nil
	}
	tmpls, err := routing.Templates(data)
	if err != nil {
		return nil, err
	}
	h := cfg.HAProxy
	job := &api.Job{
		ID:          new(HAProxyJobID),
		Name:        new(HAProxyJobID),
		Type:        new(api.JobTypeSystem),
		Datacenters: append([]string(nil), cfg.Datacenters...),
		Meta:        map[string]string{naming.MetaComponent: "haproxy"},
	}
	if cfg.Region != "" {
		job.Region = new(cfg.Region)
	}
	if cfg.Namespace != "" {
		job.Namespace = new(cfg.Namespace)
	}
	if h.NodePool != "" {
		job.NodePool = new(h.NodePool)
	}

	nw := &api.NetworkResource{Mode: "host", DynamicPorts: []api.Port{{Label: "lbstats"}, {Label: "stats"}}}
	reserved := map[int]bool{}
	for _, a := range data.Apps {
		_, port, err := net.SplitHostPort(a.Bind)
		if err != nil {
			return nil, fmt.Errorf("generator: app %s: bind %q: %w", a.Name, a.Bind, err)
		}
		p, _ := strconv.Atoi(port)
		// Reserving the port keeps Nomad from giving it to another task.
		// Apps that share a bind (told apart by host) share its port,
		// reserved once, under the first app's label: Nomad refuses a
		// static port reserved twice in one group.
		if reserved[p] {
			continue
		}
		reserved[p] = true
		nw.ReservedPorts = append(nw.ReservedPorts, api.Port{Label: "app_" + portLabel(a.Name), Value: p})
	}
	group := &api.TaskGroup{
		Name:     new("haproxy"),
		Networks: []*api.NetworkResource{nw},
		// On a stop, Consul drops the stats service first.
		ShutdownDelay: new(config.DefaultShutdownDelay),
		Services: []*api.Service{{
			Name:      HAProxyService,
			PortLabel: "stats",
			Tags:      []string{"strata"},
			Checks: []api.ServiceCheck{{
				Type: "http", Path: "/stats", Interval: config.DefaultCheckInterval, Timeout: config.DefaultCheckTimeout,
			}},
		}, {
			// The sweeper reads every HAProxy's sessions here.
			Name:      LBStatsService,
			PortLabel: "lbstats",
			Tags:      []string{"strata"},
			Checks: []api.ServiceCheck{{
				Type: "http", Path: "/healthz", Interval: config.DefaultCheckInterval, Timeout: config.DefaultCheckTimeout,
			}},
		}},
	}

	task := &api.Task{Name: "haproxy", Driver: h.Driver, Config: map[string]any{}}
	// The master socket is in the allocation's shared directory, where
	// the lbstats sidecar reaches it.
	haproxyArgs := []any{"-W", "-S", "${NOMAD_ALLOC_DIR}/" + MasterSocketName, "-f", "${NOMAD_TASK_DIR}/haproxy.cfg"}
	run := func(bin string) []any {
		return append([]any{"haproxy", "run", "--haproxy", bin, "--"}, haproxyArgs...)
	}
	switch h.Driver {
	case config.DriverDocker:
		task.Config["image"] = h.Image
		task.Config["command"] = h.Strata
		task.Config["args"] = run("haproxy")
		// HAProxy binds the apps' addresses on the node itself.
		task.Config["network_mode"] = "host"
	default:
		task.Config["command"] = h.Strata
		task.Config["args"] = run(h.Command)
	}
	if r := h.Resources; r != nil && (r.CPU != nil || r.Memory != nil || r.MemoryMax != nil) {
		task.Resources = &api.Resources{CPU: r.CPU, MemoryMB: r.Memory, MemoryMaxMB: r.MemoryMax}
	}
	// No explicit Consul identity (see identity.go): the templates read
	// Consul with the token of the implicit one Nomad adds, because of the
	// consul block, when the cluster configures consul.task_identity, which
	// strata acl apply binds to the strata-haproxy role, and with the
	// client's token otherwise.
	task.Consul = consulBlock()
	for _, t := range tmpls {
		task.Templates = append(task.Templates, &api.Template{
			EmbeddedTmpl: new(t.Contents),
			DestPath:     new("local/" + t.File),
			// The task's command, `strata haproxy run`, applies the
			// files in its own process at each signal: no process is
			// started per change.
			ChangeMode:   new("signal"),
			ChangeSignal: new(apply.ChangeSignalName),
			Splay:        new(time.Duration(0)),
			Wait:         &api.WaitConfig{Min: new(h.WaitMin), Max: new(h.WaitMax)},
		})
	}
	lb := &api.Task{
		Name:      "lbstats",
		Driver:    h.Driver,
		Lifecycle: &api.TaskLifecycle{Hook: "poststart", Sidecar: true},
		Config:    map[string]any{},
	}
	if h.Driver == config.DriverDocker {
		lb.Config["image"] = h.Image
		lb.Config["command"] = h.Strata
		lb.Config["args"] = []any{"lbstats"}
		lb.Config["network_mode"] = "host"
	} else {
		lb.Config["command"] = h.Strata
		lb.Config["args"] = []any{"lbstats"}
	}
	group.Tasks = []*api.Task{task, lb}
	job.TaskGroups = []*api.TaskGroup{group}
	return job, nil
}

// portLabel turns an app name into a port label (no '-').
func portLabel(app string) string { return strings.ReplaceAll(app, "-", "_") }
