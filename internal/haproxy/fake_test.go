package haproxy

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMaster is a master CLI on a unix socket that keeps the state of its
// processes and answers "show proc", "@!<pid> show stat" and "reload" from
// it, the way HAProxy 2.6.12 formats them. Tests change its state through
// the hooks to play what is hard to time with a real HAProxy, such as a
// worker that exits between two commands.
type fakeMaster struct {
	socket string

	mu       sync.Mutex
	pid      int
	reloads  int
	failed   int
	workers  []fakeWorker
	commands []string
	// onStat, when set, runs before a worker answers "show stat", with mu
	// held; when it returns true, its answer replaces the worker's.
	onStat func(f *fakeMaster, pid int) (answer string, replace bool)
	// onReload, when set, runs on "reload", with mu held.
	onReload func(f *fakeMaster)
	// onShowProc, when set, runs before "show proc" is answered, with mu
	// held.
	onShowProc func(f *fakeMaster)
	// silent is how many of the next commands get no answer at all, as
	// during a reload.
	silent int
}

type fakeWorker struct {
	pid      int
	old      bool
	sessions map[string]int
}

func startFakeMaster(t *testing.T, workers ...fakeWorker) *fakeMaster {
	t.Helper()
	// Unix socket paths are limited to about 100 bytes, which t.TempDir
	// can exceed with a long test name.
	dir, err := os.MkdirTemp("", "fakemaster")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeMaster{socket: filepath.Join(dir, "master.sock"), pid: 100, workers: workers}
	l, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprint(c, f.answer(strings.TrimSpace(line)))
			}()
		}
	}()
	return f
}

func (f *fakeMaster) master() *Master {
	return &Master{Socket: f.socket, Timeout: time.Second, ReloadTimeout: time.Second, PollInterval: time.Millisecond}
}

func (f *fakeMaster) answer(cmd string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, cmd)
	if f.silent > 0 {
		f.silent--
		return ""
	}
	switch {
	case cmd == "show proc":
		if f.onShowProc != nil {
			f.onShowProc(f)
		}
		return f.showProc()
	case cmd == "reload":
		if f.onReload != nil {
			f.onReload(f)
		}
		return ""
	case strings.HasPrefix(cmd, "@!") && (strings.HasSuffix(cmd, " show stat") || strings.HasSuffix(cmd, " show stat -1 2 -1")):
		// The BACKEND rows alone (-1 2 -1) are answered like the whole.
		pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(cmd, "@!"), " -1 2 -1"), " show stat"))
		if f.onStat != nil {
			if answer, ok := f.onStat(f, pid); ok {
				return answer
			}
		}
		for _, w := range f.workers {
			if w.pid == pid {
				return showStat(w.sessions)
			}
		}
		return fmt.Sprintf("Can't find the target PID matching the prefix '@!%d'\n", pid)
	}
	return fmt.Sprintf("Unknown command: '%s'\n", cmd)
}

func (f *fakeMaster) showProc() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-14s %-15s %-15s %-15s %-15s\n", "<PID>", "<type>", "<reloads>", "<uptime>", "<version>")
	fmt.Fprintf(&b, "%-15d %-15s %-15s %-15s %-15s\n", f.pid, "master", fmt.Sprintf("%d [failed: %d]", f.reloads, f.failed), "0d00h00m01s", "2.6.12")
	for _, old := range []bool{false, true} {
		if old {
			b.WriteString("# old workers\n")
		} else {
			b.WriteString("# workers\n")
		}
		for _, w := range f.workers {
			if w.old == old {
				fmt.Fprintf(&b, "%-15d %-15s %-15d %-15s %-15s\n", w.pid, "worker", 0, "0d00h00m01s", "2.6.12")
			}
		}
	}
	b.WriteString("# programs\n\n")
	return b.String()
}

// showStat answers "show stat" with a FRONTEND row and a BACKEND row per
// backend, in the column order of HAProxy 2.6 (cut after type).
func showStat(sessions map[string]int) string {
	var b strings.Builder
	b.WriteString("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,\n")
	b.WriteString("fe,FRONTEND,,,9,9,100,9,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,\n")
	names := make([]string, 0, len(sessions))
	for name := range sessions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := sessions[name]
		fmt.Fprintf(&b, "%s,s1,0,0,%d,%d,,%d,0,0,,0,,0,0,0,0,no check,1,1,0,,,1,,,1,3,1,,0,,2,\n", name, n, n, n)
		fmt.Fprintf(&b, "%s,BACKEND,0,0,%d,%d,100,%d,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,3,0,,0,,1,\n", name, n, n, n)
	}
	b.WriteString("\n")
	return b.String()
}

// exits removes the worker pid, as if it had exited.
func (f *fakeMaster) exits(pid int) {
	for i, w := range f.workers {
		if w.pid == pid {
			f.workers = append(f.workers[:i], f.workers[i+1:]...)
			return
		}
	}
}

// reloadOK plays a successful reload: current workers become old and
// worker pid starts with no sessions.
func (f *fakeMaster) reloadOK(pid int) {
	f.reloads++
	f.failed = 0
	for i := range f.workers {
		f.workers[i].old = true
	}
	f.workers = append(f.workers, fakeWorker{pid: pid, sessions: map[string]int{"app-v1": 0, "app-v2": 0}})
}
