package topology

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a program a cluster runs in a node's namespace.
type Proc struct {
	// What names it, as in its log file's name.
	What string
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Log is the file holding its output.
	Log string

	done chan struct{}
	err  error
}

func (c *Cluster) start(n *Node, what string, args []string) (*Proc, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("topology: %s: nothing to run", what)
	}
	if err := os.MkdirAll(n.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	logPath := filepath.Join(n.Dir, what+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(c.ipBin, append([]string{"netns", "exec", n.Name}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.opts.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	c.mu.Lock()
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("topology: %s: starting %s: %w", n.Name, args[0], err)
	}
	p := &Proc{What: n.Name + "/" + what, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	start, _ := procStart(cmd.Process.Pid)
	c.state.Procs = append(c.state.Procs, ProcID{PID: cmd.Process.Pid, Start: start, What: p.What})
	c.cmds = append(c.cmds, p)
	c.mu.Unlock()
	if err := c.saveState(); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Stop sends SIGTERM to the process group and waits up to grace for the
// process to exit, then kills the group. Stopping twice is fine.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill kills the process group at once, as a crash would, and waits for
// the process to exit.
func (p *Proc) Kill() {
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns what the process has written to its log so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// procStart returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/<pid>/stat).
func procStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}

// zombie reports whether pid has exited and waits for its parent to reap it.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
