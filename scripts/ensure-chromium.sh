#!/usr/bin/env bash
# Makes sure a headless Chromium is on PATH: the diagram tests render the SVG
# `ekstack diagram` draws in it, and fail (not skip) without it.
# A no-op when one is already there; otherwise installs Debian's
# chromium-headless-shell package (/usr/bin/chromium-headless-shell).
# Japanese labels need a CJK font, so fonts-noto-cjk comes with it.
set -euo pipefail

found() {
  for b in chromium-headless-shell chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null 2>&1 && return 0
  done
  return 1
}
if found; then
  exit 0
fi

fail() {
  echo "ensure-chromium: $*" >&2
  echo "ensure-chromium: install Chromium (chromium-headless-shell or chromium) yourself and re-run" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "no Chromium on PATH and this system has no apt-get"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "no Chromium on PATH, and installing chromium-headless-shell needs root (or password-less sudo)"
  fi
fi

export DEBIAN_FRONTEND=noninteractive
PACKAGES=(chromium-headless-shell fonts-noto-cjk)
apt_install() {
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
}

echo "ensure-chromium: no Chromium on PATH; installing ${PACKAGES[*]}" >&2
if ! apt-cache policy chromium-headless-shell 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  "${SUDO[@]}" apt-get update -q || fail "apt-get update failed"
fi
if ! apt_install; then
  "${SUDO[@]}" apt-get update -q || fail "apt-get update failed"
  apt_install || fail "apt-get install ${PACKAGES[*]} failed"
fi

found || fail "chromium-headless-shell is installed but not on PATH"
echo "ensure-chromium: $(chromium-headless-shell --version 2>/dev/null || true)" >&2
