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

. "$(dirname "$0")/apt-install.sh"
apt_install ensure-chromium chromium-headless-shell fonts-noto-cjk

found || apt_fail "chromium-headless-shell is installed but not on PATH"
echo "ensure-chromium: $(chromium-headless-shell --version 2>/dev/null || true)" >&2
