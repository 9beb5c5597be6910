package config

import (
	"maps"
	"time"

	"github.com/strata-dev/strata/internal/sweeper"
)

// Kind says how strata treats an application's versions.
type Kind string

const (
	// KindWeb is an application that serves connections through HAProxy:
	// its versions are pinned by cookie and retired once they hold no sessions.
	KindWeb Kind = "web"
	// KindWorker is a queue consumer with no connections: older versions are
	// retired once the newest one is healthy and a hand-off grace has passed.
	KindWorker Kind = "worker"
)

// Drivers strata can generate task configuration for.
const (
	DriverDocker  = "docker"
	DriverExec    = "exec"
	DriverRawExec = "raw_exec"
)

// VersionPlaceholder is replaced by the version in an app's image, command,
// args and env values.
const VersionPlaceholder = "{{version}}"

// DefaultMaxVersions is how many versions of one app may be listed when the
// app does not set max_versions.
const DefaultMaxVersions = 8

// DefaultShutdownDelay is the group shutdown_delay strata sets on an app with a
// Consul service when the app does not set one. Nomad deregisters the service
// first and waits this long before killing the task, so HAProxy re-renders
// without the instance before it dies; Nomad warns about service groups that
// have none.
const DefaultShutdownDelay = 5 * time.Second

// Default health check timing for a service check that does not set them
// (Nomad has no default: an HTTP check without an interval is rejected).
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultCheckTimeout  = 2 * time.Second
)

// DefaultOutput is the output directory, relative to the configuration file.
const DefaultOutput = "jobs"

// Config is a loaded and validated strata.yaml with its overrides applied.
type Config struct {
	// File is the path the configuration was read from, as given.
	File string
	// Source is the file's text, as read.
	Source []byte
	// Scope is "" for a strata.yaml, or ScopeSweeper for the part of one
	// the sweeper reads (SweeperYAML), whose apps hold only kind,
	// versions, live and sweeper: no job can be rendered from it.
	Scope string
	// Region, Namespace and Datacenters are set on every job when not empty;
	// empty means Nomad's own default.
	Region      string
	Namespace   string
	Datacenters []string
	// Created is an RFC 3339 timestamp written into job meta as
	// strata.created when set. It comes from the file, STRATA_CREATED or
	// --created, never from the clock, so renders are reproducible.
	Created string
	// Output is the directory generated jobs are written to.
	Output string
	// Apps are the applications, sorted by name.
	Apps []*App
	// HAProxy is how the HAProxy system job runs.
	HAProxy HAProxy
	// Sweeper is how the sweeper's periodic job runs.
	Sweeper Sweeper
	// Warnings are settings that are valid but will not work as written
	// on a cluster with Nomad's defaults, each naming its source and key
	// like an Error, in document order.
	Warnings Errors
}

// HAProxy is how the HAProxy system job that routes the web apps runs on
// every client node.
type HAProxy struct {
	// Driver is raw_exec or exec (the host's haproxy), or docker.
	Driver string
	// Image (docker) must hold both haproxy and strata, which the template
	// blocks run to reload HAProxy.
	Image string
	// Command is the haproxy binary (exec and raw_exec).
	Command string
	// Strata is the strata binary inside the task.
	Strata string
	// NodePool restricts the job to one node pool; empty means Nomad's
	// default.
	NodePool string
	// Resources of the HAProxy task; nil fields are Nomad's defaults.
	Resources *Resources
	// WaitMin and WaitMax are the template quiescence timers.
	WaitMin, WaitMax time.Duration
	// MworkerMaxReloads is HAProxy's mworker-max-reloads: how many reloads
	// an old worker may survive before the master sends it SIGTERM, with
	// its sessions. 0 (the default) means no bound, which strata writes
	// explicitly (MworkerMaxReloadsSetting); a bound is accepted with a
	// warning, since it cuts the long-lived sessions strata exists to keep.
	MworkerMaxReloads int
}

// UnboundedMworkerMaxReloads is the mworker-max-reloads strata writes for
// no bound: the largest value HAProxy accepts (its parser takes an int).
// HAProxy's own 0 is not "no bound": checked on HAProxy 2.6.12, with
// mworker-max-reloads 0 every reload sends SIGTERM to the old worker and
// cuts its sessions at once.
const UnboundedMworkerMaxReloads = 2147483647

// MworkerMaxReloadsSetting is the value of the global mworker-max-reloads
// directive to write into haproxy.cfg: MworkerMaxReloads, or
// UnboundedMworkerMaxReloads when it is 0 (unset).
func (h *HAProxy) MworkerMaxReloadsSetting() int {
	if h.MworkerMaxReloads <= 0 {
		return UnboundedMworkerMaxReloads
	}
	return h.MworkerMaxReloads
}

// HAProxy defaults. Nomad's own template defaults (a 5 s splay and a 5 s
// minimum wait) put 8 to 10 s between a change in Consul and HAProxy seeing
// it; strata sets small ones on every template. The minimum wait only needs
// to gather the writes of one change (a promote's transaction, instances
// registered together): a render is applied at run time, without a reload,
// and consul-template itself lets each watched query return at most ten
// times a second, so 20 ms keeps bursts cheap and changes fast.
const (
	DefaultHAProxyDriver   = DriverRawExec
	DefaultHAProxyCommand  = "/usr/sbin/haproxy"
	DefaultStrataBinary    = "/usr/local/bin/strata"
	DefaultTemplateWaitMin = 20 * time.Millisecond
	DefaultTemplateWaitMax = time.Second
)

// App is one application and the versions of it that run side by side.
type App struct {
	Name   string
	Kind   Kind
	Driver string
	// Image (docker), Command and Args may contain VersionPlaceholder.
	Image   string
	Command string
	Args    []string
	// Ports are the network port labels, sorted by label.
	Ports   []Port
	Service *Service
	// Count is the number of instances per version; nil means Nomad's default.
	Count     *int
	Resources *Resources
	// Env values may contain VersionPlaceholder.
	Env         map[string]string
	Constraints []Constraint
	NodePool    string
	Update      *Update
	// ShutdownDelay is the group shutdown_delay; KillTimeout the task's
	// kill_timeout. Long-lived sessions need long ones.
	ShutdownDelay *time.Duration
	KillTimeout   *time.Duration
	MaxVersions   int
	// Versions are sorted naturally, oldest first.
	Versions []string
	// VersionSettings are the settings versions set for themselves, by
	// version (a versions entry written as a mapping); a version without
	// any has no entry. ForVersion applies them.
	VersionSettings map[string]*VersionSettings
	// Live is the version new sessions get until Consul KV says otherwise.
	// Empty only for workers that do not name one.
	Live string
	// Routing is how HAProxy routes to a web app; nil when the app is not
	// routed by strata's HAProxy.
	Routing *Routing
	// Retire is how the sweeper retires the app's old versions.
	Retire Retire
	// Rollout is how a progressive rollout of a new version advances
	// (web apps only); nil when the app sets none, and then no rollout
	// can be started for it.
	Rollout *Rollout
}

// Rollout is an app's progressive delivery policy (apps.<app>.rollout): a
// candidate version gets a growing share of new sessions, step by step,
// while its error rate stays within bounds. A session stays on the version
// it started on whatever the share does.
//
// Only `strata rollout start` reads it (cfg.App(name).Rollout), copying it
// into the rollout's state in Consul KV: the controller that advances a
// rollout reads no strata.yaml, so the rollout section is in no scoped file
// (SweeperYAML), and editing it never changes a rollout in progress.
type Rollout struct {
	// Steps are the candidate's percentages of new sessions, strictly
	// increasing, each 1..100, the last 100; reaching the last step with
	// success makes the candidate live.
	Steps []int
	// Interval is how long each step lasts before it is judged; > 0.
	Interval time.Duration
	// MaxErrorRate is the most a step may see of the candidate's 5xx
	// responses over its requests, as a fraction (0.01 for "1%"), 0..1.
	MaxErrorRate float64
	// MinRequests is how many candidate requests a step needs to be
	// judged; with fewer it is inconclusive and waits, never advancing on
	// silence. At least 1; DefaultRolloutMinRequests when unset.
	MinRequests int
	// MaxErrorRateRatio, when not 0, also bounds the candidate's error rate
	// by this multiple of the stable version's rate over the same step,
	// when the stable version served enough requests (MinRequests) to
	// judge: 2 means at most twice stable's.
	MaxErrorRateRatio float64
	// OnFailure is what happens to sessions already pinned to a failed
	// candidate: RolloutStay (they stay) or RolloutReturn (the candidate
	// leaves the allow-list, like a draining version, so they go back to
	// the live version at their next request).
	OnFailure string
}

// Rollout settings' values and defaults.
const (
	// RolloutStay keeps a failed candidate's pinned sessions on it.
	RolloutStay = "stay"
	// RolloutReturn sends a failed candidate's pinned sessions back to
	// the live version at their next request.
	RolloutReturn = "return"
	// DefaultRolloutOnFailure is on_failure when unset.
	DefaultRolloutOnFailure = RolloutStay
	// DefaultRolloutMinRequests is min_requests when unset: with fewer
	// than 100 requests a single 5xx response is more than 1% of them, so
	// one unlucky error would fail a step under the common "1%" bound.
	DefaultRolloutMinRequests = 100
)

// VersionSettings are the settings one version sets for itself, over its
// app's: a nil field (or Args) keeps the app's. Env is added to the app's
// env key by key, and Resources' fields replace the app's one by one, so
// a version names only what differs.
type VersionSettings struct {
	Image, Command *string
	Args           []string
	Env            map[string]string
	Resources      *Resources

	// path is the entry's key path (apps.web.versions[2]), for validate.
	path string
}

// ForVersion is the app as its version runs: a copy of the app with the
// version's own settings (VersionSettings) applied and none left to apply,
// or the app itself when the version sets none. The copy shares what it
// does not change.
func (a *App) ForVersion(version string) *App {
	s := a.VersionSettings[version]
	if s == nil {
		return a
	}
	c := *a
	c.VersionSettings = nil
	if s.Image != nil {
		c.Image = *s.Image
	}
	if s.Command != nil {
		c.Command = *s.Command
	}
	if s.Args != nil {
		c.Args = s.Args
	}
	if len(s.Env) > 0 {
		c.Env = make(map[string]string, len(a.Env)+len(s.Env))
		maps.Copy(c.Env, a.Env)
		maps.Copy(c.Env, s.Env)
	}
	if r := s.Resources; r != nil {
		merged := Resources{}
		if a.Resources != nil {
			merged = *a.Resources
		}
		if r.CPU != nil {
			merged.CPU = r.CPU
		}
		if r.Memory != nil {
			merged.Memory = r.Memory
		}
		if r.MemoryMax != nil {
			merged.MemoryMax = r.MemoryMax
		}
		c.Resources = &merged
	}
	return &c
}

// Retire is an app's retirement policy (the per-app sweeper section). It is
// the sweeper's own Policy, so what strata.yaml says is what the sweeper
// decides with: one struct, no copy to keep in step.
type Retire = sweeper.Policy

// Retirement defaults.
const (
	DefaultKeepWeb         = 2
	DefaultKeepWorker      = 1
	DefaultMinAge          = time.Hour
	DefaultDrainGrace      = 10 * time.Minute
	DefaultHandoffGrace    = 10 * time.Minute
	DefaultMaxRetirePerRun = 1
	DefaultSweepCron       = "*/5 * * * *"
)

// Sweeper is how the periodic sweeper job runs.
type Sweeper struct {
	// Cron is the periodic job's schedule.
	Cron string
	// Driver is raw_exec or exec (the node's strata), or docker.
	Driver string
	// Image (docker) holds strata.
	Image string
	// Strata is the strata binary the job runs.
	Strata string
}

// Routing is how HAProxy serves one web app.
type Routing struct {
	// Bind is the frontend's address, "host:port", ":port" or "*:port".
	Bind string
	// Host, when set, is the Host header the app is served for: an exact
	// host name ("app.example.com") or a wildcard of one leading label
	// ("*.example.com", which matches "a.example.com", not
	// "a.b.example.com" nor "example.com"), lowercase, without a port.
	// Apps that share a bind (the same Listener) each have one, all
	// distinct; an exact host wins over a wildcard that covers it.
	Host string
	// Cookie pins a session to a version; ServerCookie to one server
	// inside it.
	Cookie       string
	ServerCookie string
	// CookieMaxAge is the version cookie's Max-Age; 0 makes it a browser
	// session cookie.
	CookieMaxAge time.Duration
	// Secure adds the Secure attribute to the cookies HAProxy sets.
	Secure bool
	// PinPaths, when not empty, limits setting the version cookie on
	// unpinned sessions to requests under these path prefixes.
	PinPaths []string
	// Header, when set, names a trusted request header that selects a
	// version the way the cookie does, for middleware that knows the user.
	Header string
	// MaxVersions is the number of version slots (HAProxy backends) the
	// app has: versions up to it are added and removed at runtime, without
	// a reload. 2..MaxVersionSlots; by default the app's max_versions.
	MaxVersions int
	// MaxServers is the number of servers pre-allocated in each version
	// slot: instances of a version up to it come and go at runtime.
	// 1..MaxServerSlots; DefaultServerSlots when unset.
	MaxServers int
}

// Routing defaults.
const (
	DefaultCookie       = "strata_version"
	DefaultServerCookie = "strata_server"
	// DefaultServerSlots is routing.max_servers when unset.
	DefaultServerSlots = 16
	// MinVersionSlots is the least routing.max_versions: the live version
	// and one more (a candidate, a new deploy), so a promote needs no
	// reload.
	MinVersionSlots = 2
	// MaxVersionSlots and MaxServerSlots bound routing.max_versions and
	// max_servers: every slot is a backend, every server a line of
	// haproxy.cfg and a health-check target in every HAProxy worker.
	MaxVersionSlots = 64
	MaxServerSlots  = 256
)

// Port is a network port label. Static is 0 for a dynamic port.
type Port struct {
	Label  string
	Static int
	To     int
}

// Service is the Consul service registered for each instance. Its name is the
// app's name; strata adds its own tags before Tags.
type Service struct {
	Port  string
	Tags  []string
	Check *Check
}

// Check is an HTTP health check on the service's port.
type Check struct {
	Path     string
	Interval time.Duration
	Timeout  time.Duration
}

// Resources are a task's resource requests; nil fields are Nomad's defaults.
type Resources struct {
	CPU       *int
	Memory    *int
	MemoryMax *int
}

// Constraint is a Nomad placement constraint.
type Constraint struct {
	Attribute string
	Operator  string
	Value     string
}

// Update is the job's update policy; nil fields are Nomad's defaults.
type Update struct {
	MaxParallel      *int
	MinHealthyTime   *time.Duration
	HealthyDeadline  *time.Duration
	ProgressDeadline *time.Duration
	AutoRevert       *bool
}

// Nomad's defaults for what the update policy and the task leave unset
// (api.DefaultUpdateStrategy, api.Task.Canonicalize). strata checks the
// settings against them as Nomad will.
const (
	NomadMinHealthyTime   = 10 * time.Second
	NomadHealthyDeadline  = 5 * time.Minute
	NomadProgressDeadline = 10 * time.Minute
	NomadKillTimeout      = 5 * time.Second
	// NomadMaxKillTimeout is a Nomad client's default max_kill_timeout:
	// the client cuts every task's kill_timeout to it.
	NomadMaxKillTimeout = 30 * time.Second
)

// App returns the app with the given name, or nil.
func (c *Config) App(name string) *App {
	for _, a := range c.Apps {
		if a.Name == name {
			return a
		}
	}
	return nil
}
