// Package vagrant holds the agent configuration templates of strata's local
// clusters, embedded so that the strata binary and the tests render the same
// files the Vagrant provisioning renders. See internal/topology for the
// renderer and README.md ("Local cluster") for the clusters themselves.
package vagrant

import "embed"

// Templates holds config/*.tmpl, the Consul and Nomad agent configurations
// of a node, and config/VARIABLES, the names they may use.
//
//go:embed config/*.tmpl config/VARIABLES
var Templates embed.FS
