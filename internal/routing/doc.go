// Package routing renders HAProxy's configuration for strata's web apps from
// the consul-template sources in package templates.
//
// The same text runs in two places: Nomad's template block in the HAProxy
// system job (production), and the consul-template library here (previews
// with `strata haproxy render`, and tests against a real Consul and a real
// HAProxy). Data binds the static settings from strata.yaml; the templates
// read everything else from Consul.
//
// There are two templates. haproxy.cfg is structural: it depends on Data
// alone (binds, hosts, cookie names, version slots and their pre-allocated
// servers) and makes every routing decision by looking up map files.
// routing.intent is the desired state read from Consul (running versions
// and their instances, live, cohorts, draining versions, a rollout), with
// every value checked against package grammar. Package routing/apply turns
// the intent into the map files and server states and applies them to a
// running HAProxy through its runtime API, so that normal operation never
// reloads it.
package routing
