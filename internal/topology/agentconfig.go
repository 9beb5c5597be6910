package topology

import (
	"bytes"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/vagrant"
)

// AgentConfigs names the agent configuration templates of a node, as
// vagrant/config/<name>.tmpl: the Consul agent's and the Nomad agent's.
var AgentConfigs = []string{"consul.hcl", "nomad.hcl"}

// DefaultMaxKillTimeout is the Nomad clients' max_kill_timeout in both local
// clusters: long enough for the hour-long sessions strata's examples give
// kill_timeout, with room to spare.
const DefaultMaxKillTimeout = "2h"

// NodeConfig is what one node's agent configurations depend on. Vagrant's
// provisioning computes the same variables from the same inputs
// (vagrant/provision/render.sh); the tests check that both render the same
// bytes.
type NodeConfig struct {
	// Name is the node's name, for Consul and Nomad.
	Name string
	// IP is the node's address on the cluster network.
	IP string
	// Interface is the network interface holding IP, which Nomad
	// fingerprints.
	Interface string
	// Pool is the node's Nomad node pool: "default", or "spot" for the node
	// that runs workers.
	Pool string
	// ClusterIPs are the addresses of every server, this node's included.
	ClusterIPs []string
	// ConsulDataDir and NomadDataDir are the agents' data directories.
	ConsulDataDir, NomadDataDir string
	// MaxKillTimeout is the Nomad client's max_kill_timeout; empty means
	// DefaultMaxKillTimeout.
	MaxKillTimeout string
	// CgroupParent is the Nomad client's cgroup_parent; empty means
	// DefaultCgroupParent. Clients sharing a host need one each.
	CgroupParent string
}

// DefaultCgroupParent is Nomad's own default cgroup_parent.
const DefaultCgroupParent = "nomad.slice"

// Vars returns the template variables of the node, by name: every name in
// vagrant/config/VARIABLES.
func (n NodeConfig) Vars() map[string]string {
	join := make([]string, len(n.ClusterIPs))
	for i, ip := range n.ClusterIPs {
		join[i] = strconv.Quote(ip)
	}
	kill := n.MaxKillTimeout
	if kill == "" {
		kill = DefaultMaxKillTimeout
	}
	cgroup := n.CgroupParent
	if cgroup == "" {
		cgroup = DefaultCgroupParent
	}
	return map[string]string{
		"NODE_NAME":           n.Name,
		"NODE_IP":             n.IP,
		"NODE_POOL":           n.Pool,
		"NETWORK_INTERFACE":   n.Interface,
		"SERVER_COUNT":        strconv.Itoa(len(n.ClusterIPs)),
		"RETRY_JOIN":          strings.Join(join, ", "),
		"CONSUL_DATA_DIR":     n.ConsulDataDir,
		"NOMAD_DATA_DIR":      n.NomadDataDir,
		"MAX_KILL_TIMEOUT":    kill,
		"NOMAD_CGROUP_PARENT": cgroup,
	}
}

// TemplateVariables returns the names listed in vagrant/config/VARIABLES,
// the only ones a template may use.
func TemplateVariables() ([]string, error) {
	b, err := fs.ReadFile(vagrant.Templates, "config/VARIABLES")
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	return strings.Fields(string(b)), nil
}

// placeholder matches what envsubst would replace, and any other '$'.
var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$`)

// valueSafe is what a variable's value may hold: nothing that could end the
// quoted HCL string it lands in or start an interpolation.
var valueSafe = regexp.MustCompile(`^[A-Za-z0-9 ._,:/"-]*$`)

// RenderAgentConfig renders vagrant/config/<name>.tmpl with vars, by the rule
// envsubst follows when given the list in vagrant/config/VARIABLES: each
// ${NAME} of the list becomes its value. Anything else envsubst could read
// differently is an error naming the template and line: a '$' that is not
// such a placeholder, a name outside the list, a variable without a value,
// or a value with characters that do not belong in an HCL string.
func RenderAgentConfig(name string, vars map[string]string) ([]byte, error) {
	path := "config/" + name + ".tmpl"
	src, err := fs.ReadFile(vagrant.Templates, path)
	if err != nil {
		return nil, fmt.Errorf("topology: no agent configuration template %q (have %s)", name, strings.Join(AgentConfigs, ", "))
	}
	names, err := TemplateVariables()
	if err != nil {
		return nil, err
	}
	return substitute("vagrant/"+path, string(src), names, vars)
}

// substitute is RenderAgentConfig's rule, for the template src read from
// file, which may use the variables in allowed.
func substitute(file, src string, allowed []string, vars map[string]string) ([]byte, error) {
	ok := map[string]bool{}
	for _, n := range allowed {
		ok[n] = true
	}
	var out bytes.Buffer
	var problems []string
	for i, line := range strings.SplitAfter(src, "\n") {
		where := fmt.Sprintf("%s:%d", file, i+1)
		out.WriteString(placeholder.ReplaceAllStringFunc(line, func(m string) string {
			if m == "$" {
				problems = append(problems, where+": a '$' that is not a ${NAME} placeholder")
				return m
			}
			v := m[2 : len(m)-1]
			val, set := vars[v]
			switch {
			case !ok[v]:
				problems = append(problems, fmt.Sprintf("%s: ${%s} is not in vagrant/config/VARIABLES", where, v))
			case !set || val == "":
				problems = append(problems, fmt.Sprintf("%s: ${%s} has no value", where, v))
			case !valueSafe.MatchString(val):
				problems = append(problems, fmt.Sprintf("%s: ${%s} = %q: only letters, digits, space and . _ , : / \" - belong in an agent configuration value", where, v, val))
			}
			return val
		}))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("topology: rendering %s:\n  %s", file, strings.Join(problems, "\n  "))
	}
	return out.Bytes(), nil
}
