package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/routing"
)

// Files the apply step keeps in the routing directory beside the maps.
const (
	// StateFile is the assignment of slots and servers (State, JSON).
	StateFile = "state.json"
	// StatsFile holds the step counters (applystats.Stats, JSON).
	StatsFile = "apply-stats.json"
	// lockFile serialises apply steps.
	lockFile = ".strata-apply.lock"
	// loadedFile holds the SHA-256 of the haproxy.cfg HAProxy last loaded.
	loadedFile = ".strata-loaded-cfg"
)

// DefaultSettle is how long `strata haproxy apply` waits at most for
// routing.intent and haproxy.cfg to name the same settings (see Options.Settle).
// It costs nothing in normal operation, where they agree at once.
const DefaultSettle = time.Second

// Options say where Apply reads and writes, and which HAProxy it changes.
type Options struct {
	// Dir is the routing directory: routing.intent and haproxy.cfg as
	// rendered, the map files, servers.state and the apply step's own
	// files. Map paths in haproxy.cfg name files in it.
	Dir string
	// ConfigPath is where HAProxy reads its configuration; empty means
	// Dir/haproxy.cfg. Apply installs the configuration there before a
	// reload: the rendered one, with the slots and servers added when they
	// ran out (see Expand).
	ConfigPath string
	// Master is HAProxy's master CLI. Nil means HAProxy does not run yet:
	// Apply writes the files and records haproxy.cfg as the configuration
	// HAProxy is about to load, and changes nothing at run time.
	Master *haproxy.Master
	// Runtime runs runtime API commands in the current worker; nil means
	// through Master (MasterExec).
	Runtime Exec
	// Settle is how long Apply waits at most, holding the lock, while
	// routing.intent and haproxy.cfg were rendered from different settings
	// (their structure lines differ): the sibling template is still to be
	// written. When they agree, as they do whenever only Consul data
	// changed, Apply does not wait at all.
	Settle time.Duration
	// Log receives one line per notable event (a reload, exhaustion);
	// nil discards them.
	Log io.Writer
	// StatsCopy, when set, is a file that gets a copy of the counters
	// (applystats.Stats, JSON) after every step, for the lbstats sidecar,
	// which reads it from the allocation directory (applystats.CopyName).
	StatsCopy string
}

// Result says what one Apply did.
type Result struct {
	// Reloaded is true when haproxy.cfg changed and HAProxy was reloaded.
	Reloaded bool
	// Commands are the runtime API commands applied.
	Commands []string
	// Exhausted says which versions or instances found no slot or server
	// within the limits: Apply then added slots or servers to haproxy.cfg
	// and reloaded (Reloaded).
	Exhausted []string
}

// Apply brings HAProxy to the state routing.intent asks for; see the package
// documentation. It holds an exclusive lock on the routing directory for the
// whole step, so concurrent calls run one after the other and the later one
// finds nothing left to do.
func Apply(ctx context.Context, opts Options) (res Result, err error) {
	unlock, err := haproxy.Lock(ctx, filepath.Join(opts.Dir, lockFile))
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	defer unlock()
	// Counted under the lock, success or failure.
	defer func() {
		if serr := updateStats(opts, res, err); serr != nil && err == nil {
			err = fmt.Errorf("apply: recording the step: %w", serr)
		}
	}()
	in, rendered, err := readRendered(ctx, opts)
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	prev, err := loadState(filepath.Join(opts.Dir, StateFile))
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	var sess Sessions
	if opts.Master != nil && NeedsSessions(prev, in) {
		if sess, err = ReadSessions(ctx, opts.Master); err != nil {
			return res, fmt.Errorf("apply: counting sessions, without which no slot or server can be freed: %w", err)
		}
	}
	// Limits: the configuration's, or more where they ran out before.
	grown := map[string]Limits{}
	for app, ai := range in.Apps {
		if g, ok := prev.Grown[app]; ok && (g.Slots > ai.Slots || g.Servers > ai.Servers) {
			g = Limits{Slots: max(g.Slots, ai.Slots), Servers: max(g.Servers, ai.Servers)}
			grown[app] = g
			ai.Slots, ai.Servers = g.Slots, g.Servers
		}
	}
	next, exhausted := Assign(prev, in, sess)
	if len(exhausted) > 0 {
		// Slots ran out: HAProxy gets more, with one reload (below).
		limits := map[string]Limits{}
		for app, ai := range in.Apps {
			limits[app] = Limits{Slots: ai.Slots, Servers: ai.Servers}
		}
		for app, l := range Needed(in, limits, next) {
			grown[app] = l
			in.Apps[app].Slots, in.Apps[app].Servers = l.Slots, l.Servers
			logf(opts.Log, "strata: routing: slots ran out for %s: haproxy.cfg gets %d version slots of %d servers, and HAProxy reloads once; raise routing.max_versions or max_servers in strata.yaml to avoid it", app, l.Slots, l.Servers)
		}
		for _, e := range exhausted {
			logf(opts.Log, "strata: routing: %s", e)
		}
		res.Exhausted = exhausted
		next, exhausted = Assign(prev, in, sess)
		for _, e := range exhausted {
			logf(opts.Log, "strata: routing: still without a place after growing: %s", e)
		}
	}
	if len(grown) > 0 {
		next.Grown = grown
	}
	d := Desire(next, in)

	cfgPath := filepath.Join(opts.Dir, routing.ConfigFile)
	cfg := rendered
	if len(grown) > 0 {
		expanded, err := Expand(string(rendered), grown)
		if err != nil {
			return res, fmt.Errorf("apply: adding slots to %s: %w", cfgPath, err)
		}
		cfg = []byte(expanded)
	}
	target := cfgPath
	if opts.ConfigPath != "" {
		target = opts.ConfigPath
	}
	if err := writeFiles(opts.Dir, d, next); err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	sum := sha256.Sum256(cfg)
	cfgSum := hex.EncodeToString(sum[:])
	loadedPath := filepath.Join(opts.Dir, loadedFile)
	if opts.Master == nil {
		if old, err := os.ReadFile(target); err != nil || !bytes.Equal(old, cfg) {
			if err := writeAtomic(target, cfg); err != nil {
				return res, fmt.Errorf("apply: installing the configuration: %w", err)
			}
		}
		if err := writeAtomic(loadedPath, []byte(cfgSum+"\n")); err != nil {
			return res, fmt.Errorf("apply: %w", err)
		}
		return res, nil
	}
	loaded, err := os.ReadFile(loadedPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("apply: %w", err)
	}
	if strings.TrimSpace(string(loaded)) != cfgSum {
		// The structure changed: the new worker loads the maps and
		// servers.state written above.
		if old, err := os.ReadFile(target); err != nil || !bytes.Equal(old, cfg) {
			if err := writeAtomic(target, cfg); err != nil {
				return res, fmt.Errorf("apply: installing the configuration: %w", err)
			}
		}
		if _, err := opts.Master.Reload(ctx); err != nil {
			return res, fmt.Errorf("apply: haproxy.cfg changed: %w", err)
		}
		res.Reloaded = true
		logf(opts.Log, "strata: routing: haproxy.cfg changed: HAProxy reloaded")
		if err := writeAtomic(loadedPath, []byte(cfgSum+"\n")); err != nil {
			return res, fmt.Errorf("apply: reloaded, but recording it failed, so the next apply reloads again: %w", err)
		}
	}
	x := opts.Runtime
	if x == nil {
		x = MasterExec{Master: opts.Master}
	}
	cmds, err := converge(ctx, x, opts.Dir, d)
	res.Commands = cmds
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	return res, nil
}

// settlePoll is how often readRendered looks again while the two rendered
// files disagree.
const settlePoll = 5 * time.Millisecond

// readRendered reads routing.intent and haproxy.cfg as rendered. The two
// templates render in passes of their own, so after a change of strata.yaml
// one may be written before the other: while their structure lines name
// different settings, it reads them again, for at most opts.Settle, and then
// goes on with what it has (the sibling's own apply step follows). In normal
// operation only routing.intent changes and they agree at once: no wait.
func readRendered(ctx context.Context, opts Options) (*Intent, []byte, error) {
	intentPath := filepath.Join(opts.Dir, routing.IntentFile)
	cfgPath := filepath.Join(opts.Dir, routing.ConfigFile)
	deadline := time.Now().Add(opts.Settle)
	for {
		text, err := os.ReadFile(intentPath)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the intent: %w", err)
		}
		in, err := Parse(intentPath, string(text))
		if err != nil {
			return nil, nil, err
		}
		cfg, err := os.ReadFile(cfgPath)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the structural configuration: %w", err)
		}
		cs := CfgStructure(cfg)
		if in.Structure == "" || cs == "" || in.Structure == cs || !time.Now().Before(deadline) {
			return in, cfg, nil
		}
		t := time.NewTimer(settlePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("waiting for %s and %s to name the same settings: %w", routing.IntentFile, routing.ConfigFile, ctx.Err())
		case <-t.C:
		}
	}
}

// convergeAttempts bounds how often Apply reads the worker back and applies
// what still differs.
const convergeAttempts = 3

// converge applies the difference between the worker and d, then reads the
// worker back to verify it took.
func converge(ctx context.Context, x Exec, dir string, d Desired) ([]string, error) {
	var all, last []string
	var lastErr error
	for attempt := 0; ; attempt++ {
		now, err := readRunning(ctx, x, dir)
		if err != nil {
			return all, fmt.Errorf("reading HAProxy's state: %w", err)
		}
		last = differences(d, now)
		if len(last) == 0 {
			return all, nil
		}
		if attempt == convergeAttempts {
			break
		}
		cmds := commands(d, now, dir)
		all = append(all, cmds...)
		lastErr = run(ctx, x, cmds)
	}
	if lastErr != nil {
		return all, fmt.Errorf("HAProxy does not run the desired state after %d attempts: %w; still different: %s", convergeAttempts, lastErr, strings.Join(last, "; "))
	}
	return all, fmt.Errorf("HAProxy does not run the desired state after %d attempts; still different: %s", convergeAttempts, strings.Join(last, "; "))
}

// ReadSessions counts the current sessions (queued included) of every
// backend and server, summed over the current and old workers: a slot or a
// server is free only when no worker holds a session on it.
func ReadSessions(ctx context.Context, m *haproxy.Master) (Sessions, error) {
	s := Sessions{Backends: map[string]int{}, Servers: map[string]map[string]int{}}
	procs, err := m.Procs(ctx)
	if err != nil {
		return s, err
	}
	for _, p := range procs {
		if !p.Worker() {
			continue
		}
		rows, err := m.Stat(ctx, p.PID)
		if errors.Is(err, haproxy.ErrProcessGone) {
			continue // it exited: it holds nothing
		}
		if err != nil {
			return s, fmt.Errorf("%s %d: %w", p.Role, p.PID, err)
		}
		for _, r := range rows {
			switch r.Type {
			case haproxy.TypeBackend:
				s.Backends[r.PxName] += r.Scur + r.Qcur
			case haproxy.TypeServer:
				if s.Servers[r.PxName] == nil {
					s.Servers[r.PxName] = map[string]int{}
				}
				s.Servers[r.PxName][r.SvName] += r.Scur + r.Qcur
			}
		}
	}
	return s, nil
}

func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Apps: map[string]*AppState{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w (remove it to start the assignment over)", path, err)
	}
	return &st, nil
}

// writeFiles writes the maps, servers.state and the state, each only when
// its content changes.
func writeFiles(dir string, d Desired, st *State) error {
	files := map[string][]byte{ServersState: d.ServersStateText()}
	for _, f := range MapFiles {
		files[f] = d.MapText(f)
	}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	files[StateFile] = append(js, '\n')
	for name, b := range files {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
			continue
		}
		if err := writeAtomic(path, b); err != nil {
			return err
		}
	}
	return nil
}

// updateStats counts the step that returned res and stepErr in StatsFile,
// and copies the counters to opts.StatsCopy when set.
func updateStats(opts Options, res Result, stepErr error) error {
	path := filepath.Join(opts.Dir, StatsFile)
	var st applystats.Stats
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &st) // a damaged file starts over
	}
	if stepErr != nil {
		st.Failures++
		st.Failing = true
		st.LastError = stepErr.Error()
		if len(st.LastError) > applystats.MaxLastError {
			st.LastError = st.LastError[:applystats.MaxLastError]
		}
	} else {
		st.Applies++
		st.Failing, st.LastError = false, ""
	}
	if res.Reloaded {
		st.Reloads++
	}
	if len(res.Exhausted) > 0 {
		st.Exhausted++
		st.LastExhausted = res.Exhausted
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := writeAtomic(path, b); err != nil {
		return err
	}
	if opts.StatsCopy != "" {
		return writeAtomic(opts.StatsCopy, b)
	}
	return nil
}

// ReadStats reads the counters of the routing directory dir; a directory
// without them reads as zero.
func ReadStats(dir string) (applystats.Stats, error) {
	st, _, err := applystats.ReadFile(filepath.Join(dir, StatsFile))
	return st, err
}

// writeAtomic writes b beside path and renames it over path.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
