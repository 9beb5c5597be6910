package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"
)

// Runtime is a client of one worker's runtime API: the admin socket the
// configuration declares with "stats socket <path> ... level admin". It
// changes what the worker that owns the socket runs, without a reload: server
// addresses and states, map entries. An old worker's socket is gone (the new
// worker took the path over); reach old workers through [Master.WorkerExec].
//
// The server slots it manages are meant to be declared as
//
//	server-template s 1-16 unassigned.invalid:1 disabled init-addr last,0.0.0.0
//
// with "server-state-file" and "load-server-state-from-file global", which
// HAProxy 2.6.12 was seen to need: the slots start in maintenance at
// 0.0.0.0:1; "set server ... addr A port P" then "state ready" makes one
// serve. A host name is what makes HAProxy restore the address saved in the
// state file ("init-addr last" runs only for servers with one; with an IP
// literal only the port and state come back, and a ready server points at
// 0.0.0.0 after a reload). A port is needed because a port-less or ":0"
// server maps ports, and the port restored from the state file then counts
// as an offset. The fallback address 0.0.0.0 matters without a state file:
// a server left without an address ("init-addr none") refuses "set server
// ... addr" yet accepts "state ready". See [Runtime.ServersStateFile].
//
// A zero Timeout selects [DefaultTimeout]. A Runtime is safe for concurrent
// use, but HAProxy does not serialise two clients' changes: callers that
// read, decide and write (such as [Runtime.ReplaceMap] on one map) must not
// run concurrently against the same HAProxy.
type Runtime struct {
	// Socket is the path of the admin socket.
	Socket string
	// Timeout bounds one connection: connecting, writing every command
	// and reading every answer.
	Timeout time.Duration
}

// RuntimeError is an answer of HAProxy that says a command failed: "No such
// server.", "Unknown map identifier. Please use #<id> or <file>.", "entry
// not found.", and the like. The command was delivered; HAProxy refused it.
type RuntimeError struct {
	// Socket is the socket the command was sent to; for a command run in a
	// worker through the master, the master's socket.
	Socket string
	// Command is the command, as sent.
	Command string
	// Answer is HAProxy's answer, without its trailing newlines.
	Answer string
}

// Error names the socket, the command and HAProxy's answer.
func (e *RuntimeError) Error() string {
	return fmt.Sprintf("haproxy runtime API %s: %q: %s", e.Socket, e.Command, e.Answer)
}

// maxBatchBytes bounds the commands sent over one connection: "prompt",
// the commands with their newlines, and "quit". A command longer than that
// goes alone.
const maxBatchBytes = 8 << 10

func (r *Runtime) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultTimeout
}

// Exec runs cmds in order and returns their answers, one per command, in the
// same order, each as HAProxy wrote it without the empty line that ends it
// (a command that answers nothing, such as "set server b/s state ready",
// answers ""). Commands are sent in HAProxy's interactive ("prompt") mode,
// up to 8 kB of commands per connection (about 100 "add map" or "set
// server" commands), so a batch costs one round trip: on HAProxy 2.6.12
// with 2 cores, one Exec of 20 commands takes about twice as long as one
// command alone, and a tenth of 20 Execs of one command each
// (BenchmarkExecTwentyCommands).
//
// HAProxy runs every command even when an earlier one fails. An answer that
// says the command failed is returned as a *RuntimeError naming the command
// (with [errors.Join] when several failed; [errors.As] finds the first);
// the answers are returned as well. A command is refused before anything is
// sent when it is empty, spans more than one line, contains ';' (HAProxy
// would split it in two) or ends with the payload marker "<<".
//
// When the connection fails or an answer is cut, the error is a *CLIError:
// some commands may have run.
func (r *Runtime) Exec(ctx context.Context, cmds ...string) ([]string, error) {
	if r.Socket == "" {
		return nil, errors.New("haproxy runtime API: no socket path set")
	}
	for _, cmd := range cmds {
		if err := checkCommand(cmd); err != nil {
			return nil, fmt.Errorf("haproxy runtime API %s: %w", r.Socket, err)
		}
	}
	answers := make([]string, 0, len(cmds))
	var failed []error
	for _, batch := range batches(cmds) {
		out, err := r.exchange(ctx, batch)
		if err != nil {
			return answers, err
		}
		answers = append(answers, out...)
		for i, a := range out {
			if !answerOK(batch[i], a) {
				failed = append(failed, &RuntimeError{Socket: r.Socket, Command: batch[i], Answer: strings.TrimRight(a, "\n")})
			}
		}
	}
	switch len(failed) {
	case 0:
		return answers, nil
	case 1:
		return answers, failed[0]
	}
	return answers, errors.Join(failed...)
}

// batches splits cmds into runs of at most maxBatchBytes of input each.
func batches(cmds []string) [][]string {
	const overhead = len("prompt\n") + len("quit\n")
	var out [][]string
	start, size := 0, overhead
	for i, cmd := range cmds {
		if i > start && size+len(cmd)+1 > maxBatchBytes {
			out = append(out, cmds[start:i])
			start, size = i, overhead
		}
		size += len(cmd) + 1
	}
	if start < len(cmds) {
		out = append(out, cmds[start:])
	}
	return out
}

// checkCommand refuses what the interactive CLI would not read as exactly
// one command.
func checkCommand(cmd string) error {
	switch {
	case strings.TrimSpace(cmd) == "":
		return errors.New("empty command")
	case strings.ContainsAny(cmd, "\r\n"):
		return fmt.Errorf("command %q spans more than one line", cmd)
	case strings.Contains(cmd, ";"):
		return fmt.Errorf("command %q contains ';', which HAProxy reads as the end of a command", cmd)
	case strings.HasSuffix(strings.TrimSpace(cmd), "<<"):
		return fmt.Errorf("command %q ends with the payload marker \"<<\"", cmd)
	}
	return nil
}

// exchange sends one batch in interactive mode and splits the answers.
//
// HAProxy 2.6 answers "prompt\n<cmd>\n...quit\n" with "\n> " and then, for
// each command, its answer followed by "\n> " (the answer of a command that
// says nothing is empty). Answers end with a newline of their own, so every
// separator is preceded by one, except after "prompt" itself.
func (r *Runtime) exchange(ctx context.Context, cmds []string) ([]string, error) {
	summary := cmds[0]
	if len(cmds) > 1 {
		summary = fmt.Sprintf("%s (and %d more)", cmds[0], len(cmds)-1)
	}
	wrap := func(err error) error { return &CLIError{Socket: r.Socket, Command: summary, Err: err} }

	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", r.Socket)
	if err != nil {
		return nil, wrap(err)
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, wrap(err)
		}
	}

	var in strings.Builder
	in.WriteString("prompt\n")
	for _, cmd := range cmds {
		in.WriteString(cmd)
		in.WriteByte('\n')
	}
	in.WriteString("quit\n")
	// A batch is at most maxBatchBytes long: it fits in the socket's
	// buffer, so it is written whole before the answers are read without
	// blocking either side, and in one HAProxy buffer (tune.bufsize,
	// 16 kB by default).
	werr := func() error {
		if _, err := io.WriteString(conn, in.String()); err != nil {
			return err
		}
		return conn.CloseWrite()
	}()
	b, rerr := io.ReadAll(io.LimitReader(conn, maxOutput+1))
	switch {
	case rerr != nil:
		return nil, wrap(ctxErr(ctx, rerr))
	case werr != nil:
		return nil, wrap(ctxErr(ctx, werr))
	case len(b) > maxOutput:
		return nil, wrap(fmt.Errorf("answer longer than %d bytes", maxOutput))
	}
	answers, err := splitPrompted(string(b), len(cmds))
	if err != nil {
		return nil, wrap(err)
	}
	return answers, nil
}

// splitPrompted splits the output of an interactive session of n commands
// (after "prompt", before "quit") into their answers.
func splitPrompted(out string, n int) ([]string, error) {
	const sep = "\n> "
	if !strings.HasPrefix(out, sep) {
		return nil, fmt.Errorf("%w: the answer to \"prompt\" is %q, want %q", errBadRuntimeAnswer, firstLine(out), sep)
	}
	parts := strings.Split(out[len(sep):], sep)
	// n answers, then what follows the last prompt: nothing, as "quit"
	// answers nothing.
	if len(parts) != n+1 || parts[n] != "" {
		return nil, fmt.Errorf("%w: %d prompts for %d commands: the answer was cut or an answer contains %q",
			errBadRuntimeAnswer, len(parts)-1, n, sep)
	}
	return parts[:n], nil
}

// errBadRuntimeAnswer marks output of the interactive CLI that does not split
// into one answer per command.
var errBadRuntimeAnswer = errors.New("unexpected runtime API answer")

// answerOK reports whether answer says that cmd succeeded. HAProxy 2.6's
// answers carry no status, so this knows, per command, what success looks
// like:
//   - commands that change something and answer nothing on success ("set
//     server ... state|weight", "add|set|del|clear|commit map|acl", "enable|
//     disable ...") failed when they answer anything;
//   - "set server ... addr" succeeded when every part of its answer is one
//     of "IP changed from ...", "no need to change the addr", "port changed
//     from ...", "no need to change the port";
//   - "prepare map|acl" succeeded when it answers "New version created: N";
//   - any other command (show, get, ...) failed when its answer starts like
//     one of HAProxy's error messages.
func answerOK(cmd, answer string) bool {
	a := strings.TrimRight(answer, "\n")
	f := strings.Fields(cmd)
	verb := func(words ...string) bool {
		if len(f) < len(words) {
			return false
		}
		for i, w := range words {
			if w != "*" && f[i] != w {
				return false
			}
		}
		return true
	}
	switch {
	case verb("set", "server", "*", "addr"):
		return addrChangeOK(a)
	case verb("prepare", "map"), verb("prepare", "acl"):
		return preparedRE.MatchString(a)
	case verb("set", "server", "*", "state"), verb("set", "server", "*", "weight"),
		verb("set", "weight"), verb("set", "map"), verb("add", "map"), verb("del", "map"),
		verb("clear", "map"), verb("commit", "map"), verb("add", "acl"), verb("del", "acl"),
		verb("clear", "acl"), verb("commit", "acl"), verb("enable"), verb("disable"),
		verb("set", "dynamic-cookie-key"):
		return a == ""
	}
	for _, p := range errorPrefixes {
		if strings.HasPrefix(a, p) {
			return false
		}
	}
	return true
}

var (
	preparedRE   = regexp.MustCompile(`^New version created: [0-9]+$`)
	addrPartsRE  = regexp.MustCompile(`^(IP changed from '[^']*' to '[^']*'|no need to change the addr|port changed from '[^']*' to '[^']*'|no need to change the port)$`)
	addrByClient = " by 'stats socket command'"
)

// addrChangeOK reads the answer of "set server <b>/<s> addr <a> [port <p>]",
// such as "IP changed from '0.0.0.0' to '10.0.0.5', port changed from '1'
// to '31000' by 'stats socket command'".
func addrChangeOK(a string) bool {
	a, found := strings.CutSuffix(a, addrByClient)
	if !found || a == "" {
		return false
	}
	for _, part := range strings.Split(a, ", ") {
		if !addrPartsRE.MatchString(part) {
			return false
		}
	}
	return true
}

// errorPrefixes are how HAProxy 2.6's error answers to reading commands
// start.
var errorPrefixes = []string{
	"Unknown", // command, map identifier, ACL identifier
	"No such ",
	"Can't find ",
	"Require ",
	"Permission denied",
	"Missing ",
	"Invalid ",
	"usage:",
	"'", // "'show map' expects ..." and other usage messages
}
