package topology

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	consulapi "github.com/hashicorp/consul/api"
)

// Options describes a one-host cluster.
type Options struct {
	// Name prefixes the network namespaces (<Name>-n1, …), the bridge
	// (<Name>br) and the veth pairs: lowercase letters and digits, at most
	// 9 characters, so that every interface name fits Linux's 15.
	Name string
	// Subnet picks the cluster network 198.18.<Subnet>.0/24 (0 to 254):
	// 198.18.0.0/15 is set aside for network tests (RFC 2544), so the
	// cluster cannot shadow a network the host uses.
	Subnet int
	// Nodes is the number of nodes, each a Consul server; 0 means 3.
	Nodes int
	// SpotNodes is how many of the last nodes are in the Nomad node pool
	// "spot"; the others are in "default".
	SpotNodes int
	// Dir holds the cluster's state (the processes it started, for Down),
	// every node's configurations, data and logs. Up removes what a
	// previous cluster left in it.
	Dir string
	// IP and Consul are the ip and consul programs; empty means the ones
	// on PATH (ip also in /usr/sbin).
	IP, Consul string
	// Log receives a line per step; nil discards them.
	Log io.Writer
	// DieWithParent kills every process the cluster starts when the
	// process that called Up exits, even by a crash (Linux's parent-death
	// signal).
	DieWithParent bool
}

// Cluster is a set of nodes on one host: network namespaces on a bridge,
// each with a Consul server rendered from vagrant/config/consul.hcl.tmpl.
type Cluster struct {
	Nodes []*Node
	// Bridge is the bridge the nodes' veth pairs are attached to; the
	// host reaches the nodes through it.
	Bridge string

	opts  Options
	ipBin string
	log   io.Writer

	// writeMu orders the writes of the state file; mu guards the rest.
	writeMu sync.Mutex
	mu      sync.Mutex
	state   State
	cmds    []*Proc
	stops   []context.CancelFunc
	bgErr   []error
}

// Node is one network namespace of a Cluster.
type Node struct {
	// Name is the namespace's and the Consul and Nomad node's name.
	Name string
	// IP is the node's address on the cluster's bridge.
	IP string
	// Config is what its agent configurations were rendered from.
	Config NodeConfig
	// Consul talks to the node's agent, from the host.
	Consul *consulapi.Client
	// Dir holds the node's configurations, data and logs.
	Dir string
	// ConsulAgent is the node's Consul agent process.
	ConsulAgent *Proc

	c *Cluster
}

// State is what Down needs to remove a cluster, kept in <Dir>/state.json
// and rewritten before every step that creates something.
type State struct {
	Bridge     string   `json:"bridge"`
	Namespaces []string `json:"namespaces"`
	Veths      []string `json:"veths"`
	Procs      []ProcID `json:"procs"`
}

// ProcID names a process the cluster started. Start is the process's start
// time in clock ticks since boot (/proc/<pid>/stat), so Down never signals
// a process that merely reuses the PID after a reboot.
type ProcID struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
	What  string `json:"what"`
}

// StateFile is the name of the state file in Options.Dir.
const StateFile = "state.json"

var clusterName = regexp.MustCompile(`^[a-z][a-z0-9]{0,8}$`)

// Up builds the cluster: a bridge, a namespace per node with a veth pair on
// the bridge, and in each a Consul server from the shared templates; it
// returns once the servers have elected a leader and every node is in the
// catalog. If Options.Dir holds a previous cluster (one that crashed or was
// never taken down), that one is removed first. On any failure everything
// Up created is removed again.
func Up(ctx context.Context, opts Options) (c *Cluster, err error) {
	if !clusterName.MatchString(opts.Name) {
		return nil, fmt.Errorf("topology: cluster name %q: want a lowercase letter, then up to 8 lowercase letters or digits", opts.Name)
	}
	if opts.Subnet < 0 || opts.Subnet > 254 {
		return nil, fmt.Errorf("topology: subnet %d: want 0 to 254 (198.18.<subnet>.0/24)", opts.Subnet)
	}
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes < 1 || opts.Nodes > 9 || opts.SpotNodes < 0 || opts.SpotNodes >= opts.Nodes {
		return nil, fmt.Errorf("topology: %d nodes with %d in pool spot: want 1 to 9 nodes, at least one of them not spot", opts.Nodes, opts.SpotNodes)
	}
	if opts.Dir == "" {
		return nil, errors.New("topology: no state directory")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	ipBin, err := lookBin(opts.IP, "ip")
	if err != nil {
		return nil, err
	}
	consulBin, err := lookBin(opts.Consul, "consul")
	if err != nil {
		return nil, err
	}
	if _, statErr := os.Stat(filepath.Join(opts.Dir, StateFile)); statErr == nil {
		fmt.Fprintf(opts.Log, "removing the cluster a previous run left in %s\n", opts.Dir)
		if err := Down(opts.Dir, opts.Log); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	c = &Cluster{opts: opts, ipBin: ipBin, log: opts.Log, Bridge: opts.Name + "br"}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()

	// Record every name before creating anything, so that Down removes
	// what a crash in the middle leaves behind.
	var ips []string
	for i := range opts.Nodes {
		ips = append(ips, fmt.Sprintf("198.18.%d.%d", opts.Subnet, 11+i))
	}
	c.state.Bridge = c.Bridge
	for i := range opts.Nodes {
		name := fmt.Sprintf("%s-n%d", opts.Name, i+1)
		dir := filepath.Join(opts.Dir, name)
		pool := "default"
		if i >= opts.Nodes-opts.SpotNodes {
			pool = "spot"
		}
		peer := fmt.Sprintf("%sp%d", opts.Name, i+1)
		node := &Node{Name: name, IP: ips[i], Dir: dir, c: c, Config: NodeConfig{
			Name: name, IP: ips[i], Interface: peer, Pool: pool, ClusterIPs: ips,
			ConsulDataDir: filepath.Join(dir, "consul"), NomadDataDir: filepath.Join(dir, "nomad"),
			CgroupParent: name + ".slice",
		}}
		c.Nodes = append(c.Nodes, node)
		c.state.Namespaces = append(c.state.Namespaces, name)
		c.state.Veths = append(c.state.Veths, fmt.Sprintf("%sv%d", opts.Name, i+1))
	}
	if err := c.saveState(); err != nil {
		return c, err
	}
	// Leftovers of a run whose state file is gone: same names, so remove them.
	c.removeNetwork()

	fmt.Fprintf(c.log, "creating bridge %s (198.18.%d.1/24) and %d network namespaces\n", c.Bridge, opts.Subnet, opts.Nodes)
	if err := c.ip("link", "add", c.Bridge, "type", "bridge"); err != nil {
		return c, err
	}
	if err := c.ip("addr", "add", fmt.Sprintf("198.18.%d.1/24", opts.Subnet), "dev", c.Bridge); err != nil {
		return c, err
	}
	if err := c.ip("link", "set", c.Bridge, "up"); err != nil {
		return c, err
	}
	for i, node := range c.Nodes {
		host, peer := c.state.Veths[i], node.Config.Interface
		for _, args := range [][]string{
			{"netns", "add", node.Name},
			{"link", "add", host, "type", "veth", "peer", "name", peer},
			{"link", "set", host, "master", c.Bridge},
			{"link", "set", host, "up"},
			{"link", "set", peer, "netns", node.Name},
			{"-n", node.Name, "addr", "add", node.IP + "/24", "dev", peer},
			{"-n", node.Name, "link", "set", peer, "up"},
			{"-n", node.Name, "link", "set", "lo", "up"},
		} {
			if err := c.ip(args...); err != nil {
				return c, err
			}
		}
	}

	for _, node := range c.Nodes {
		if err := os.MkdirAll(node.Config.ConsulDataDir, 0o755); err != nil {
			return c, fmt.Errorf("topology: %w", err)
		}
		cfg, err := RenderAgentConfig("consul.hcl", node.Config.Vars())
		if err != nil {
			return c, err
		}
		file := filepath.Join(node.Dir, "consul.hcl")
		if err := writeFileAtomic(file, cfg); err != nil {
			return c, err
		}
		p, err := node.Run("consul", consulBin, "agent", "-config-file", file)
		if err != nil {
			return c, err
		}
		node.ConsulAgent = p
		ccfg := consulapi.DefaultNonPooledConfig()
		ccfg.Address, ccfg.Token = node.IP+":8500", ""
		if node.Consul, err = consulapi.NewClient(ccfg); err != nil {
			return c, fmt.Errorf("topology: %w", err)
		}
	}
	fmt.Fprintf(c.log, "started %d Consul servers; waiting for a leader and every node in the catalog\n", len(c.Nodes))
	if err := c.WaitConsul(ctx, c.Nodes...); err != nil {
		return c, err
	}
	return c, nil
}

// WaitConsul waits until every node's agent answers, knows a leader, and
// sees all the cluster's nodes in the catalog. It gives up when ctx ends,
// after at most 90 seconds, or when an agent exits.
func (c *Cluster) WaitConsul(ctx context.Context, nodes ...*Node) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for _, node := range nodes {
		var last error
		for {
			leader, err := node.Consul.Status().Leader()
			if err == nil && leader != "" {
				var ns []*consulapi.Node
				ns, _, err = node.Consul.Catalog().Nodes(nil)
				if err == nil && len(ns) == len(c.Nodes) {
					break
				}
				if err == nil {
					err = fmt.Errorf("%d of %d nodes in the catalog", len(ns), len(c.Nodes))
				}
			} else if err == nil {
				err = errors.New("no leader yet")
			}
			last = err
			if node.ConsulAgent != nil && node.ConsulAgent.Exited() {
				return fmt.Errorf("topology: %s: consul exited:\n%s", node.Name, node.ConsulAgent.Output())
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("topology: %s: Consul did not form a cluster: %v", node.Name, last)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// Run starts a program in the node's network namespace, with its output in
// <node dir>/<what>.log, and records it for Close and Down. The program
// leads a process group of its own, which is what Close and Down signal.
func (n *Node) Run(what string, args ...string) (*Proc, error) {
	return n.c.start(n, what, args)
}

// Close stops every process the cluster started and removes its
// namespaces, veth pairs, bridge, mounts and state: Down, after waiting
// for the processes this process started. It returns the first error of
// a background task (an HAProxy renderer) or of the removal.
func (c *Cluster) Close() error {
	c.mu.Lock()
	cmds := slices.Clone(c.cmds)
	for _, stop := range c.stops {
		stop()
	}
	c.mu.Unlock()
	for _, p := range cmds {
		p.Stop(5 * time.Second)
	}
	err := Down(c.opts.Dir, c.log)
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(append(slices.Clone(c.bgErr), err)...)
}

// backgroundError records the failure of a task running for the cluster.
func (c *Cluster) backgroundError(err error) {
	c.mu.Lock()
	c.bgErr = append(c.bgErr, err)
	c.mu.Unlock()
}

// Down removes the cluster whose state is in dir: it stops the processes
// recorded there (SIGTERM to each process group, SIGKILL after 5 seconds),
// unmounts everything mounted under dir, deletes the namespaces, veth pairs
// and bridge, and removes the node directories and the state file (and dir,
// when that empties it). A dir without state is left as it is: there is
// nothing to remove.
func Down(dir string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("topology: %s: %v (remove the namespaces with 'ip netns del' and the directory by hand)", filepath.Join(dir, StateFile), err)
	}
	var alive []ProcID
	for _, p := range st.Procs {
		if start, ok := procStart(p.PID); ok && start == p.Start {
			syscall.Kill(-p.PID, syscall.SIGTERM)
			alive = append(alive, p)
		}
	}
	if len(alive) > 0 {
		fmt.Fprintf(log, "stopping %d processes\n", len(alive))
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range alive {
		for attempt := 0; attempt < 250; attempt++ {
			start, ok := procStart(p.PID)
			if !ok || start != p.Start || zombie(p.PID) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if start, ok := procStart(p.PID); ok && start == p.Start && !zombie(p.PID) {
			fmt.Fprintf(log, "%s (pid %d) did not stop within 5s: killing it\n", p.What, p.PID)
			syscall.Kill(-p.PID, syscall.SIGKILL)
		}
	}
	var errs []error
	errs = append(errs, unmountUnder(dir)...)
	c := &Cluster{state: st, log: log}
	c.ipBin, _ = lookBin("", "ip")
	if c.ipBin != "" {
		c.removeNetwork()
	}
	fmt.Fprintf(log, "removed namespaces %s and bridge %s\n", strings.Join(st.Namespaces, ", "), st.Bridge)
	// Only what Up wrote: a node directory per namespace, then the state;
	// dir itself only if that leaves it empty.
	for _, ns := range st.Namespaces {
		if ns == "" || strings.ContainsAny(ns, "/.") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, ns)); err != nil {
			errs = append(errs, fmt.Errorf("topology: %w", err))
		}
	}
	if err := os.Remove(filepath.Join(dir, StateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("topology: %w", err))
	}
	os.Remove(dir)
	return errors.Join(errs...)
}

// removeNetwork deletes the namespaces, veth pairs and bridge of the state,
// ignoring those that do not exist.
func (c *Cluster) removeNetwork() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, ns := range c.state.Namespaces {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
			exec.CommandContext(ctx, c.ipBin, "netns", "del", ns).Run()
		}
	}
	for _, v := range c.state.Veths {
		if _, err := os.Stat(filepath.Join("/sys/class/net", v)); err == nil {
			exec.CommandContext(ctx, c.ipBin, "link", "del", v).Run()
		}
	}
	if c.state.Bridge != "" {
		if _, err := os.Stat(filepath.Join("/sys/class/net", c.state.Bridge)); err == nil {
			exec.CommandContext(ctx, c.ipBin, "link", "del", c.state.Bridge).Run()
		}
	}
}

// unmountUnder lazily unmounts every mount point under dir, deepest first
// (a Nomad client mounts secrets and shared directories into its
// allocations).
func unmountUnder(dir string) []error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return []error{err}
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []error{fmt.Errorf("topology: %w", err)}
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			p := unescapeMount(f[4])
			if p == abs || strings.HasPrefix(p, abs+"/") {
				points = append(points, p)
			}
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("topology: unmounting %s: %w", p, err))
		}
	}
	return errs
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (c *Cluster) ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, c.ipBin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("topology: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *Cluster) saveState() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	b, err := json.MarshalIndent(c.state, "", "  ")
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	return writeFileAtomic(filepath.Join(c.opts.Dir, StateFile), append(b, '\n'))
}

// writeFileAtomic writes a temporary file beside name, then renames it.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("topology: writing %s: %w", name, err)
	}
	return nil
}

// FindBinary finds the program name on PATH, else in /usr/sbin, where
// Debian installs haproxy and ip out of a normal user's PATH.
func FindBinary(name string) (string, error) { return lookBin("", name) }

// lookBin is path if set, else name on PATH, else /usr/sbin/name.
func lookBin(path, name string) (string, error) {
	if path != "" {
		return path, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p, nil
	}
	return "", fmt.Errorf("topology: %s not found on PATH or in /usr/sbin", name)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Procs returns the processes the cluster has started.
func (c *Cluster) Procs() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Proc(nil), c.cmds...)
}

// WaitListening waits until something accepts connections on the node's
// address and port, for at most 10 seconds.
func (n *Node) WaitListening(ctx context.Context, port int) error {
	addr := net.JoinHostPort(n.IP, strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topology: nothing listens on %s: %v", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
