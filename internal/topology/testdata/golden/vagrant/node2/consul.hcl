# Consul agent of one strata local-cluster node: a server (the nodes form a
# cluster of three) and the node's own agent, which Nomad registers the node's
# services with and HAProxy's templates read.
#
# One source for both local clusters: vagrant/provision/node.sh renders it
# with envsubst, internal/topology (the one-host cluster) with the same rule.
# Only the variables listed in vagrant/config/VARIABLES are replaced.
node_name        = "node2"
datacenter       = "dc1"
data_dir         = "/opt/consul"
bind_addr        = "192.168.56.12"
advertise_addr   = "192.168.56.12"
client_addr      = "127.0.0.1 192.168.56.12"
server           = true
bootstrap_expect = 3
retry_join       = ["192.168.56.11", "192.168.56.12", "192.168.56.13"]
retry_interval   = "1s"
leave_on_terminate = false
log_level        = "INFO"

# Production timing (the default of 5 is for tiny machines): elections settle
# in seconds when a server goes away.
performance {
  raft_multiplier = 1
}

# A server that dies stays in the cluster, failed, instead of being removed
# (and its node's services with it) within seconds: strata's sweeper finds
# every HAProxy through the catalog, and an HAProxy that vanished from it
# would be one whose sessions nobody counts. A failed node whose lbstats does
# not answer stops all retirements, the safe side; remove a node for good
# with 'consul force-leave <node>'.
autopilot {
  cleanup_dead_servers = false
}

ui_config {
  enabled = true
}
