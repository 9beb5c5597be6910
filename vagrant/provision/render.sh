#!/usr/bin/env bash
# render.sh TEMPLATE_DIR OUT_DIR: writes OUT_DIR/<name> for every
# TEMPLATE_DIR/<name>.tmpl, the agent configurations of one node.
#
# The node is described by the environment:
#   NODE_NAME NODE_IP NODE_POOL NETWORK_INTERFACE   this node
#   CLUSTER_IPS        every server's address, space-separated
#   CONSUL_DATA_DIR NOMAD_DATA_DIR
#   MAX_KILL_TIMEOUT   Nomad's max_kill_timeout (default 2h)
#   NOMAD_CGROUP_PARENT  the Nomad client's cgroup_parent (default nomad.slice)
#
# It computes SERVER_COUNT and RETRY_JOIN from CLUSTER_IPS and replaces
# exactly the ${NAME} placeholders listed in TEMPLATE_DIR/VARIABLES, with
# envsubst. internal/topology renders the one-host cluster's configurations
# from the same templates by the same rule; its tests run this script and
# compare the bytes.
set -euo pipefail

if (($# != 2)); then
	echo "usage: render.sh TEMPLATE_DIR OUT_DIR" >&2
	exit 64
fi
templates="$1"
out="$2"

: "${NODE_NAME:?NODE_NAME is not set}"
: "${NODE_IP:?NODE_IP is not set}"
: "${NODE_POOL:?NODE_POOL is not set}"
: "${NETWORK_INTERFACE:?NETWORK_INTERFACE is not set}"
: "${CLUSTER_IPS:?CLUSTER_IPS is not set}"
: "${CONSUL_DATA_DIR:?CONSUL_DATA_DIR is not set}"
: "${NOMAD_DATA_DIR:?NOMAD_DATA_DIR is not set}"
MAX_KILL_TIMEOUT="${MAX_KILL_TIMEOUT:-2h}"
NOMAD_CGROUP_PARENT="${NOMAD_CGROUP_PARENT:-nomad.slice}"

read -r -a ips <<<"$CLUSTER_IPS"
SERVER_COUNT="${#ips[@]}"
# "10.0.0.1", "10.0.0.2", "10.0.0.3": an HCL list's elements.
RETRY_JOIN="$(printf '"%s", ' "${ips[@]}")"
RETRY_JOIN="${RETRY_JOIN%, }"
export NODE_NAME NODE_IP NODE_POOL NETWORK_INTERFACE CONSUL_DATA_DIR NOMAD_DATA_DIR \
	MAX_KILL_TIMEOUT NOMAD_CGROUP_PARENT SERVER_COUNT RETRY_JOIN

# envsubst replaces only the variables named in its argument: "${A} ${B} …".
shell_format=""
while read -r name; do
	[[ -n "$name" ]] && shell_format+="\${$name} "
done <"$templates/VARIABLES"

mkdir -p "$out"
for tmpl in "$templates"/*.tmpl; do
	name="$(basename "$tmpl" .tmpl)"
	envsubst "$shell_format" <"$tmpl" >"$out/.$name.tmp"
	mv "$out/.$name.tmp" "$out/$name"
done
