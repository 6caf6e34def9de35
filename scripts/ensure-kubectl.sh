#!/usr/bin/env bash
# Makes sure kubectl is on PATH: the tests check the kubeconfig ekstack writes
# by having kubectl itself read it, and they fail (not skip) without it.
# A no-op when kubectl is already there; otherwise installs Debian's
# kubernetes-client package, which provides /usr/bin/kubectl.
set -euo pipefail

if command -v kubectl >/dev/null 2>&1; then
  exit 0
fi

. "$(dirname "$0")/apt-install.sh"
apt_install ensure-kubectl kubernetes-client

command -v kubectl >/dev/null 2>&1 || apt_fail "kubernetes-client is installed but kubectl is still not on PATH"
echo "ensure-kubectl: $(kubectl version --client 2>/dev/null | head -n 1)" >&2
