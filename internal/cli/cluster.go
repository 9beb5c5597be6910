package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/topology"
)

// localDefaultDir is where `strata local` keeps the one-host cluster's state.
const localDefaultDir = "/run/strata-local"

// localCmd is `strata local up|down`: the 3-node cluster of vagrant/ on one
// Linux host, in network namespaces.
func (c *CLI) localCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run strata's 3-node local cluster on this Linux host, in network namespaces (root)",
		Long: `Local runs the cluster of vagrant/ on one Linux host: three network namespaces
on a bridge (198.18.<subnet>.0/24), each a node with a Consul server and agent
rendered from the same templates as the Vagrant nodes (vagrant/config), an
HAProxy kept up to date from its own agent, an lbstats sidecar, and the demo
backends of strata.yaml's web apps. It needs root, and the ip, consul and
haproxy programs (scripts/test installs or builds them).

With a nomad binary (NOMAD_BIN, or nomad on PATH) it also starts a Nomad
server and client per node from the same templates and registers the jobs
strata render wrote beside strata.yaml; without one, the backends are
registered in Consul as Nomad would register them, and it says so.

The processes, namespaces and mounts are recorded in --dir; 'local down'
removes them, also after a crash, and 'local up' starts clean.`,
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", localDefaultDir, "directory holding the cluster's state, configurations and logs")
	cmd.AddCommand(c.localUpCmd(&dir), c.localDownCmd(&dir))
	return cmd
}

func (c *CLI) localDownCmd(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the local cluster's processes and remove its namespaces, mounts and state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(filepath.Join(*dir, topology.StateFile)); errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(c.Stdout, "strata local: no cluster recorded in %s\n", *dir)
				return nil
			}
			if err := topology.Down(*dir, c.Stdout); err != nil {
				return err
			}
			fmt.Fprintln(c.Stdout, "strata local: the cluster is down")
			return nil
		},
	}
}

func (c *CLI) localUpCmd(dir *string) *cobra.Command {
	var name string
	var subnet int
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local cluster and keep it running until interrupted",
		Example: `  sudo strata local up --config examples/local/strata.yaml
  sudo strata local down`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("the local cluster needs root for network namespaces: run it with sudo")
			}
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the strata binary: %w", err)
			}
			haproxyBin, err := topology.FindBinary("haproxy")
			if err != nil {
				return err
			}
			nomadBin := topology.NomadBinary(c.lookupEnv)
			// consul-template logs every render at DEBUG: keep warnings
			// and errors.
			log.SetOutput(routing.LogFilter{W: c.Stderr})

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cl, err := topology.Up(ctx, topology.Options{Name: name, Subnet: subnet, SpotNodes: 1, Dir: *dir,
				Log: prefixWriter{c, "strata local: "}, DieWithParent: true})
			if err != nil {
				return err
			}
			defer func() {
				fmt.Fprintln(c.Stdout, "strata local: taking the cluster down")
				if cerr := cl.Close(); cerr != nil {
					fmt.Fprintf(c.Stderr, "strata local: %v\n", cerr)
				}
			}()
			if nomadBin != "" {
				err = c.localNomad(ctx, cl, cfg, nomadBin)
			} else {
				fmt.Fprintln(c.Stdout, "strata local: no nomad binary (NOMAD_BIN, or nomad on PATH): the demo backends are registered in Consul as Nomad would register them, and HAProxy and lbstats run beside them")
				err = c.localWithoutNomad(ctx, cl, cfg, self, haproxyBin)
			}
			if err != nil {
				return err
			}
			a := cl.Nodes[0]
			fmt.Fprintf(c.Stdout, `strata local: the cluster is up: %d nodes (%s in node pool spot)
  export CONSUL_HTTP_ADDR=%s:8500
`, len(cl.Nodes), cl.Nodes[len(cl.Nodes)-1].Name, a.IP)
			if nomadBin != "" {
				fmt.Fprintf(c.Stdout, "  export NOMAD_ADDR=http://%s:4646\n", a.IP)
			}
			for _, n := range cl.Nodes {
				fmt.Fprintf(c.Stdout, "  %s: %s (HAProxy's frontends on their routing.bind port, stats on :%d, lbstats on :%d)\n", n.Name, n.IP, topology.StatsPort, topology.LBStatsPort)
			}
			fmt.Fprintf(c.Stdout, "strata local: logs in %s; Ctrl-C (or 'strata local down') takes it down\n", *dir)
			// 'strata local down' from another terminal removes the state
			// file: then this process has nothing left to run.
			state := filepath.Join(*dir, topology.StateFile)
			for ctx.Err() == nil {
				if _, err := os.Stat(state); errors.Is(err, fs.ErrNotExist) {
					fmt.Fprintln(c.Stdout, "strata local: the cluster was taken down by 'strata local down'")
					return nil
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "strata", "prefix of the namespaces (<name>-n1 …) and the bridge (<name>br)")
	f.IntVar(&subnet, "subnet", 77, "the cluster network is 198.18.<subnet>.0/24")
	return cmd
}

// localWithoutNomad runs what Nomad would run: every version of every web
// app with routing as demo backends on the default-pool nodes, registered as
// Nomad registers them, and an HAProxy and lbstats on every node.
func (c *CLI) localWithoutNomad(ctx context.Context, cl *topology.Cluster, cfg *config.Config, self, haproxyBin string) error {
	var apps []routing.App
	workers := cl.Nodes[:len(cl.Nodes)-1] // the last node is the spot node
	port := 9001
	for _, a := range cfg.Apps {
		if a.Kind != config.KindWeb || a.Routing == nil {
			continue
		}
		count := 1
		if a.Count != nil && *a.Count > 0 {
			count = *a.Count
		}
		for _, v := range a.Versions {
			for i := range count {
				node := workers[i%len(workers)]
				if _, err := node.RunBackend(ctx, self, a.Name, v, port, v == a.Live, time.Second); err != nil {
					return err
				}
				fmt.Fprintf(c.Stdout, "strata local: %s %s on %s:%d\n", a.Name, v, node.IP, port)
				port++
			}
		}
	}
	apps = routing.NewData(cfg, "", "").Apps
	if len(apps) == 0 {
		return fmt.Errorf("no web app in %s has routing: nothing for HAProxy to serve", cfg.File)
	}
	for _, n := range cl.Nodes {
		h, err := n.RunHAProxy(ctx, haproxyBin, apps)
		if err != nil {
			return err
		}
		if _, err := n.RunLBStats(ctx, self, h); err != nil {
			return err
		}
	}
	// The strata-rollout job's controller, when an app has a rollout
	// section: one is enough (any number would be safe).
	for _, a := range cfg.Apps {
		if a.Rollout == nil {
			continue
		}
		n := cl.Nodes[0]
		if _, err := n.Run("rollout", "env", "CONSUL_HTTP_ADDR="+net.JoinHostPort(n.IP, "8500"), self, "rollout", "control", "--every", "2s"); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "strata local: the rollout controller runs on %s: strata rollout start <app> <version>\n", n.Name)
		break
	}
	return nil
}

// localNomad starts a Nomad server and client per node from the shared
// template and registers the jobs strata render wrote beside strata.yaml.
func (c *CLI) localNomad(ctx context.Context, cl *topology.Cluster, cfg *config.Config, nomadBin string) error {
	for _, n := range cl.Nodes {
		if _, err := n.RunNomad(nomadBin); err != nil {
			return err
		}
	}
	fmt.Fprintln(c.Stdout, "strata local: started a Nomad server and client per node; waiting for every client to be ready")
	client, err := cl.WaitNomad(ctx)
	if err != nil {
		return err
	}
	jobsDir := filepath.Join(filepath.Dir(cfg.File), "jobs")
	var files []string
	filepath.WalkDir(jobsDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		return fmt.Errorf("no jobs in %s: run strata render --config %s first", jobsDir, cfg.File)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var wrapped struct{ Job *nomadapi.Job }
		if err := json.Unmarshal(b, &wrapped); err != nil || wrapped.Job == nil {
			return fmt.Errorf("%s: not a job strata render wrote (%v)", f, err)
		}
		if _, _, err := client.Jobs().Register(wrapped.Job, nil); err != nil {
			return fmt.Errorf("registering %s with Nomad: %w", f, err)
		}
		fmt.Fprintf(c.Stdout, "strata local: registered %s\n", f)
	}
	return nil
}

// prefixWriter writes the cluster's progress lines to stdout.
type prefixWriter struct {
	c      *CLI
	prefix string
}

func (w prefixWriter) Write(p []byte) (int, error) {
	fmt.Fprintf(w.c.Stdout, "%s%s", w.prefix, p)
	return len(p), nil
}
