package generator

import (
	"github.com/strata-dev/strata/internal/config"
)

// Roles strata writes ACL policies for.
const (
	// RoleDeployer runs render, deploy, promote, rollback and cohort.
	RoleDeployer = "deployer"
	// RoleSweeper is the sweeper's periodic job.
	RoleSweeper = "sweeper"
	// RoleHAProxy is the token Nomad renders the HAProxy job's templates
	// with.
	RoleHAProxy = "haproxy"
	// RoleRollout is the rollout controller's job (strata-rollout).
	RoleRollout = "rollout"
	// RoleOperator reads: strata status, and strata plan's Consul side.
	// Nomad's plan endpoint needs submit-job, so planning against Nomad
	// takes the deployer's policy.
	RoleOperator = "operator"
)

// Policies writes the least-privilege ACL policies of every role, as files
// for the policies directory: consul-<role>.hcl and nomad-<role>.hcl.
//
// Consul's rules are written per app, because key rules cannot wildcard a
// path segment: the sweeper may write strata/<app>/draining/ and nothing
// else, the deployer strata/<app>/live, history and cohorts/ and not the
// draining keys, and HAProxy only reads. Nomad's capabilities are per
// namespace: listing, reading and submitting jobs (deregistering is
// submit-job, and so is Nomad's plan endpoint), in the configured namespace
// only; the operator may list and read jobs there and nothing else; HAProxy
// needs no Nomad token, nor does the rollout controller, whose Consul policy
// (consul-rollout) exists only when an app has a rollout section: it may
// write strata/<app>/rollout, live and history of those apps.
func Policies(cfg *config.Config) ([]File, error) {
	ns := cfg.Namespace
	if ns == "" {
		ns = "default"
	}
	var files []File
	add := func(name string, b *body) {
		var w hclWriter
		w.buf.WriteString(Header + "\n\n")
		w.body(b, 0)
		files = append(files, File{Path: name + ".hcl", JobID: name, Data: w.buf.Bytes()})
	}
	rule := func(b *body, typ, label, policy string) {
		b.blank()
		b.block(typ, label).attr("policy", policy)
	}

	// Consul: the deployer.
	dep := &body{}
	rule(dep, "node_prefix", "", "read")
	for _, a := range cfg.Apps {
		kv := "strata/" + a.Name + "/"
		rule(dep, "service", a.Name, "read")
		rule(dep, "key_prefix", kv, "read")
		if a.Kind == config.KindWeb {
			rule(dep, "key", kv+"live", "write")
			rule(dep, "key", kv+"history", "write")
			rule(dep, "key_prefix", kv+"cohorts/", "write")
			if a.Rollout != nil {
				rule(dep, "key", kv+"rollout", "write")
			}
		}
	}
	add("consul-"+RoleDeployer, dep)

	// Consul: the rollout controller, when an app has a rollout: it reads
	// the HAProxies' lbstats and the apps' instances, and writes each
	// rollout and, when one succeeds, live and history.
	if hasRollout(cfg) {
		ro := &body{}
		rule(ro, "node_prefix", "", "read")
		rule(ro, "service", HAProxyService, "read")
		rule(ro, "service", LBStatsService, "read")
		rule(ro, "key_prefix", "strata/", "read")
		for _, a := range cfg.Apps {
			if a.Rollout == nil {
				continue
			}
			kv := "strata/" + a.Name + "/"
			rule(ro, "service", a.Name, "read")
			rule(ro, "key", kv+"rollout", "write")
			rule(ro, "key", kv+"live", "write")
			rule(ro, "key", kv+"history", "write")
		}
		add("consul-"+RoleRollout, ro)
	}

	// Consul: the sweeper.
	sw := &body{}
	rule(sw, "node_prefix", "", "read")
	rule(sw, "service", HAProxyService, "read")
	rule(sw, "service", LBStatsService, "read")
	rule(sw, "key_prefix", "strata/", "read")
	for _, a := range cfg.Apps {
		rule(sw, "key_prefix", "strata/"+a.Name+"/draining/", "write")
	}
	add("consul-"+RoleSweeper, sw)

	// Consul: HAProxy's templates.
	hp := &body{}
	rule(hp, "node_prefix", "", "read")
	for _, a := range cfg.Apps {
		if a.Routing == nil {
			continue
		}
		rule(hp, "service", a.Name, "read")
		rule(hp, "key_prefix", "strata/"+a.Name+"/", "read")
	}
	add("consul-"+RoleHAProxy, hp)

	// Consul: the operator reads what status shows.
	op := &body{}
	rule(op, "node_prefix", "", "read")
	rule(op, "service", HAProxyService, "read")
	rule(op, "service", LBStatsService, "read")
	for _, a := range cfg.Apps {
		rule(op, "service", a.Name, "read")
	}
	rule(op, "key_prefix", "strata/", "read")
	add("consul-"+RoleOperator, op)

	// Nomad: the deployer and the sweeper submit (and deregister) jobs in
	// the namespace; the operator only reads there.
	for _, role := range []string{RoleDeployer, RoleSweeper, RoleOperator} {
		caps := []string{"list-jobs", "read-job", "submit-job"}
		if role == RoleOperator {
			caps = []string{"list-jobs", "read-job"}
		}
		b := &body{}
		b.block("namespace", ns).attr("capabilities", caps)
		add("nomad-"+role, b)
	}
	return files, nil
}

// hasRollout reports whether an app of cfg has a rollout section.
func hasRollout(cfg *config.Config) bool {
	for _, a := range cfg.Apps {
		if a.Rollout != nil {
			return true
		}
	}
	return false
}
