#!/usr/bin/env bash
# Makes sure kubectl is on PATH: the tests check the kubeconfig ekstack writes
# by having kubectl itself read it, and they fail (not skip) without it.
# A no-op when kubectl is already there; otherwise installs Debian's
# kubernetes-client package, which provides /usr/bin/kubectl.
set -euo pipefail

if command -v kubectl >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "ensure-kubectl: $*" >&2
  echo "ensure-kubectl: install kubectl yourself (any version from 1.20 on) and re-run" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "kubectl is not on PATH and this system has no apt-get"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "kubectl is not on PATH, and installing kubernetes-client needs root (or password-less sudo)"
  fi
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends kubernetes-client
}

echo "ensure-kubectl: kubectl is not on PATH; installing the kubernetes-client package" >&2
# Without package lists (a fresh container) or with stale ones, update first.
if ! apt-cache policy kubernetes-client 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  "${SUDO[@]}" apt-get update -q || fail "apt-get update failed"
fi
if ! apt_install; then
  "${SUDO[@]}" apt-get update -q || fail "apt-get update failed"
  apt_install || fail "apt-get install kubernetes-client failed"
fi

command -v kubectl >/dev/null 2>&1 || fail "kubernetes-client is installed but kubectl is still not on PATH"
echo "ensure-kubectl: $(kubectl version --client 2>/dev/null | head -n 1)" >&2
