package cli

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/demo"
	"github.com/strata-dev/strata/internal/naming"
)

// demoNomadPortEnv is where Nomad puts the port it gave the task's "http" port.
const demoNomadPortEnv = "NOMAD_PORT_http"

func (c *CLI) demoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run strata's demo application, for local clusters and tests",
		Long: `Demo runs strata's demo application: a tiny HTTP server that stands in for one
version of an application, for HAProxy routing tests and local Nomad clusters.
Every response names the version and the instance that answered.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(c.demoServeCmd())
	return cmd
}

func (c *CLI) demoServeCmd() *cobra.Command {
	var (
		version, listen, name string
		tick, latency         time.Duration
		failRate              float64
	)
	cmd := &cobra.Command{
		Use:   "serve --version V [--listen ADDR] [--name NAME] [--tick 1s] [--fail-rate 0.2] [--latency 50ms]",
		Short: "Serve the demo application until interrupted",
		Long: `Serve runs the demo application until it receives SIGINT or SIGTERM, then shuts
down gracefully: it lets requests finish and ends every stream with "bye".

Endpoints:
  GET  /                 "version=<V> name=<N> path=<path>", for any other path and method
  GET  /healthz          200 "ok", or 503 after POST /healthz/fail until POST /healthz/pass
  GET  /stream           a line now and one per --tick, until the client leaves, or N ticks with ?ticks=N
  GET  /ws               the same over a websocket
  GET  /set-cookie       ?name=N&value=V sets a cookie; an empty value clears it
Every response has the headers X-Strata-Demo-Version and X-Strata-Demo-Name.

To stand in for a faulty or slow version:
  --fail-rate F          answer the share F (0..1) of requests 500, counted, not
                         drawn at random: at 0.2 the 5th, 10th, 15th... request fails
  --latency D            wait D before every answer
Neither applies to /healthz, /healthz/fail and /healthz/pass, so Consul's
check keeps passing.

--listen defaults to 127.0.0.1:$NOMAD_PORT_http under Nomad, else 127.0.0.1:8080.
--name defaults to <hostname>:<port>.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if version == "" {
				return usageError{fmt.Errorf("--version is required: the version this instance stands in for, such as --version v2")}
			}
			if !naming.ValidVersion(version) {
				return usageError{fmt.Errorf("--version: %q is not a valid version (%s)", version, naming.VersionGrammar)}
			}
			if tick <= 0 {
				return usageError{fmt.Errorf("--tick: %s must be positive, such as --tick 1s", tick)}
			}
			if !(failRate >= 0 && failRate <= 1) {
				return usageError{fmt.Errorf("--fail-rate: %v is not a share between 0 and 1, such as --fail-rate 0.2", failRate)}
			}
			if latency < 0 {
				return usageError{fmt.Errorf("--latency: %s must not be negative, such as --latency 50ms", latency)}
			}
			if listen == "" {
				var err error
				if listen, err = demoListen(c.lookupEnv); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return demo.Serve(ctx, demo.Options{
				Version:  version,
				Name:     name,
				Listen:   listen,
				Tick:     tick,
				FailRate: failRate,
				Latency:  latency,
				Logger:   slog.New(slog.NewTextHandler(c.Stderr, nil)),
				Ready: func(addr net.Addr) {
					fmt.Fprintf(c.Stdout, "strata demo: version %s listening on http://%s\n", version, addr)
				},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&version, "version", "", "the version this instance stands in for (required)")
	f.StringVar(&listen, "listen", "", "address to listen on (default 127.0.0.1:$"+demoNomadPortEnv+" when that is set, else 127.0.0.1:8080)")
	f.StringVar(&name, "name", "", "name of this instance in responses (default <hostname>:<port>)")
	f.DurationVar(&tick, "tick", demo.DefaultTick, "interval between lines of /stream and /ws")
	f.Float64Var(&failRate, "fail-rate", 0, "share of requests (0..1) answered 500; never /healthz")
	f.DurationVar(&latency, "latency", 0, "added before every answer; never /healthz")
	return cmd
}

// demoListen is the default address of demo serve: loopback, on the port
// Nomad gave the task's "http" port if there is one, else 8080.
func demoListen(lookupEnv func(string) (string, bool)) (string, error) {
	p, ok := lookupEnv(demoNomadPortEnv)
	if !ok || p == "" {
		return "127.0.0.1:8080", nil
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("$%s: %q is not a port number (1-65535); unset it or pass --listen", demoNomadPortEnv, p)
	}
	return net.JoinHostPort("127.0.0.1", p), nil
}
