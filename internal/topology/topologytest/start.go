// Package topologytest starts a one-host cluster (internal/topology) for a
// test and removes it when the test ends.
package topologytest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testenv"
	"github.com/strata-dev/strata/internal/topology"
)

// Start builds an n-node cluster for a test (see topology.Up), in a temporary
// directory, with names and a subnet of the test process's own, and removes
// it when the test ends. The last node is in the Nomad node pool spot, as in
// the Vagrant cluster. It needs root and the ip and consul programs:
// under CI=true a missing one fails the test, elsewhere it skips it.
func Start(t testing.TB, n int) *topology.Cluster {
	t.Helper()
	ipBin := testenv.RequireBinary(t, "ip")
	consulBin := testenv.RequireBinary(t, "consul")
	testenv.RequireRoot(t, "topology (network namespaces)")
	id := os.Getpid() % 100000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "strata-topology")
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Up(ctx, topology.Options{
		Name: "st" + strconv.Itoa(id), Subnet: id % 250, Nodes: n, SpotNodes: min(1, n-1), Dir: filepath.Join(dir, "cluster"),
		IP: ipBin, Consul: consulBin, DieWithParent: true, Log: testLog{t},
	})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.Procs() {
				t.Logf("%s output:\n%s", p.What, p.Output())
			}
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		os.RemoveAll(dir)
	})
	return c
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Logf("topology: %s", p)
	return len(p), nil
}
