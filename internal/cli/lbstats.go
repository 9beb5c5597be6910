package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/lbstats"
)

// Environment variables Nomad sets that lbstats reads for its defaults.
const (
	// lbstatsAllocDirEnv is the allocation directory the HAProxy task and
	// the sidecar share; the master socket lives there.
	lbstatsAllocDirEnv = "NOMAD_ALLOC_DIR"
	// lbstatsListenEnv is the ip:port Nomad gave the task's "lbstats" port.
	lbstatsListenEnv = "NOMAD_ADDR_lbstats"
	// lbstatsNodeEnv is the ID of the Nomad node the task runs on.
	lbstatsNodeEnv = "NOMAD_NODE_ID"
)

// lbstatsCmd is the sidecar task of the strata-haproxy job: it serves the
// sessions per version of the HAProxy beside it to the sweeper.
func (c *CLI) lbstatsCmd() *cobra.Command {
	var socket, listen, node string
	cmd := &cobra.Command{
		Use:   "lbstats [--master-socket PATH] [--listen ADDR] [--node NAME]",
		Short: "Serve this node's HAProxy sessions, counters and workers per version",
		Long: `Lbstats runs beside HAProxy in the strata-haproxy job and tells the sweeper how
many sessions every version has on this node, and the rollout controller how
many responses, 5xx responses and errors each version served. For every
request it asks HAProxy's master CLI for the statistics of every worker, the
current one and every old one still alive after reloads (an old worker keeps
the long-lived connections it held, such as a websocket), and attributes each
worker's version slots through that worker's own slots.map.

Endpoints:
  GET /sessions   200 and {"node","time","workers","versions":{app:{version:n}},"other",
                  "master_pid","reloads","processes":[...],"traffic":{...}}
                  or 503 and {"error": "..."} when HAProxy cannot be read in full
  GET /healthz    200 when a full count succeeds, 503 otherwise
  GET /metrics    the same in Prometheus' text format (strata_haproxy_workers,
                  strata_sessions, strata_http_responses_total, ...), or 503

It never answers numbers it could not read: the sweeper retires a version
only when every HAProxy provably reports 0 sessions for it, and a rollout
never advances on incomplete data. It runs until SIGINT or SIGTERM.

Inside a Nomad allocation, /metrics also exposes the apply step's counters,
from $NOMAD_ALLOC_DIR/` + applystats.CopyName + `: steps that failed
(strata_haproxy_apply_failures_total), whether the last one did
(strata_haproxy_apply_failing), and steps that found no free version slot or
server (strata_haproxy_apply_fallbacks_total).

--master-socket defaults to $NOMAD_ALLOC_DIR/` + lbstats.MasterSocketName + `, --listen to
$NOMAD_ADDR_lbstats, and --node to $NOMAD_NODE_ID, then the host name.`,
		Example: `  strata lbstats                                   # in a Nomad task
  strata lbstats --master-socket /run/haproxy/master.sock --listen 127.0.0.1:8405`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if socket == "" {
				dir, _ := c.lookupEnv(lbstatsAllocDirEnv)
				if dir == "" {
					return usageError{fmt.Errorf("--master-socket is required outside a Nomad allocation ($%s is not set)", lbstatsAllocDirEnv)}
				}
				socket = filepath.Join(dir, lbstats.MasterSocketName)
			}
			if listen == "" {
				listen, _ = c.lookupEnv(lbstatsListenEnv)
				if listen == "" {
					return usageError{fmt.Errorf("--listen is required outside a Nomad task with an %q port ($%s is not set)", "lbstats", lbstatsListenEnv)}
				}
			}
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return usageError{fmt.Errorf("--listen %q: want host:port, such as 127.0.0.1:8405: %v", listen, err)}
			}
			if node == "" {
				node, _ = c.lookupEnv(lbstatsNodeEnv)
			}
			if node == "" {
				h, err := os.Hostname()
				if err != nil || h == "" {
					return usageError{fmt.Errorf("--node is required: $%s is not set and the host name is unknown (%v)", lbstatsNodeEnv, err)}
				}
				node = h
			}
			if _, err := os.Stat(socket); errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(c.Stderr, "strata lbstats: %s does not exist yet; /sessions answers 503 until HAProxy creates it\n", socket)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			applyStats := ""
			if dir, _ := c.lookupEnv(lbstatsAllocDirEnv); dir != "" {
				applyStats = filepath.Join(dir, applystats.CopyName)
			}
			return lbstats.Serve(ctx, lbstats.Options{
				Master:     &haproxy.Master{Socket: socket},
				Listen:     listen,
				Node:       node,
				ApplyStats: applyStats,
				Ready: func(addr net.Addr) {
					fmt.Fprintf(c.Stdout, "strata lbstats: node %s, HAProxy master %s, serving http://%s/sessions\n", node, socket, addr)
				},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&socket, "master-socket", "", "HAProxy's master CLI socket (default: $"+lbstatsAllocDirEnv+"/"+lbstats.MasterSocketName+")")
	f.StringVar(&listen, "listen", "", "address to serve on, host:port (default: $"+lbstatsListenEnv+")")
	f.StringVar(&node, "node", "", "node name in reports (default: $"+lbstatsNodeEnv+", then the host name)")
	return cmd
}
