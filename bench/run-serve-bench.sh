#!/usr/bin/env bash
# HTTP route+settle throughput and latency of `seqroute serve` on loopback,
# with each ledger backend, measured with wrk (bench/serve_route_settle.lua).
# Also runs the in-process decision benchmark (bench_decide) first.
#
# Usage: bench/run-serve-bench.sh BUILD_DIR [SECONDS] [CONNECTIONS]
#   BUILD_DIR    a build with seqroute and bench_decide (Release-like)
#   SECONDS      wrk duration per backend (default 15)
#   CONNECTIONS  open connections (default 32)
# The server runs 2 threads and wrk 2 threads; on a 2-core machine they
# share both cores, so the figures are for server and load generator
# together.  A private redis-server is started on a free loopback port.
set -euo pipefail
build=${1:?usage: run-serve-bench.sh BUILD_DIR [SECONDS] [CONNECTIONS]}
seconds=${2:-15}
connections=${3:-32}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$build" && pwd)/seqroute
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== in-process decisions (bench_decide) =="
"$build/bench_decide" --decisions 100000 --write-policy "$work/paper.policy"
"$build/bench_decide" --decisions 30000 --text

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

serve_bench() {
  local label=$1 ledger=$2
  "$bin" serve --policy "$work/paper.policy" --listen 127.0.0.1:0 --ledger "$ledger" \
    --threads 2 --max-body 65536 2> "$work/$label.log" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 200); do grep -q serve_start "$work/$label.log" && break; sleep 0.05; done
  local port
  port=$(sed -n 's/.*serve_start listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/$label.log")
  local prefix="bench-$label-$$"
  for n in 1 2; do
    curl -sf -X POST "http://127.0.0.1:$port/v1/sessions" \
      -d "{\"id\": \"$prefix-$n\", \"budget\": 1000000}" > /dev/null
  done
  echo "== HTTP route+settle, $label ledger: wrk -t2 -c$connections -d${seconds}s =="
  (cd "$work" && SESSION_PREFIX=$prefix wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$here/serve_route_settle.lua" \
    "http://127.0.0.1:$port") | grep -E "requests=|Latency|Requests/sec|Non-2xx" || true
  kill -TERM "$pid"
  wait "$pid" || true
}

serve_bench sqlite "sqlite:$work/bench-ledger.db"

if command -v redis-server >/dev/null; then
  rport=$(free_port)
  mkdir "$work/redis"
  redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$work/redis" \
    > /dev/null &
  pids+=("$!")
  for _ in $(seq 100); do redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
  serve_bench redis "redis://127.0.0.1:$rport"
else
  echo "== redis: skipped, redis-server is not installed =="
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
