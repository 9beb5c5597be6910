package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds one master CLI command when [Master.Timeout] is zero.
const DefaultTimeout = 5 * time.Second

// DefaultReloadTimeout bounds [Master.Reload]'s wait for a new worker when
// [Master.ReloadTimeout] is zero.
const DefaultReloadTimeout = 15 * time.Second

// DefaultPollInterval is how often [Master.Reload] asks "show proc" when
// [Master.PollInterval] is zero. A reload of a small configuration takes
// tens of milliseconds to confirm.
const DefaultPollInterval = 5 * time.Millisecond

// maxOutput bounds what one command may answer: "show stat" of a
// configuration with 800 backends is about 370 kB.
const maxOutput = 64 << 20

// dialRetry is the pause between two connection attempts that the master
// refused while it re-executed itself.
const dialRetry = 2 * time.Millisecond

// Master is a client of the master CLI of an HAProxy running in master-worker
// mode (the unix socket given with -S). The zero values of its durations
// select the defaults; a Master is safe for concurrent use.
type Master struct {
	// Socket is the path of the master CLI's unix socket.
	Socket string
	// Timeout bounds one command: connecting (retrying while the master
	// re-executes itself), writing and reading the whole answer.
	Timeout time.Duration
	// ReloadTimeout bounds how long Reload waits for a new worker.
	ReloadTimeout time.Duration
	// PollInterval is the pause between two "show proc" while Reload waits.
	PollInterval time.Duration
}

// CLIError is returned when the master CLI cannot be reached or does not
// answer in full: the command may or may not have run.
type CLIError struct {
	// Socket is the master socket's path.
	Socket string
	// Command is the command that was sent, or was being sent.
	Command string
	// Err is the underlying error.
	Err error
}

// Error says which socket and command failed, and why.
func (e *CLIError) Error() string {
	return fmt.Sprintf("haproxy master CLI %s: %q: %v", e.Socket, e.Command, e.Err)
}

// Unwrap returns the underlying error.
func (e *CLIError) Unwrap() error { return e.Err }

func (m *Master) timeout() time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return DefaultTimeout
}

func (m *Master) reloadTimeout() time.Duration {
	if m.ReloadTimeout > 0 {
		return m.ReloadTimeout
	}
	return DefaultReloadTimeout
}

func (m *Master) pollInterval() time.Duration {
	if m.PollInterval > 0 {
		return m.PollInterval
	}
	return DefaultPollInterval
}

// Command sends one command line to the master CLI and returns its whole
// answer, as the master wrote it. Prefix a command with "@!<pid> " to run it
// in one worker, or "@<n> " for the n-th current worker ("@1 show info").
//
// The answer is returned as is: a command the master does not know is not an
// error here. cmd must be a single line.
func (m *Master) Command(ctx context.Context, cmd string) (string, error) {
	out, _, err := m.exchange(ctx, cmd)
	if err != nil {
		return "", err
	}
	return out, nil
}

// queryAttempts bounds how often query sends a read-only command again.
const queryAttempts = 3

// query runs a read-only command whose answer is never empty ("show proc",
// "@!<pid> show stat"). While the master re-executes itself it sometimes
// accepts a connection and then resets or closes it without a word
// (measured on 2.6.12, about 60 ms into a reload); query sends the command
// again then, which is safe only because the command changes nothing.
func (m *Master) query(ctx context.Context, cmd string) (string, error) {
	var out string
	var err error
	for attempt := 0; attempt < queryAttempts; attempt++ {
		out, _, err = m.exchange(ctx, cmd)
		cut := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
		if !(cut || err == nil && out == "") || ctx.Err() != nil {
			break
		}
		if !sleep(ctx, dialRetry) {
			break
		}
	}
	return out, err
}

// exchange runs cmd and also says whether it was written in full, which
// Reload needs: a reload that was sent may have happened even when reading
// its answer failed.
func (m *Master) exchange(ctx context.Context, cmd string) (out string, sent bool, err error) {
	if strings.ContainsAny(cmd, "\r\n") {
		return "", false, fmt.Errorf("haproxy master CLI: command %q spans more than one line", cmd)
	}
	if m.Socket == "" {
		return "", false, errors.New("haproxy master CLI: no socket path set")
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	wrap := func(err error) error { return &CLIError{Socket: m.Socket, Command: cmd, Err: err} }

	conn, err := m.dial(ctx)
	if err != nil {
		return "", false, wrap(err)
	}
	defer conn.Close()
	// Closing the connection when ctx is cancelled unblocks a read or write
	// in progress; the deadline ends them when it expires.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return "", false, wrap(err)
		}
	}
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", false, wrap(ctxErr(ctx, err))
	}
	// The master answers a command and then waits for more unless it sees
	// our end of input.
	if err := conn.CloseWrite(); err != nil {
		return "", true, wrap(ctxErr(ctx, err))
	}
	b, err := io.ReadAll(io.LimitReader(conn, maxOutput+1))
	if err != nil {
		return string(b), true, wrap(ctxErr(ctx, err))
	}
	if len(b) > maxOutput {
		return "", true, wrap(fmt.Errorf("answer longer than %d bytes", maxOutput))
	}
	return string(b), true, nil
}

// dial connects to the master socket. While the master re-executes itself
// for a reload its socket refuses connections (or is briefly absent) for
// tens of milliseconds; dial retries those until ctx ends.
func (m *Master) dial(ctx context.Context) (*net.UnixConn, error) {
	var d net.Dialer
	maxAttempts := int(m.timeout()/dialRetry) + 1
	var last error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		c, err := d.DialContext(ctx, "unix", m.Socket)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		last = err
		if !transientDialError(err) {
			return nil, err
		}
		t := time.NewTimer(dialRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
	return nil, fmt.Errorf("gave up after %d attempts: %w", maxAttempts, last)
}

// transientDialError reports whether err is what a master in the middle of
// re-executing itself answers.
func transientDialError(err error) bool {
	// A missing socket is not transient: the master keeps its socket file
	// while it re-executes, so ENOENT means a wrong path or no HAProxy,
	// and failing at once beats failing after the whole timeout.
	return errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EAGAIN)
}

// ctxErr prefers the context's error, which says why a connection closed
// under a read or write.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %v", ctx.Err(), err)
	}
	return err
}
