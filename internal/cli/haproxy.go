package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/apply"
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
	cmd.AddCommand(c.haproxyRenderCmd(false), c.haproxyRenderCmd(true), c.haproxyReloadCmd(), c.haproxyApplyCmd(), c.haproxyRunCmd())
	return cmd
}

// haproxyDirs resolves the routing directory (--dir, else $NOMAD_TASK_DIR)
// and the master socket (--master-socket, else
// $NOMAD_ALLOC_DIR/haproxy-master.sock, else DIR/master.sock).
func (c *CLI) haproxyDirs(dir, socket string) (string, string, error) {
	if dir == "" {
		dir, _ = c.lookupEnv("NOMAD_TASK_DIR")
	}
	if dir == "" {
		return "", "", usageError{fmt.Errorf("--dir is required outside a Nomad task ($NOMAD_TASK_DIR is not set)")}
	}
	if socket == "" {
		socket = filepath.Join(dir, "master.sock")
		if alloc, ok := c.lookupEnv("NOMAD_ALLOC_DIR"); ok && alloc != "" {
			socket = filepath.Join(alloc, generator.MasterSocketName)
		}
	}
	return dir, socket, nil
}

// haproxyApplyCmd runs one apply step by hand.
func (c *CLI) haproxyApplyCmd() *cobra.Command {
	var dir, socket string
	var settle, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Apply the rendered routing state to HAProxy at run time, once",
		Long: `Apply runs one apply step: the step 'strata haproxy run', the HAProxy task's
command, runs in its own process each time Nomad's template blocks signal it
(change_mode = "signal"). Use it by hand, from a script, or as a template
change script outside Nomad. It takes a lock; while routing.intent and
haproxy.cfg name different strata.yaml settings (one of the two is still to
be written after strata.yaml changed) it waits for the other, at most
--settle. It gives each running version a
slot and each instance a server (keeping those they have; reusing a slot or
a server only once no worker holds a session on it), writes
the map files and servers.state, and applies the difference through HAProxy's
admin socket: no reload, no new process. Only when haproxy.cfg changed (a
routing setting in strata.yaml) does it reload HAProxy, once. It exits 0 when
HAProxy runs the desired state, 1 otherwise.`,
		Example: `  strata haproxy apply                       # in a Nomad task: uses $NOMAD_TASK_DIR
  strata haproxy apply --dir /var/lib/strata-haproxy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, socket, err := c.haproxyDirs(dir, socket)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			res, err := apply.Apply(ctx, apply.Options{
				Dir: dir, Master: &haproxy.Master{Socket: socket},
				Runtime: &haproxy.Runtime{Socket: filepath.Join(dir, "admin.sock")},
				Settle:  settle, Log: c.Stderr, StatsCopy: c.applyStatsCopy(),
			})
			if err != nil {
				return err
			}
			switch {
			case res.Reloaded:
				fmt.Fprintf(c.Stdout, "strata: haproxy.cfg changed: HAProxy reloaded; %d runtime change(s)\n", len(res.Commands))
			case len(res.Commands) > 0:
				fmt.Fprintf(c.Stdout, "strata: %d runtime change(s) applied, no reload\n", len(res.Commands))
			default:
				fmt.Fprintln(c.Stdout, "strata: HAProxy already runs this state")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory holding haproxy.cfg, routing.intent, the maps and admin.sock (default: $NOMAD_TASK_DIR)")
	f.StringVar(&socket, "master-socket", "", "HAProxy's master CLI socket (default: $NOMAD_ALLOC_DIR/haproxy-master.sock, else DIR/master.sock)")
	f.DurationVar(&settle, "settle", apply.DefaultSettle, "how long to wait at most for routing.intent and haproxy.cfg to name the same settings (no wait when they do)")
	f.DurationVar(&timeout, "timeout", 25*time.Second, "give up after this long")
	return cmd
}

// applyStatsCopy is where the apply step copies its counters for the
// lbstats sidecar: in the allocation directory, which both tasks see.
func (c *CLI) applyStatsCopy() string {
	if alloc, ok := c.lookupEnv("NOMAD_ALLOC_DIR"); ok && alloc != "" {
		return filepath.Join(alloc, applystats.CopyName)
	}
	return ""
}

// haproxyReloadCmd is what the HAProxy job's template blocks run on change.
func (c *CLI) haproxyReloadCmd() *cobra.Command {
	var dir, socket string
	var settle, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Reload HAProxy once for a set of re-rendered files (the change script of older HAProxy jobs)",
		Long: `Reload reloads HAProxy once for the files in --dir. It was the change script of
strata-haproxy jobs rendered before 'strata haproxy apply', which now changes
HAProxy at run time and reloads only when haproxy.cfg changes. It takes a lock,
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
// renders once into a new temporary directory, runs haproxy -c there, and
// removes the directory.
func (c *CLI) haproxyRenderCmd(check bool) *cobra.Command {
	var consulAddr, dir, statsBind, haproxyBin string
	var once bool
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render haproxy.cfg, routing.intent and the map files from Consul into a directory",
		Long: `Render reads strata.yaml and Consul (--consul, or CONSUL_HTTP_ADDR, and
CONSUL_HTTP_TOKEN) and writes haproxy.cfg and routing.intent into --dir, and the
map files and servers.state the apply step derives from them. Without
--once it keeps them up to date as Consul changes, until interrupted; with
--once it fails after ` + fmt.Sprint(routing.OnceAttempts) + ` attempts when Consul cannot be read.`,
		Example: `  strata haproxy render --consul 127.0.0.1:8500 --once
  strata haproxy render --dir /tmp/haproxy`,
		Args: cobra.NoArgs,
	}
	if check {
		cmd.Use = "check"
		cmd.Short = "Render once into a temporary directory and check the result with haproxy -c"
		cmd.Long = `Check renders the templates once from strata.yaml and Consul, like
'strata haproxy render --once', into a new temporary directory, runs
'haproxy -c' on the result, prints HAProxy's verdict and removes the directory,
also when interrupted. Nothing is written anywhere else. It exits 0 when HAProxy
accepts the configuration and 1 when it rejects it (the rendered configuration
is printed with line numbers), when the render fails, or when it is
interrupted.`
		cmd.Example = `  strata haproxy check --consul 127.0.0.1:8500`
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		// The global --out is the directory of generated jobs; taking it for
		// the HAProxy files would silently mean something else.
		if f := cmd.Flags().Lookup("out"); f != nil && f.Changed {
			where := "writes into --dir"
			if check {
				where = "writes only into a temporary directory it removes"
			}
			return usageError{fmt.Errorf("--out is the directory of generated jobs; 'strata haproxy %s' %s", cmd.Name(), where)}
		}
		if err := routing.CheckBind(statsBind); err != nil {
			return usageError{fmt.Errorf("--stats-bind: %w", err)}
		}
		cfg, err := c.load(cmd)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if check && ctx.Err() != nil {
			// haproxy.cfg needs nothing from Consul: a render started now
			// could write it after the directory is removed.
			return fmt.Errorf("interrupted before the check finished: nothing was checked")
		}
		if check {
			tmp, err := checkDir()
			if err != nil {
				return fmt.Errorf("creating a directory to render into: %w", err)
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		abs, err := filepath.Abs(dir)
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
		// The apply step writes the maps and servers.state from the
		// intent, as it does in the HAProxy task, without an HAProxy to
		// change.
		opts.OnRender = func(files []string) error {
			if !check {
				for _, f := range files {
					fmt.Fprintf(c.Stdout, "rendered %s\n", f)
				}
			}
			if _, err := os.Stat(filepath.Join(abs, routing.IntentFile)); err != nil {
				return nil // haproxy.cfg, which needs no Consul, came first
			}
			_, err := apply.Apply(ctx, apply.Options{Dir: abs})
			return err
		}
		err = routing.Render(ctx, data, opts)
		switch {
		case ctx.Err() != nil && check:
			return fmt.Errorf("interrupted before the check finished: nothing was checked")
		case ctx.Err() != nil:
			return nil // following changes until interrupted: done
		case err != nil:
			return err
		case !check:
			return nil
		}
		return c.haproxyCheck(ctx, haproxyBin, abs)
	}
	f := cmd.Flags()
	f.StringVar(&consulAddr, "consul", "", "Consul HTTP address (default: $CONSUL_HTTP_ADDR, then 127.0.0.1:8500)")
	f.StringVar(&statsBind, "stats-bind", "127.0.0.1:8404", "address of the stats and /metrics listener in the rendered configuration: ip:port, :port or [ipv6]:port")
	if check {
		f.StringVar(&haproxyBin, "haproxy", "", "haproxy binary (default: haproxy on PATH, then /usr/sbin/haproxy)")
	} else {
		f.StringVar(&dir, "dir", "haproxy", "directory to write haproxy.cfg, routing.intent and the maps into")
		f.BoolVar(&once, "once", false, "render once, then exit")
	}
	return cmd
}

// maxSocketPath is the longest admin socket path HAProxy accepts.
const maxSocketPath = 97

// checkDir creates the directory haproxy check renders into: in the
// temporary directory ($TMPDIR), or in /tmp when the admin socket's path
// there would be longer than HAProxy accepts.
func checkDir() (string, error) {
	dir, err := os.MkdirTemp("", "strata-check-")
	if err != nil || len(filepath.Join(dir, "admin.sock")) <= maxSocketPath {
		return dir, err
	}
	os.RemoveAll(dir)
	return os.MkdirTemp("/tmp", "strata-check-")
}

// haproxyCheck runs haproxy -c on dir/haproxy.cfg, rendered just now.
func (c *CLI) haproxyCheck(ctx context.Context, bin, dir string) error {
	file := filepath.Join(dir, "haproxy.cfg")
	rendered, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("the render finished without writing haproxy.cfg: %w", err)
	}
	if bin == "" {
		var lerr error
		if bin, lerr = exec.LookPath("haproxy"); lerr != nil {
			bin = "/usr/sbin/haproxy"
			if _, err := os.Stat(bin); err != nil {
				return fmt.Errorf("haproxy is neither on PATH nor at %s: install it, or name it with --haproxy", bin)
			}
		}
	}
	res, err := exec.CommandContext(ctx, bin, "-c", "-f", file).CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted while haproxy -c ran: nothing was checked")
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		var numbered strings.Builder
		for i, line := range strings.Split(strings.TrimSuffix(string(rendered), "\n"), "\n") {
			fmt.Fprintf(&numbered, "%5d  %s\n", i+1, line)
		}
		return fmt.Errorf("haproxy -c rejects the configuration rendered from Consul (%v):\n%s\nThe configuration (%s, removed now):\n%s",
			err, strings.TrimSpace(string(res)), file, numbered.String())
	}
	if err != nil {
		return fmt.Errorf("running %s -c: %w", bin, err)
	}
	fmt.Fprintf(c.Stdout, "haproxy -c accepts the configuration rendered from Consul: %s", res)
	return nil
}

func (c *CLI) lookupEnv(name string) (string, bool) {
	if c.LookupEnv == nil {
		return os.LookupEnv(name)
	}
	return c.LookupEnv(name)
}
