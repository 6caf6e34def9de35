#!/usr/bin/env bash
# The main job on the emulator: validate and render the learning stack.
# (Grows with plan/apply/destroy.)
set -euo pipefail
cd "$(dirname "$0")/.."
EK=./target/debug/ekstack
STACK=stacks/learning.toml

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "validate $STACK in every environment"
for env in mvp prod; do $EK validate $STACK --env $env; done
step "render $STACK --env mvp"
$EK render $STACK --env mvp
