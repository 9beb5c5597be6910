//go:build unix

package haproxytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/testenv"
)

// DirPlaceholder is replaced by [Process.Dir] in configuration text and in
// files written by [WithFile] and [Process.WriteFile].
const DirPlaceholder = "{{dir}}"

// AdminPlaceholder is replaced by [Process.AdminSocket] in configuration
// text and files.
const AdminPlaceholder = "{{admin}}"

// PortPlaceholder is replaced by [Process.Port] in configuration text and
// files: a free port on 127.0.0.1 that Start picks, and picks again when
// HAProxy finds it taken.
const PortPlaceholder = "{{port}}"

// portAttempts bounds how often Start picks another port for {{port}}.
const portAttempts = 3

// startTimeout bounds the wait for a new HAProxy's first worker.
const startTimeout = 10 * time.Second

// softStopWait bounds the soft stop: workers still holding connections then
// are stopped at once.
const softStopWait = time.Second

// stopStep bounds the later steps of stopping: SIGTERM, SIGKILL.
const stopStep = 3 * time.Second

// pollInterval is the pause between two checks while starting or stopping.
const pollInterval = 5 * time.Millisecond

// maxOutput bounds the HAProxy output kept for failure messages.
const maxOutput = 1 << 20

// Process is a running HAProxy started by [Start]. Its fields are set once
// and only read afterwards.
type Process struct {
	// Dir is the directory holding the configuration and the sockets. It is
	// short (under the system's temporary directory) because unix socket
	// paths are limited to about 100 bytes; it is removed after the process
	// stops.
	Dir string
	// ConfigPath is the configuration file given with -f.
	ConfigPath string
	// MasterSocket is the master CLI's socket, given with -S.
	MasterSocket string
	// AdminSocket is the path {{admin}} stands for. HAProxy creates it only
	// if the configuration declares a stats socket there.
	AdminSocket string
	// PID is the master's process ID. The master leads a process group of
	// its own, which its workers share.
	PID int
	// Port is the port {{port}} stands for.
	Port int

	t      testing.TB
	cmd    *exec.Cmd
	out    *output
	exited chan struct{} // closed once cmd.Wait returned
	err    error         // what cmd.Wait returned; read after exited
}

// Option changes how [Start] prepares or runs HAProxy.
type Option func(*options)

type options struct {
	files   map[string]string
	command func(p *Process, bin string, args []string) []string
}

// WithCommand runs HAProxy through another program: command gets the
// haproxy binary and HAProxy's arguments (-W -S <master socket> -f
// <config>) and returns the command line to run instead, such as strata's
// `strata haproxy run … --haproxy BIN -- ARGS…`, which runs HAProxy as its
// child. PID is then that program's, and signals sent to it (Signal, and
// the soft stop at cleanup) must reach HAProxy through it.
func WithCommand(command func(p *Process, bin string, args []string) []string) Option {
	return func(o *options) { o.command = command }
}

// WithFile writes a file into the process's directory before HAProxy
// starts, for example a map file the configuration reads as
// {{dir}}/versions.map. Placeholders in content are replaced too.
func WithFile(name, content string) Option {
	return func(o *options) { o.files[name] = content }
}

// Start writes cfg (with its placeholders replaced) as the configuration of
// a new HAProxy, runs it in master-worker mode, and returns once its master
// CLI lists a current worker. A configuration that does not load fails the
// test with HAProxy's output. A cleanup registered on t stops the process.
func Start(t testing.TB, cfg string, opts ...Option) *Process {
	t.Helper()
	bin := testenv.RequireBinary(t, "haproxy")
	o := options{files: make(map[string]string)}
	for _, opt := range opts {
		opt(&o)
	}
	dir, err := os.MkdirTemp("", "haproxytest")
	if err != nil {
		t.Fatalf("haproxytest: creating a directory: %v", err)
	}
	p := &Process{
		Dir:          dir,
		ConfigPath:   filepath.Join(dir, "haproxy.cfg"),
		MasterSocket: filepath.Join(dir, "master.sock"),
		AdminSocket:  filepath.Join(dir, "admin.sock"),
		t:            t,
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("haproxytest: removing %s: %v", dir, err)
		}
	})
	t.Cleanup(func() {
		if p.cmd != nil {
			p.stop()
		}
	})
	attempts := 1
	if strings.Contains(cfg, PortPlaceholder) {
		attempts = portAttempts
	}
	for attempt := 1; ; attempt++ {
		p.Port = testenv.FreePort(t)
		for name, content := range o.files {
			p.WriteFile(name, content)
		}
		p.WriteConfig(cfg)
		err := p.run(bin, o.command)
		if err == nil {
			return p
		}
		p.stop()
		// Another process took the port between FreePort and HAProxy's
		// bind: try another.
		if attempt < attempts && strings.Contains(p.Output(), "Address already in use") {
			t.Logf("haproxytest: port %d was taken meanwhile; trying another", p.Port)
			continue
		}
		t.Fatalf("haproxytest: %v\nHAProxy output:\n%s", err, p.Output())
	}
}

// run starts HAProxy, through command when it is set, and waits until it
// is ready.
func (p *Process) run(bin string, command func(p *Process, bin string, args []string) []string) error {
	argv := []string{bin, "-W", "-S", p.MasterSocket, "-f", p.ConfigPath}
	if command != nil {
		argv = command(p, bin, argv[1:])
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.Dir
	out := &output{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	p.cmd, p.out, p.exited, p.PID = cmd, out, exited, cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		close(exited)
	}()
	return p.waitReady()
}

// waitReady waits until the master lists a current worker, the process
// exits, or startTimeout passes.
func (p *Process) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// A master that exits ends the wait at once, even mid-command.
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	m := &haproxy.Master{Socket: p.MasterSocket, Timeout: time.Second}
	maxAttempts := int(startTimeout/pollInterval) + 1
	var last error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		procs, err := m.Procs(ctx)
		if err == nil {
			for _, pr := range procs {
				if pr.Role == haproxy.RoleCurrent {
					return nil
				}
			}
			err = errors.New("no current worker listed yet")
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval):
		}
		if p.wait(0) {
			return fmt.Errorf("haproxy exited while starting: %v", p.err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no worker after %v: %v", startTimeout, last)
		}
	}
	return fmt.Errorf("no worker after %d checks: %v", maxAttempts, last)
}

// Signal sends sig to the process Start started: HAProxy's master, or the
// program of WithCommand.
func (p *Process) Signal(sig syscall.Signal) error {
	return syscall.Kill(p.PID, sig)
}

// Exited waits at most d for the process Start started to exit, and says
// whether it did and, if so, what its exit was (nil for status 0).
func (p *Process) Exited(d time.Duration) (bool, error) {
	if !p.wait(d) {
		return false, nil
	}
	return true, p.err
}

// Master returns a client of the process's master CLI.
func (p *Process) Master() *haproxy.Master {
	return &haproxy.Master{Socket: p.MasterSocket}
}

// Reload reloads the process through its master CLI and returns the new
// worker; see [haproxy.Master.Reload].
func (p *Process) Reload(ctx context.Context) (haproxy.Proc, error) {
	return p.Master().Reload(ctx)
}

// WriteConfig replaces the configuration file with cfg, placeholders
// replaced, for the next reload. It fails the test if it cannot write.
func (p *Process) WriteConfig(cfg string) {
	p.t.Helper()
	p.WriteFile(filepath.Base(p.ConfigPath), cfg)
}

// WriteFile writes content, placeholders replaced, to the file name in the
// process's directory, and returns its path. The file is replaced by a
// rename, so HAProxy never reads a part of it. It fails the test if it
// cannot write.
func (p *Process) WriteFile(name, content string) string {
	p.t.Helper()
	path := filepath.Join(p.Dir, name)
	if err := writeFile(path, expand(content, p.Dir, p.AdminSocket, p.Port)); err != nil {
		p.t.Fatalf("haproxytest: %v", err)
	}
	return path
}

// Output returns what HAProxy wrote on its stdout and stderr so far: its
// notices, warnings and configuration errors.
func (p *Process) Output() string { return p.out.String() }

// stop ends the process and every worker: a soft stop first, so workers
// finish their connections, then SIGTERM (the master stops its workers at
// once), then SIGKILL for the whole process group. Each step waits at most
// stopStep.
func (p *Process) stop() {
	defer func() {
		if p.t.Failed() {
			p.t.Logf("haproxytest: HAProxy output (%s):\n%s", p.ConfigPath, p.Output())
		}
	}()
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGUSR1, softStopWait}, {syscall.SIGTERM, stopStep}} {
		if p.wait(0) {
			break
		}
		if err := syscall.Kill(p.PID, step.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.t.Errorf("haproxytest: sending %v to HAProxy %d: %v", step.sig, p.PID, err)
		}
		if p.wait(step.wait) {
			break
		}
	}
	// The master has exited, or ignored SIGTERM. Anything left in its
	// process group (a worker orphaned by a killed master) is killed.
	if err := syscall.Kill(-p.PID, syscall.SIGKILL); err == nil {
		if !p.wait(stopStep) {
			p.t.Errorf("haproxytest: HAProxy %d did not exit after SIGKILL within %v", p.PID, stopStep)
		}
	} else if !errors.Is(err, syscall.ESRCH) {
		p.t.Errorf("haproxytest: killing HAProxy's process group %d: %v", p.PID, err)
	}
}

// wait waits up to d for the master to exit, and reports whether it has.
func (p *Process) wait(d time.Duration) bool {
	select {
	case <-p.exited:
		return true
	default:
	}
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	}
}

// Check runs "haproxy -c" on cfg, with its placeholders replaced by a fresh
// directory of its own, and returns an error holding HAProxy's output when
// the configuration is not valid.
func Check(t testing.TB, cfg string) error {
	t.Helper()
	bin := testenv.RequireBinary(t, "haproxy")
	dir, err := os.MkdirTemp("", "haproxytest")
	if err != nil {
		t.Fatalf("haproxytest: creating a directory: %v", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := writeFile(path, expand(cfg, dir, filepath.Join(dir, "admin.sock"), testenv.FreePort(t))); err != nil {
		t.Fatalf("haproxytest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-c", "-f", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("haproxy -c: %v:\n%s", err, out)
	}
	return nil
}

func expand(s, dir, admin string, port int) string {
	return strings.NewReplacer(DirPlaceholder, dir, AdminPlaceholder, admin,
		PortPlaceholder, strconv.Itoa(port)).Replace(s)
}

// writeFile writes content to a temporary file beside path and renames it
// over path.
func writeFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}

// output keeps what HAProxy writes, up to maxOutput bytes, safe for the
// concurrent writes of os/exec and reads of the test.
type output struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	room := maxOutput - o.buf.Len()
	if len(b) > room {
		o.buf.Write(b[:max(room, 0)])
		o.truncated = true
		return len(b), nil
	}
	return o.buf.Write(b)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.truncated {
		return o.buf.String() + "\n[output truncated]\n"
	}
	return o.buf.String()
}
