// Package routing renders HAProxy's configuration for strata's web apps from
// the consul-template sources in package templates.
//
// The same text runs in two places: Nomad's template block in the HAProxy
// system job (production), and the consul-template library here (previews
// with `strata haproxy render`, and tests against a real Consul and a real
// HAProxy). Data binds the static settings from strata.yaml; the templates
// read everything else from Consul.
package routing
