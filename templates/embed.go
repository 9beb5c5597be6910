// Package templates holds the consul-template sources strata renders into
// HAProxy's configuration, embedded in the binary. Nomad's template block
// renders them in production; the consul-template library renders the same
// text in previews and tests (package routing).
//
// Each source starts with no data of its own: strata prepends two lines. One
// binds $s to the static routing settings from strata.yaml (apps, binds,
// hosts, cookie names, slot counts); the other binds $g to the patterns of
// package internal/routing/grammar, which every value read from Consul is
// checked against, the same patterns strata's CLI applies. haproxy.cfg.ctmpl
// reads $s only; routing.intent.ctmpl reads what changes at run time from
// Consul: passing instances from the catalog, and the live version, cohorts,
// draining versions and rollouts from KV under strata/<app>/.
package templates

import "embed"

// FS holds haproxy.cfg.ctmpl and routing.intent.ctmpl.
//
//go:embed *.ctmpl
var FS embed.FS

// Names of the sources in FS.
const (
	// Config renders HAProxy's structural configuration: it depends on
	// strata.yaml alone.
	Config = "haproxy.cfg.ctmpl"
	// Intent renders the desired routing state from Consul, which
	// `strata haproxy apply` applies at run time.
	Intent = "routing.intent.ctmpl"
)
