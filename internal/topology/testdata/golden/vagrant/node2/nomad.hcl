# Nomad agent of one strata local-cluster node: a server (the nodes form a
# cluster of three) and a client that runs strata's jobs.
#
# One source for both local clusters: vagrant/provision/node.sh renders it
# with envsubst, internal/topology (the one-host cluster) with the same rule.
# Only the variables listed in vagrant/config/VARIABLES are replaced.
name       = "node2"
datacenter = "dc1"
data_dir   = "/opt/nomad/data"
# Every address, so that tasks reach the agent on 127.0.0.1 (the sweeper job
# does) and the other nodes on the cluster network.
bind_addr  = "0.0.0.0"
log_level  = "INFO"

advertise {
  http = "192.168.56.12"
  rpc  = "192.168.56.12"
  serf = "192.168.56.12"
}

server {
  enabled          = true
  bootstrap_expect = 3

  server_join {
    retry_join     = ["192.168.56.11", "192.168.56.12", "192.168.56.13"]
    retry_interval = "1s"
  }
}

client {
  enabled = true

  # Workers (strata.yaml's node_pool: spot) place on the node in pool spot;
  # the pool is created when its first client registers.
  node_pool = "default"

  # Fingerprint the cluster network, so services register with the address
  # the other nodes reach.
  network_interface = "eth1"

  # The cgroup tasks run under: its own per client, so that clients sharing a
  # host (the one-host cluster) never manage each other's tasks.
  cgroup_parent = "nomad.slice"

  # A client cuts every task's kill_timeout to this (30s by default): strata's
  # sessions last an hour, and a version being stopped must be given the time
  # its kill_timeout asks for (strata validate warns above 30s).
  max_kill_timeout = "2h"

  template {
    # Retry Consul forever: after the default 12 failures the template runner
    # gives up and stops the task, and HAProxy with it. With 0, HAProxy keeps
    # its last good configuration through a Consul outage.
    consul_retry {
      attempts = 0
    }
  }
}

consul {
  address = "127.0.0.1:8500"
}

# The example jobs run the node's own haproxy and strata binaries.
plugin "raw_exec" {
  config {
    enabled = true
  }
}

plugin "docker" {
  config {
    allow_privileged = false
  }
}
