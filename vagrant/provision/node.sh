#!/usr/bin/env bash
# node.sh: provisions one node of strata's Vagrant cluster (run as root by
# Vagrant; the Vagrantfile passes the environment below).
#
#   NODE_NAME NODE_IP NODE_POOL CLUSTER_IPS   the node and the cluster
#   CONSUL_VERSION   Consul from HashiCorp's Debian repository (default 1.16.1)
#   NOMAD_VERSION    Nomad from HashiCorp's Debian repository (default 2.0.6)
#   STRATA_SRC       where the repository is synced in (default /strata)
#
# It installs Consul and Nomad at the pinned versions, HAProxy and Docker from
# Debian, the strata binary built on the host, writes the agent
# configurations from vagrant/config/*.tmpl (render.sh) and starts the agents
# with the systemd units the packages ship. Running it again converges:
# nothing is reinstalled, changed configurations restart their agent.
set -euo pipefail

CONSUL_VERSION="${CONSUL_VERSION:-1.16.1}"
NOMAD_VERSION="${NOMAD_VERSION:-2.0.6}"
STRATA_SRC="${STRATA_SRC:-/strata}"
: "${NODE_NAME:?}" "${NODE_IP:?}" "${NODE_POOL:?}" "${CLUSTER_IPS:?}"

say() { printf '%s: %s\n' "$NODE_NAME" "$*"; }
export DEBIAN_FRONTEND=noninteractive

# --- packages ---------------------------------------------------------------
say "installing HAProxy, Docker and the HashiCorp repository's prerequisites from Debian"
apt-get update -q
apt-get install -y -q --no-install-recommends \
	ca-certificates curl gnupg gettext-base haproxy docker.io

keyring=/usr/share/keyrings/hashicorp-archive-keyring.gpg
if [[ ! -s "$keyring" ]]; then
	curl -fsSL https://apt.releases.hashicorp.com/gpg | gpg --dearmor -o "$keyring.tmp"
	mv "$keyring.tmp" "$keyring"
fi
# shellcheck source=/dev/null
codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
echo "deb [signed-by=$keyring] https://apt.releases.hashicorp.com $codename main" \
	>/etc/apt/sources.list.d/hashicorp.list
apt-get update -q
say "installing consul $CONSUL_VERSION and nomad $NOMAD_VERSION from HashiCorp's repository"
apt-get install -y -q --no-install-recommends --allow-downgrades \
	"consul=${CONSUL_VERSION}-1" "nomad=${NOMAD_VERSION}-1"
apt-mark hold consul nomad >/dev/null

# HAProxy runs as the strata-haproxy Nomad job, one per node: the packaged
# service would hold its own configuration and ports.
systemctl disable --now haproxy.service >/dev/null 2>&1 || true

# --- strata -----------------------------------------------------------------
if [[ ! -x "$STRATA_SRC/vagrant/.build/strata" ]]; then
	say "error: $STRATA_SRC/vagrant/.build/strata is missing: run 'just up' (it builds strata first)" >&2
	exit 1
fi
install -m 0755 "$STRATA_SRC/vagrant/.build/strata" /usr/local/bin/strata

# --- agent configurations -----------------------------------------------------
iface="$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')"
if [[ -z "$iface" ]]; then
	say "error: no interface holds $NODE_IP" >&2
	exit 1
fi
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
NETWORK_INTERFACE="$iface" CONSUL_DATA_DIR=/opt/consul NOMAD_DATA_DIR=/opt/nomad/data \
	NODE_NAME="$NODE_NAME" NODE_IP="$NODE_IP" NODE_POOL="$NODE_POOL" CLUSTER_IPS="$CLUSTER_IPS" \
	"$STRATA_SRC/vagrant/provision/render.sh" "$STRATA_SRC/vagrant/config" "$rendered"

# install_config FILE DEST OWNER UNIT: installs a rendered configuration and
# (re)starts its agent when it changed.
install_config() {
	local file="$1" dest="$2" owner="$3" unit="$4"
	if ! cmp -s "$file" "$dest"; then
		install -m 0640 -o root -g "$owner" "$file" "$dest"
		say "wrote $dest"
		systemctl enable "$unit" >/dev/null 2>&1
		systemctl restart "$unit"
	else
		systemctl enable --now "$unit" >/dev/null 2>&1
	fi
}
install -d -o consul -g consul /opt/consul
install -d /opt/nomad/data
install_config "$rendered/consul.hcl" /etc/consul.d/consul.hcl consul consul.service
install_config "$rendered/nomad.hcl" /etc/nomad.d/nomad.hcl root nomad.service

say "consul $(consul version | head -n 1), nomad $(nomad version | head -n 1), node pool $NODE_POOL"
