package topology

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// NomadBinary returns the nomad program to run: NOMAD_BIN as lookupEnv
// reads it, else nomad on PATH; "" when there is none.
func NomadBinary(lookupEnv func(string) (string, bool)) string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if p, ok := lookupEnv("NOMAD_BIN"); ok && p != "" {
		return p
	}
	p, _ := exec.LookPath("nomad")
	return p
}

// RunNomad renders vagrant/config/nomad.hcl.tmpl for the node into its
// directory and starts a Nomad server and client from it in the node's
// namespace.
func (n *Node) RunNomad(nomadBin string) (*Proc, error) {
	conf, err := RenderAgentConfig("nomad.hcl", n.Config.Vars())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(n.Config.NomadDataDir, 0o755); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	file := filepath.Join(n.Dir, "nomad.hcl")
	if err := writeFileAtomic(file, conf); err != nil {
		return nil, err
	}
	return n.Run("nomad", nomadBin, "agent", "-config", file)
}

// NomadClient talks to the Nomad agent of the cluster's first node.
func (c *Cluster) NomadClient() (*nomadapi.Client, error) {
	cfg := nomadapi.DefaultConfig()
	cfg.Address = "http://" + c.Nodes[0].IP + ":4646"
	return nomadapi.NewClient(cfg)
}

// WaitNomad waits until every node's Nomad client is ready, for at most two
// minutes.
func (c *Cluster) WaitNomad(ctx context.Context) (*nomadapi.Client, error) {
	client, err := c.NomadClient()
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		nodes, _, err := client.Nodes().List((&nomadapi.QueryOptions{}).WithContext(ctx))
		ready := 0
		for _, n := range nodes {
			if n.Status == nomadapi.NodeStatusReady {
				ready++
			}
		}
		if err == nil && ready == len(c.Nodes) {
			return client, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("topology: %d of %d Nomad clients ready (%v); see the nomad.log files in %s", ready, len(c.Nodes), err, c.opts.Dir)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
