# Shared helpers for the scripts in this folder; source it, do not run it.
# shellcheck shell=bash

export REPO_ROOT
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

say() { printf '==> %s\n' "$*"; }

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to $2 seconds (default 30) for 127.0.0.1:$1 to accept connections.
wait_for_port() {
  local port="$1" limit="${2:-30}" waited=0
  until port_in_use "$port"; do
    sleep 0.2
    waited=$((waited + 1))
    if ((waited > limit * 5)); then
      return 1
    fi
  done
}

# Prints a port that nothing listens on right now, below Linux's ephemeral
# range (32768-60999): a port there can be held by an outgoing connection
# (a load test makes thousands), which no listen check sees.
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 12000))
    if ! port_in_use "$port"; then
      echo "$port"
      return
    fi
  done
}

# Where ./scripts/up keeps logs, certificates, generated configs and pids.
RUN_DIR="$REPO_ROOT/run"
PID_FILE="$RUN_DIR/pids"

# Stops every process listed in the pid file, newest first: SIGTERM, then
# SIGKILL for whatever is still there after 10 seconds.
stop_stack() {
  [[ -f "$PID_FILE" ]] || return 0
  local pids=() pid waited=0
  mapfile -t pids < <(tac "$PID_FILE")
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
      sleep 0.2
      waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f "$PID_FILE"
}
