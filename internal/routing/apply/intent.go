package apply

import (
	"bufio"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/routing/grammar"
)

// Intent is the desired routing state: what routing.intent says.
type Intent struct {
	// Structure identifies the strata.yaml routing settings the intent was
	// rendered from (the "structure" item, a SHA-256 in hex); haproxy.cfg
	// rendered from the same settings carries it in a "# strata-structure"
	// comment (see CfgStructure). Empty when the file has no such item.
	Structure string
	// Apps are the routed apps by name.
	Apps map[string]*AppIntent
	// Hosts are the host names (exact or "*.domain") that choose an app on
	// a frontend, in file order.
	Hosts []Host
}

// maxCount bounds the slot and server counts an intent may ask for.
const maxCount = 4096

// AppIntent is the desired state of one app.
type AppIntent struct {
	// Slots and Servers are the app's version slots and the servers in
	// each, as haproxy.cfg declares them.
	Slots, Servers int
	// Versions are the versions that run (at least one server), by name.
	Versions map[string]*VersionIntent
	// Live is the version new sessions get, "" for none.
	Live string
	// Cohorts are the routed cohorts, in key order.
	Cohorts []Cohort
	// Candidate and Weight are a rollout's: Weight percent of new sessions
	// go to Candidate. Weight is 0 without a rollout.
	Candidate string
	Weight    int
}

// VersionIntent is one running version.
type VersionIntent struct {
	// Draining versions keep their servers but leave the allow-list.
	Draining bool
	// Servers are its instances, in file order.
	Servers []Server
}

// Server is one instance of a version.
type Server struct {
	// ID is derived from the Consul service ID: s + 12 hex digits.
	ID string
	// Addr is an IPv4 or IPv6 address (no brackets), Port 1 to 65535.
	Addr string
	Port int
}

// Cohort is one routed cohort.
type Cohort struct {
	Name, Version string
	// OptIn is its opt-in path; OptOut its opt-out path or "".
	OptIn, OptOut string
}

// Host routes a Host header on a frontend to an app.
type Host struct {
	Frontend, Name, App string
}

var (
	appRe       = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
	versionRe   = regexp.MustCompile(grammar.VersionPattern)
	cohortRe    = regexp.MustCompile(grammar.CohortNamePattern)
	pathRe      = regexp.MustCompile(grammar.PathPattern)
	addressRe   = regexp.MustCompile(grammar.AddressPattern)
	serverIDRe  = regexp.MustCompile(`^s[0-9a-f]{12}$`)
	structureRe = regexp.MustCompile(`^[0-9a-f]{64}$`)
	frontRe     = regexp.MustCompile(`^fe_[a-z0-9_-]{1,80}$`)
	hostRe      = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$`)
)

// Parse reads routing.intent. Every field is checked again against the
// grammar the template applied, so nothing else can reach HAProxy's maps or
// runtime API even from a file written by hand; a line that breaks it is an
// error naming the file and line.
func Parse(name, text string) (*Intent, error) {
	in := &Intent{Apps: map[string]*AppIntent{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lineNo := 0
	app := func(name string) (*AppIntent, error) {
		a, ok := in.Apps[name]
		if !ok {
			return nil, fmt.Errorf("app %q has no app line before it", name)
		}
		return a, nil
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, " ")
		err := func() error {
			need := func(n int) error {
				if len(f) != n {
					return fmt.Errorf("%s takes %d fields, not %d", f[0], n-1, len(f)-1)
				}
				return nil
			}
			check := func(re *regexp.Regexp, what, v string) error {
				if !re.MatchString(v) {
					return fmt.Errorf("%q is not a valid %s", v, what)
				}
				return nil
			}
			switch f[0] {
			case "structure":
				if err := need(2); err != nil {
					return err
				}
				if err := check(structureRe, "structure (64 hex digits)", f[1]); err != nil {
					return err
				}
				if in.Structure != "" {
					return fmt.Errorf("structure appears twice")
				}
				in.Structure = f[1]
			case "app":
				if err := need(4); err != nil {
					return err
				}
				if err := check(appRe, "app name", f[1]); err != nil {
					return err
				}
				if _, dup := in.Apps[f[1]]; dup {
					return fmt.Errorf("app %s appears twice", f[1])
				}
				slots, err1 := strconv.Atoi(f[2])
				servers, err2 := strconv.Atoi(f[3])
				if err1 != nil || err2 != nil || slots < 1 || servers < 1 || slots > maxCount || servers > maxCount {
					return fmt.Errorf("%q and %q are not slot and server counts from 1 to %d", f[2], f[3], maxCount)
				}
				in.Apps[f[1]] = &AppIntent{Slots: slots, Servers: servers, Versions: map[string]*VersionIntent{}}
			case "version":
				if err := need(4); err != nil {
					return err
				}
				a, err := app(f[1])
				if err != nil {
					return err
				}
				if err := check(versionRe, "version", f[2]); err != nil {
					return err
				}
				if f[3] != "running" && f[3] != "draining" {
					return fmt.Errorf("%q is neither running nor draining", f[3])
				}
				if _, dup := a.Versions[f[2]]; dup {
					return fmt.Errorf("version %s of %s appears twice", f[2], f[1])
				}
				a.Versions[f[2]] = &VersionIntent{Draining: f[3] == "draining"}
			case "server":
				if err := need(6); err != nil {
					return err
				}
				a, err := app(f[1])
				if err != nil {
					return err
				}
				v, ok := a.Versions[f[2]]
				if !ok {
					return fmt.Errorf("server of version %s of %s before its version line", f[2], f[1])
				}
				if err := check(serverIDRe, "server ID", f[3]); err != nil {
					return err
				}
				if err := check(addressRe, "IP address", f[4]); err != nil {
					return err
				}
				port, err := strconv.Atoi(f[5])
				if err != nil || port < 1 || port > 65535 || strconv.Itoa(port) != f[5] {
					return fmt.Errorf("%q is not a port from 1 to 65535", f[5])
				}
				if slices.ContainsFunc(v.Servers, func(s Server) bool { return s.ID == f[3] }) {
					return fmt.Errorf("server %s appears twice", f[3])
				}
				// HAProxy shows addresses in their canonical form.
				addr, err := netip.ParseAddr(f[4])
				if err != nil || addr.Zone() != "" {
					return fmt.Errorf("%q is not a valid IP address", f[4])
				}
				v.Servers = append(v.Servers, Server{ID: f[3], Addr: addr.Unmap().String(), Port: port})
			case "live":
				if err := need(3); err != nil {
					return err
				}
				a, err := app(f[1])
				if err != nil {
					return err
				}
				if f[2] != "none" {
					if err := check(versionRe, "version", f[2]); err != nil {
						return err
					}
					a.Live = f[2]
				}
			case "cohort":
				if err := need(6); err != nil {
					return err
				}
				a, err := app(f[1])
				if err != nil {
					return err
				}
				if err := check(cohortRe, "cohort name", f[2]); err != nil {
					return err
				}
				if err := check(versionRe, "version", f[3]); err != nil {
					return err
				}
				if err := check(pathRe, "path", f[4]); err != nil {
					return err
				}
				out := f[5]
				if out == "-" {
					out = ""
				} else if err := check(pathRe, "path", out); err != nil {
					return err
				}
				a.Cohorts = append(a.Cohorts, Cohort{Name: f[2], Version: f[3], OptIn: f[4], OptOut: out})
			case "rollout":
				if err := need(4); err != nil {
					return err
				}
				a, err := app(f[1])
				if err != nil {
					return err
				}
				if err := check(versionRe, "version", f[2]); err != nil {
					return err
				}
				w, err := strconv.Atoi(f[3])
				if err != nil || w < 0 || w > 100 || strconv.Itoa(w) != f[3] {
					return fmt.Errorf("%q is not a weight from 0 to 100", f[3])
				}
				a.Candidate, a.Weight = f[2], w
			case "host":
				if err := need(4); err != nil {
					return err
				}
				if err := check(frontRe, "frontend", f[1]); err != nil {
					return err
				}
				if err := check(hostRe, "host", f[2]); err != nil {
					return err
				}
				if err := check(appRe, "app name", f[3]); err != nil {
					return err
				}
				in.Hosts = append(in.Hosts, Host{Frontend: f[1], Name: f[2], App: f[3]})
			default:
				return fmt.Errorf("unknown item %q", f[0])
			}
			return nil
		}()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return in, nil
}

// cfgStructurePrefix starts the comment line of haproxy.cfg that names the
// settings it was rendered from, as routing.intent's structure item does.
const cfgStructurePrefix = "# strata-structure "

// CfgStructure returns the structure haproxy.cfg names in its
// "# strata-structure <sha256>" line, or "" when it names none.
func CfgStructure(cfg []byte) string {
	for line := range strings.Lines(string(cfg)) {
		if strings.HasPrefix(line, cfgStructurePrefix) {
			return structureOf(line)
		}
	}
	return ""
}

// structureOf returns the SHA-256 a structure line names, "structure
// <sha256>" (routing.intent) or "# strata-structure <sha256>" (haproxy.cfg),
// or "" when line is not one.
func structureOf(line string) string {
	rest, ok := strings.CutPrefix(line, cfgStructurePrefix)
	if !ok {
		rest, ok = strings.CutPrefix(line, "structure ")
	}
	if rest = strings.TrimSpace(rest); ok && structureRe.MatchString(rest) {
		return rest
	}
	return ""
}

// WithoutStructure returns text, a rendered routing.intent or haproxy.cfg,
// without its structure line: a digest of the settings, which tells a
// reader of a diff of the settings themselves nothing.
func WithoutStructure(text string) string {
	var out strings.Builder
	for line := range strings.Lines(text) {
		if structureOf(line) == "" {
			out.WriteString(line)
		}
	}
	return out.String()
}
