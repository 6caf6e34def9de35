#!/usr/bin/env bash
# Starts or stops the AWS-rules emulator (examples/aws_rules.rs, built by
# `make build`) in front of moto, for `make demo`. It listens on loopback
# only and keeps its pid and log in .moto/.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${RULES_PORT:-5056}"
UPSTREAM="http://127.0.0.1:${MOTO_PORT:-5055}"
BIN="target/debug/examples/aws_rules"
STATE=".moto"
mkdir -p "$STATE"

up() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start() {
  if up; then
    echo "aws-rules: already running on http://127.0.0.1:$PORT" >&2
    return 0
  fi
  [ -x "$BIN" ] || cargo build --example aws_rules
  nohup "$BIN" --port "$PORT" --upstream "$UPSTREAM" >"$STATE/rules.log" 2>&1 &
  echo $! >"$STATE/rules.pid"
  for _ in $(seq 1 50); do
    if up; then
      echo "aws-rules: running on http://127.0.0.1:$PORT in front of $UPSTREAM (log $STATE/rules.log)" >&2
      return 0
    fi
    sleep 0.1
  done
  echo "aws-rules: did not start; see $STATE/rules.log" >&2
  exit 1
}

stop() {
  if [ -f "$STATE/rules.pid" ]; then
    kill "$(cat "$STATE/rules.pid")" 2>/dev/null || true
    rm -f "$STATE/rules.pid"
    echo "aws-rules: stopped" >&2
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
