package testenv

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
)

// Consul is a real Consul agent in -dev mode (a single server with an
// in-memory store) started for one test on free 127.0.0.1 ports, the way
// consul's sdk/testutil starts one: the binary is the one scripts/test
// builds, found on PATH.
type Consul struct {
	// Addr is the HTTP API address, host:port.
	Addr string
	// Client talks to the agent.
	Client *consulapi.Client

	t    testing.TB
	cmd  *exec.Cmd
	log  *SyncBuffer
	done chan struct{}
	once sync.Once
}

// StartConsul starts an agent and waits until it has elected itself leader.
// It is stopped when the test ends.
func StartConsul(t testing.TB) *Consul {
	t.Helper()
	return startConsul(t, "")
}

// ACLManagementToken is the management token of an agent StartConsulWithACL
// starts.
const ACLManagementToken = "00000000-0000-4000-8000-000000000001"

// StartConsulWithACL starts an agent with ACLs enforced (default deny); its
// Client carries ACLManagementToken.
func StartConsulWithACL(t testing.TB) *Consul {
	t.Helper()
	return startConsul(t, `acl { enabled = true, default_policy = "deny", tokens { initial_management = "`+ACLManagementToken+`" } }`)
}

func startConsul(t testing.TB, hcl string) *Consul {
	t.Helper()
	bin := RequireBinary(t, "consul")
	ports := FreePorts(t, 4)
	http := ports[0]
	c := &Consul{Addr: "127.0.0.1:" + strconv.Itoa(http), t: t, log: &SyncBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, "agent", "-dev",
		"-node", "strata-test",
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", strconv.Itoa(http),
		"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-serf-lan-port", strconv.Itoa(ports[1]),
		"-serf-wan-port", strconv.Itoa(ports[2]),
		"-server-port", strconv.Itoa(ports[3]),
		"-log-level", "warn",
	)
	if hcl != "" {
		c.cmd.Args = append(c.cmd.Args, "-hcl", hcl)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting consul: %v", err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(c.Stop)

	cfg := consulapi.DefaultNonPooledConfig()
	cfg.Address = c.Addr
	if hcl != "" {
		cfg.Token = ACLManagementToken
	}
	client, err := consulapi.NewClient(cfg)
	if err != nil {
		t.Fatalf("consul client: %v", err)
	}
	c.Client = client
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		leader, err := client.Status().Leader()
		if err == nil && leader != "" {
			// The catalog answers once the agent has synced its own node.
			if _, _, err := client.Catalog().Nodes(nil); err == nil {
				return c
			}
		}
		select {
		case <-c.done:
			t.Fatalf("consul exited while starting:\n%s", c.log.String())
		case <-ctx.Done():
			t.Fatalf("consul at %s did not elect a leader within 30s:\n%s", c.Addr, c.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free when
// chosen: it holds every listener open until all n are picked, so two calls
// in a row cannot return the same port.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Stop stops the agent and waits for it to exit. Stopping twice is fine.
func (c *Consul) Stop() {
	c.once.Do(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
		}
	})
}

// Log returns what the agent has printed, for failure messages.
func (c *Consul) Log() string { return c.log.String() }

// SyncBuffer is a bytes.Buffer safe for a process and a test to share: the
// output of a server a test starts.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
