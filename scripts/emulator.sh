#!/usr/bin/env bash
# Starts or stops the moto AWS emulator used by `make demo` and `make test`.
# It runs from the repo's own venv (.venv, git-ignored), listens on loopback
# only, and keeps its pid and log in .moto/.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${MOTO_PORT:-5055}"
VENV=".venv"
STATE=".moto"
mkdir -p "$STATE"

ensure_venv() {
  if [ ! -x "$VENV/bin/moto_server" ]; then
    echo "emulator: installing moto[server]==5.2.5 into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'moto[server]==5.2.5'
  fi
  # Offline checks of the manifests `output --k8s` prints (tests/cli/identities.rs).
  if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
    echo "emulator: installing kubernetes-validate==1.37.0 into $VENV" >&2
    "$VENV/bin/pip" install --quiet 'kubernetes-validate==1.37.0'
  fi
}

up() {
  "$VENV/bin/python" - "$PORT" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
except Exception:
    sys.exit(1)
PY
}

start() {
  ensure_venv
  if up; then
    echo "emulator: already running on http://127.0.0.1:$PORT" >&2
    return 0
  fi
  # Attaching AWS managed policies (EKS roles) needs them loaded.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" \
    >"$STATE/moto.log" 2>&1 &
  echo $! >"$STATE/pid"
  for _ in $(seq 1 100); do
    if up; then
      echo "emulator: moto running on http://127.0.0.1:$PORT (pid $(cat "$STATE/pid"), log $STATE/moto.log)" >&2
      return 0
    fi
    sleep 0.2
  done
  echo "emulator: moto did not start; see $STATE/moto.log" >&2
  exit 1
}

stop() {
  if [ -f "$STATE/pid" ]; then
    kill "$(cat "$STATE/pid")" 2>/dev/null || true
    rm -f "$STATE/pid"
    echo "emulator: stopped" >&2
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  venv) ensure_venv ;;
  *) echo "usage: $0 start|stop|venv" >&2; exit 2 ;;
esac
