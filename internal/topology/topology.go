// Package topology runs strata's cluster topology on one Linux host for
// tests: several nodes, each a network namespace with its own address on a
// bridge, its own Consul agent (the first one the server) and whatever the
// test starts in it, such as an HAProxy or a demo backend. It is the topology
// of a multi-node cluster, with Nomad left out: Nomad cannot run here.
//
// It needs root (network namespaces, veth pairs, a bridge) and the ip, consul
// and haproxy binaries; testenv.RequireBinary fails the test under CI=true
// when one is missing.
package topology

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/testenv"
)

// Node is one network namespace of a Cluster.
type Node struct {
	// Name is the namespace's and the Consul node's name.
	Name string
	// IP is the node's address on the cluster's bridge.
	IP string
	// Consul talks to the node's agent, from the host.
	Consul *consulapi.Client
	// Dir is a directory for the node's files.
	Dir string

	c *Cluster
}

// Cluster is a set of nodes on one bridge.
type Cluster struct {
	Nodes []*Node

	t      testing.TB
	bridge string
	mu     sync.Mutex
	procs  []*exec.Cmd
}

// Start creates n nodes (n ≥ 1) and starts a Consul agent in each, the first
// a server the others join, and waits until every node is in the catalog.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	ipBin := testenv.RequireBinary(t, "ip")
	consulBin := testenv.RequireBinary(t, "consul")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("topology needs root for network namespaces; CI runs as root")
		}
		t.Skip("topology needs root for network namespaces")
	}
	id := os.Getpid() % 100000
	// 198.18.0.0/15 is set aside for network tests (RFC 2544), so the
	// bridge's /24 cannot shadow a network the host uses; a different /24
	// per process.
	subnet := id % 250
	c := &Cluster{t: t, bridge: fmt.Sprintf("stbr%d", id)}
	t.Cleanup(c.stop)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	ip("link", "add", c.bridge, "type", "bridge")
	ip("addr", "add", fmt.Sprintf("198.18.%d.1/24", subnet), "dev", c.bridge)
	ip("link", "set", c.bridge, "up")
	for i := range n {
		node := &Node{Name: fmt.Sprintf("st%d-n%d", id, i+1), IP: fmt.Sprintf("198.18.%d.%d", subnet, 11+i), Dir: t.TempDir(), c: c}
		host, peer := fmt.Sprintf("st%dv%d", id, i+1), fmt.Sprintf("st%dp%d", id, i+1)
		ip("netns", "add", node.Name)
		ip("link", "add", host, "type", "veth", "peer", "name", peer)
		ip("link", "set", host, "master", c.bridge)
		ip("link", "set", host, "up")
		ip("link", "set", peer, "netns", node.Name)
		ip("-n", node.Name, "addr", "add", node.IP+"/24", "dev", peer)
		ip("-n", node.Name, "link", "set", peer, "up")
		ip("-n", node.Name, "link", "set", "lo", "up")
		c.Nodes = append(c.Nodes, node)
	}
	for i, node := range c.Nodes {
		args := []string{consulBin, "agent", "-node", node.Name, "-data-dir", filepath.Join(node.Dir, "consul"),
			"-bind", node.IP, "-client", node.IP, "-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1", "-log-level", "warn"}
		if i == 0 {
			args = append(args, "-server", "-bootstrap-expect", "1")
		} else {
			args = append(args, "-retry-join", c.Nodes[0].IP, "-retry-interval", "1s")
		}
		node.Start(args...)
		cfg := consulapi.DefaultNonPooledConfig()
		cfg.Address, cfg.Token = node.IP+":8500", ""
		client, err := consulapi.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		node.Consul = client
	}
	deadline := time.Now().Add(60 * time.Second)
	for attempt := 0; ; attempt++ {
		nodes, _, err := c.Nodes[0].Consul.Catalog().Nodes(nil)
		if err == nil && len(nodes) == n {
			break
		}
		if time.Now().After(deadline) || attempt > 3000 {
			t.Fatalf("the cluster did not form within 60s: %d of %d nodes in the catalog (%v)", len(nodes), n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// Start runs a program in the node's network namespace until the test ends,
// its output kept for failure messages.
func (n *Node) Start(args ...string) *exec.Cmd {
	n.c.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		n.c.t.Fatalf("%s: starting %v: %v", n.Name, args, err)
	}
	n.c.mu.Lock()
	n.c.procs = append(n.c.procs, cmd)
	n.c.mu.Unlock()
	n.c.t.Cleanup(func() {
		if n.c.t.Failed() {
			n.c.t.Logf("%s: %s output:\n%s", n.Name, filepath.Base(args[0]), out.String())
		}
	})
	return cmd
}

// WaitListening waits until something accepts connections on the node's
// address and port.
func (n *Node) WaitListening(port int) {
	n.c.t.Helper()
	addr := net.JoinHostPort(n.IP, strconv.Itoa(port))
	for attempt := 0; attempt < 500; attempt++ {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.c.t.Fatalf("nothing listens on %s", addr)
}

func (c *Cluster) stop() {
	c.mu.Lock()
	procs := c.procs
	c.mu.Unlock()
	for _, p := range procs {
		syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
	}
	for _, p := range procs {
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		exec.CommandContext(ctx, "ip", "netns", "del", n.Name).Run()
	}
	exec.CommandContext(ctx, "ip", "link", "del", c.bridge).Run()
}
