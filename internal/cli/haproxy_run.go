package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/routing/apply"
)

// forwarded are the signals `strata haproxy run` passes on to HAProxy's
// master: Nomad's kill signal (SIGINT by default) and HAProxy's own
// (SIGUSR1 soft stop, SIGUSR2 reload, SIGTTOU/SIGTTIN pause and resume
// listening).
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU}

// haproxyRunCmd is the HAProxy task's command: HAProxy runs as its child,
// and every template signal is applied in process.
func (c *CLI) haproxyRunCmd() *cobra.Command {
	var dir, socket, bin string
	var settle, reconcile time.Duration
	cmd := &cobra.Command{
		Use:   "run [flags] -- HAPROXY-ARGS...",
		Short: "Run HAProxy and apply the routing files at each template signal (the HAProxy task's command)",
		Long: `Run is the strata-haproxy task's command. Nomad renders haproxy.cfg and
routing.intent before the task starts; run writes the map files and
servers.state from that first render (as 'strata haproxy apply' would, without
an HAProxy to change), records haproxy.cfg as the configuration HAProxy
loads, and starts HAProxy as its child with the arguments after --.

Then, each time the templates render again, Nomad sends the task SIGHUP
(change_mode = "signal") and run applies the files in its own process, as
'strata haproxy apply' does, without starting any process: signals that
arrive during an apply step cause one more step after it, and a failed step
is retried (from 250 ms, doubling up to 10 s) until one succeeds. Every other
signal (SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU) is passed
on to HAProxy's master, and run exits when HAProxy does, with an error when
HAProxy failed. HAProxy gets SIGTERM if run itself is killed.

Every --reconcile (30s; 0 turns it off) run also makes a step with no
signal: it compares what HAProxy runs with the files and puts back anything
changed by hand through the admin socket or missed, and costs a few
milliseconds when nothing differs.`,
		Example: `  strata haproxy run --haproxy /usr/sbin/haproxy -- -W -S "$NOMAD_ALLOC_DIR/haproxy-master.sock" -f "$NOMAD_TASK_DIR/haproxy.cfg"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if socket == "" {
				socket = masterSocketArg(args)
			}
			dir, socket, err := c.haproxyDirs(dir, socket)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return usageError{fmt.Errorf("give HAProxy's arguments after --")}
			}
			if reconcile < 0 {
				return usageError{fmt.Errorf("--reconcile %s: want 0 (off) or a positive duration, like 30s", reconcile)}
			}
			path, err := exec.LookPath(bin)
			if err != nil {
				return fmt.Errorf("--haproxy %s: %w", bin, err)
			}
			// Registered before anything else, so that no template signal
			// is lost nor ends the process.
			sigs := make(chan os.Signal, 16)
			signal.Notify(sigs, append([]os.Signal{apply.ChangeSignal}, forwarded...)...)
			defer signal.Stop(sigs)
			if _, err := apply.Apply(cmd.Context(), apply.Options{Dir: dir, Log: c.Stderr}); err != nil {
				return err
			}
			return c.superviseHAProxy(cmd.Context(), path, args, sigs, reconcile, apply.Options{
				Dir: dir, Master: &haproxy.Master{Socket: socket},
				Runtime: &haproxy.Runtime{Socket: filepath.Join(dir, "admin.sock")},
				Settle:  settle, Log: c.Stderr, StatsCopy: c.applyStatsCopy(),
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory holding haproxy.cfg and routing.intent (default: $NOMAD_TASK_DIR)")
	f.StringVar(&socket, "master-socket", "", "HAProxy's master CLI socket (default: the one HAProxy's -S argument names, else $NOMAD_ALLOC_DIR/haproxy-master.sock, else DIR/master.sock)")
	f.StringVar(&bin, "haproxy", "haproxy", "the haproxy binary")
	f.DurationVar(&settle, "settle", apply.DefaultSettle, "how long an apply step waits at most for routing.intent and haproxy.cfg to name the same settings (no wait when they do)")
	f.DurationVar(&reconcile, "reconcile", DefaultReconcile, "time between apply steps made with no signal, to put back what differs from the files (0: none)")
	return cmd
}

// DefaultReconcile is the time between the apply steps `strata haproxy run`
// makes without a signal.
const DefaultReconcile = 30 * time.Second

// superviseHAProxy runs HAProxy (path, args) as a child, applies opts at
// each apply.ChangeSignal from sigs and every reconcile (when positive),
// passes the other signals on, and returns once HAProxy has exited: nil
// when it exited with status 0.
func (c *CLI) superviseHAProxy(ctx context.Context, path string, args []string, sigs <-chan os.Signal, reconcile time.Duration, opts apply.Options) error {
	type started struct {
		proc *os.Process
		err  error
	}
	startc, exited := make(chan started, 1), make(chan error, 1)
	go func() {
		// Pdeathsig is delivered when the thread that started the child
		// ends, not the process: this goroutine keeps its thread until
		// HAProxy has exited.
		runtime.LockOSThread()
		hap := exec.Command(path, args...)
		hap.Stdout, hap.Stderr = c.Stdout, c.Stderr
		hap.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := hap.Start(); err != nil {
			startc <- started{err: err}
			return
		}
		startc <- started{proc: hap.Process}
		exited <- hap.Wait()
	}()
	st := <-startc
	if st.err != nil {
		return fmt.Errorf("starting %s: %w", path, st.err)
	}
	actx, stop := context.WithCancel(ctx)
	changed := make(chan struct{}, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		apply.Serve(actx, opts, changed, nil)
	}()
	defer func() {
		stop()
		<-served
	}()
	step := func() {
		select {
		case changed <- struct{}{}:
		default: // one step is pending already: it reads the files then
		}
	}
	var tick <-chan time.Time
	if reconcile > 0 {
		t := time.NewTicker(reconcile)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			step()
		case s := <-sigs:
			if s == apply.ChangeSignal {
				step()
				continue
			}
			if err := st.proc.Signal(s); err != nil && !errors.Is(err, os.ErrProcessDone) {
				fmt.Fprintf(c.Stderr, "strata: passing %v on to HAProxy: %v\n", s, err)
			}
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("haproxy: %w", err)
			}
			return nil
		}
	}
}

// masterSocketArg returns the master CLI socket HAProxy's arguments ask for
// ("-S <path>[,<bind options>]"), or "" when they name none or name one
// that is not a unix socket path (an IP address and port, an abstract
// socket). A relative path is relative to the directory both processes
// share.
func masterSocketArg(args []string) string {
	for i, a := range args {
		if a != "-S" || i+1 >= len(args) {
			continue
		}
		path, _, _ := strings.Cut(args[i+1], ",")
		path = strings.TrimPrefix(path, "unix@")
		if path == "" || strings.ContainsAny(path, "@:") {
			return ""
		}
		return path
	}
	return ""
}
