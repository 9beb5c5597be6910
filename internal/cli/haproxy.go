package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/generator"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/routing"
)

func (c *CLI) haproxyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "haproxy",
		Short: "Preview, check and reload the HAProxy configuration strata's templates render",
		Long: `HAProxy runs on every node as the strata-haproxy Nomad system job, and Nomad's
template blocks render its configuration from Consul. These commands render the
same templates, with the same consul-template code, against a Consul you name,
so you see exactly what HAProxy gets.`,
	}
	cmd.AddCommand(c.haproxyRenderCmd(false), c.haproxyRenderCmd(true), c.haproxyReloadCmd())
	return cmd
}

// haproxyReloadCmd is what the HAProxy job's template blocks run on change.
func (c *CLI) haproxyReloadCmd() *cobra.Command {
	var dir, socket string
	var settle, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Reload HAProxy once for a set of re-rendered files (the templates' change script)",
		Long: `Reload is what the strata-haproxy job's template blocks run when consul-template
re-renders haproxy.cfg or versions.map (change_mode = "script"). It takes a lock,
waits --settle for sibling templates to finish writing, and reloads HAProxy
through its master CLI unless the last confirmed reload already loaded exactly
these files. Two templates that change together therefore cause one reload
that sees both final files; a signal per template could be lost while HAProxy
re-executes itself. It exits 0 when HAProxy runs the files, 1 otherwise.`,
		Example: `  strata haproxy reload                       # in a Nomad task: uses $NOMAD_TASK_DIR
  strata haproxy reload --dir /var/lib/strata-haproxy`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				dir, _ = c.lookupEnv("NOMAD_TASK_DIR")
			}
			if dir == "" {
				return usageError{fmt.Errorf("--dir is required outside a Nomad task ($NOMAD_TASK_DIR is not set)")}
			}
			if socket == "" {
				socket = filepath.Join(dir, "master.sock")
				if alloc, ok := c.lookupEnv("NOMAD_ALLOC_DIR"); ok && alloc != "" {
					socket = filepath.Join(alloc, generator.MasterSocketName)
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			m := &haproxy.Master{Socket: socket}
			files := []string{filepath.Join(dir, "haproxy.cfg"), filepath.Join(dir, "versions.map")}
			reloaded, err := haproxy.ReloadCoalesced(ctx, m, filepath.Join(dir, ".strata-reload.lock"), files, settle)
			if err != nil {
				return err
			}
			if reloaded {
				fmt.Fprintln(c.Stdout, "strata: HAProxy reloaded")
			} else {
				fmt.Fprintln(c.Stdout, "strata: HAProxy already runs these files")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory holding haproxy.cfg, versions.map and master.sock (default: $NOMAD_TASK_DIR)")
	f.StringVar(&socket, "master-socket", "", "HAProxy's master CLI socket (default: $NOMAD_ALLOC_DIR/haproxy-master.sock, else DIR/master.sock)")
	f.DurationVar(&settle, "settle", haproxy.DefaultSettle, "how long to wait for sibling templates to finish writing")
	f.DurationVar(&timeout, "timeout", 25*time.Second, "give up after this long")
	return cmd
}

// haproxyRenderCmd is `haproxy render`, or with check `haproxy check`, which
// renders once and runs haproxy -c on the result.
func (c *CLI) haproxyRenderCmd(check bool) *cobra.Command {
	var consulAddr, out, statsBind, haproxyBin string
	var once bool
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render haproxy.cfg and versions.map from Consul into a directory",
		Long: `Render reads strata.yaml and Consul (--consul, or CONSUL_HTTP_ADDR, and
CONSUL_HTTP_TOKEN) and writes haproxy.cfg and versions.map into --out. Without
--once it keeps them up to date as Consul changes, until interrupted.`,
		Example: `  strata haproxy render --consul 127.0.0.1:8500 --once
  strata haproxy render --out /tmp/haproxy`,
	}
	if check {
		cmd.Use = "check"
		cmd.Short = "Render once and check the result with haproxy -c"
		cmd.Long = `Check renders the templates once, like 'strata haproxy render --once', and
runs 'haproxy -c' on the result. It exits 1 if HAProxy rejects it.`
		cmd.Example = `  strata haproxy check --consul 127.0.0.1:8500`
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := c.load(cmd)
		if err != nil {
			return err
		}
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		data := routing.NewData(cfg, abs, statsBind)
		if len(data.Apps) == 0 {
			return fmt.Errorf("no app in %s has routing.bind: nothing for HAProxy to serve", cfg.File)
		}
		opts := routing.Options{ConsulAddr: consulAddr, Dir: abs, Once: once || check,
			WaitMin: cfg.HAProxy.WaitMin, WaitMax: cfg.HAProxy.WaitMax}
		if opts.ConsulAddr == "" {
			opts.ConsulAddr, _ = c.lookupEnv("CONSUL_HTTP_ADDR")
		}
		opts.Token, _ = c.lookupEnv("CONSUL_HTTP_TOKEN")
		opts.OnRender = func(files []string) error {
			for _, f := range files {
				fmt.Fprintf(c.Stdout, "rendered %s\n", f)
			}
			return nil
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := routing.Render(ctx, data, opts); err != nil && ctx.Err() == nil {
			return err
		}
		if !check {
			return nil
		}
		bin := haproxyBin
		if bin == "" {
			if bin, err = exec.LookPath("haproxy"); err != nil {
				bin = "/usr/sbin/haproxy"
			}
		}
		res, err := exec.Command(bin, "-c", "-f", filepath.Join(abs, "haproxy.cfg")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("haproxy -c rejects %s: %v\n%s", filepath.Join(abs, "haproxy.cfg"), err, res)
		}
		fmt.Fprintf(c.Stdout, "%s: %s", filepath.Join(abs, "haproxy.cfg"), res)
		return nil
	}
	f := cmd.Flags()
	f.StringVar(&consulAddr, "consul", "", "Consul HTTP address (default: $CONSUL_HTTP_ADDR, then 127.0.0.1:8500)")
	f.StringVar(&out, "out", "haproxy", "directory to write haproxy.cfg and versions.map into")
	f.StringVar(&statsBind, "stats-bind", "127.0.0.1:8404", "address of the stats and /metrics listener in the rendered configuration")
	if check {
		f.StringVar(&haproxyBin, "haproxy", "", "haproxy binary (default: haproxy on PATH, then /usr/sbin/haproxy)")
	} else {
		f.BoolVar(&once, "once", false, "render once, then exit")
	}
	return cmd
}

func (c *CLI) lookupEnv(name string) (string, bool) {
	if c.LookupEnv == nil {
		return os.LookupEnv(name)
	}
	return c.LookupEnv(name)
}
