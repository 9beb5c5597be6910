package topology_test

import (
	"context"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/topology"
	"github.com/strata-dev/strata/internal/topology/topologytest"
)

// TestLocalClusterWithNomad starts a Nomad server and client in every
// namespace from vagrant/config/nomad.hcl.tmpl: three servers form a
// cluster, every client is ready with raw_exec and docker as the template
// says, and exactly one is in the node pool spot. Nomad is not installed
// here: without a nomad binary (NOMAD_BIN, or nomad on PATH) the test is
// skipped, also under CI=true, and says so.
func TestLocalClusterWithNomad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three network namespaces with Consul and Nomad; -short skips it")
	}
	nomadBin := topology.NomadBinary(nil)
	if nomadBin == "" {
		t.Skip("no nomad binary (NOMAD_BIN, or nomad on PATH): the Nomad half of the local cluster is not tested here; the rest of the cluster is (TestLocalClusterEndToEnd)")
	}
	c := topologytest.Start(t, 3)
	for _, n := range c.Nodes {
		if _, err := n.RunNomad(nomadBin); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client, err := c.WaitNomad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := client.Nodes().List(&nomadapi.QueryOptions{Params: map[string]string{"resources": "false"}})
	if err != nil {
		t.Fatal(err)
	}
	pools := map[string]int{}
	for _, stub := range nodes {
		pools[stub.NodePool]++
		node, _, err := client.Nodes().Info(stub.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := node.Drivers["raw_exec"]; d == nil || !d.Detected {
			t.Errorf("%s: raw_exec is not enabled: %+v", node.Name, d)
		}
	}
	if pools["spot"] != 1 || pools["default"] != 2 {
		t.Errorf("node pools %v, want one spot and two default", pools)
	}
}
