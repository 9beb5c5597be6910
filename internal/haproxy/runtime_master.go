package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Workers runs "show proc" and returns the live worker processes: the
// current ones (one, as strata runs HAProxy) and the old ones, which earlier
// reloads replaced and which live on while they hold connections. Their
// total is the number of HAProxy worker processes running.
func (m *Master) Workers(ctx context.Context) (current, old []Proc, err error) {
	procs, err := m.Procs(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range procs {
		switch p.Role {
		case RoleCurrent:
			current = append(current, p)
		case RoleOld:
			old = append(old, p)
		}
	}
	return current, old, nil
}

// WorkerExec runs runtime API commands in the worker pid through the master
// ("@!<pid> <cmd>"), which reaches old workers too: their admin socket was
// taken over by the worker that replaced them. It returns the answers as
// [Runtime.Exec] does, and reports a refused command the same way, as a
// *RuntimeError (whose Socket is the master's). A worker the master no
// longer knows has exited: the error wraps [ErrProcessGone].
//
// Each command takes one connection to the master, which relays it to the
// worker; a command is never sent twice, since it may change something.
func (m *Master) WorkerExec(ctx context.Context, pid int, cmds ...string) ([]string, error) {
	answers := make([]string, 0, len(cmds))
	var failed []error
	for _, cmd := range cmds {
		if err := checkCommand(cmd); err != nil {
			return answers, fmt.Errorf("haproxy worker %d through the master at %s: %w", pid, m.Socket, err)
		}
		full := fmt.Sprintf("@!%d %s", pid, cmd)
		out, _, err := m.exchange(ctx, full)
		if err != nil {
			return answers, err
		}
		if strings.HasPrefix(out, "Can't find the target PID") {
			return answers, fmt.Errorf("haproxy worker %d: %w: the master at %s answered %q",
				pid, ErrProcessGone, m.Socket, strings.TrimSpace(out))
		}
		// A worker's answer ends with an empty line, so even an empty
		// answer is "\n": nothing at all means the answer was cut.
		if !strings.HasSuffix(out, "\n") {
			return answers, &CLIError{Socket: m.Socket, Command: full,
				Err: fmt.Errorf("%w: the answer %q does not end with a newline: it was cut", errBadRuntimeAnswer, firstLine(out))}
		}
		a := strings.TrimSuffix(out, "\n")
		answers = append(answers, a)
		if !answerOK(cmd, a) {
			failed = append(failed, &RuntimeError{Socket: m.Socket, Command: full, Answer: strings.TrimRight(a, "\n")})
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
