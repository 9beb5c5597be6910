// Package topology runs strata's local cluster on one Linux host: the
// 3-node cluster of vagrant/, each node a network namespace with its own
// address on a bridge, a Consul server rendered from the same agent
// configuration templates as the Vagrant nodes (vagrant/config, see
// [RenderAgentConfig]), and whatever runs on it: an HAProxy kept up to date
// from the node's own agent, an lbstats sidecar, demo backends registered as
// Nomad registers them, or a Nomad agent.
//
// [Up] builds a cluster, recording every namespace and interface in a state
// file before creating it and every process as it starts; [Down] removes all of it from that file
// alone (from another process, or after a crash), and Up over a crashed
// cluster's directory removes that one first. `strata local up|down` and
// the tests (through topologytest) drive it.
//
// It needs root (network namespaces, veth pairs, a bridge) and the ip,
// consul and haproxy programs.
package topology
