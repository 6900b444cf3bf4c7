#!/usr/bin/env bash
# Reliability checks of the budget ledger, for SQLite and for Redis.
#
# Concurrency: 16 threads (one handle each, then one shared handle) and
# then two processes reserve in parallel on one session whose budget covers
# exactly 3 calls (budget 1000000, cost 300000 micro-units).  Exactly
# floor(1000000 / 300000) = 3 reservations must be admitted, and the
# session must hold 900000 reserved.
#
# Crash: a child process reserves and settles r0, r1, ... and logs each id
# (with fsync) after the settle returns.  It is killed with SIGKILL
# mid-stream; a new process reopens the ledger and checks that every
# logged settle is stored once, that re-settling it changes nothing, and
# that spent equals 7 micro-units per stored settle.  For Redis the server
# survives and only the client dies, which is the case two router
# processes sharing a server face.
#
# Redis: uses $SEQROUTE_REDIS_URL when set; otherwise starts redis-server
# on a free loopback port with appendonly yes and appendfsync always.
# When neither is possible the Redis half is skipped and the test exits 77.
set -euo pipefail

stress=${SEQROUTE_LEDGER_STRESS:-}
if [ -z "$stress" ] || [ ! -x "$stress" ]; then
  echo "SKIP: SEQROUTE_LEDGER_STRESS does not name the built ledger_stress program" >&2
  exit 77
fi

work=$(mktemp -d)
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
skipped=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

budget=1000000
cost=300000
expected=3
threads=16
attempts=20

# Threads in one process.  MODE is "own" (a handle per thread) or "shared".
check_threads() {
  local url=$1 session=$2 mode=$3 out admitted
  if ! out=$(timeout 120 "$stress" reserve "$url" "$session" $budget $cost $threads $attempts \
    "$mode"); then
    fail "$url: reserve with $threads threads ($mode handles) failed"
    return
  fi
  admitted=${out#admitted }
  if [ "$admitted" -ne "$expected" ]; then
    fail "$url: $threads threads ($mode handles) admitted $admitted, expected $expected"
  fi
  timeout 60 "$stress" check "$url" "$session" $budget $cost $expected ||
    fail "$url: session $session totals after $threads threads ($mode handles)"
}

# Two processes with 8 threads each on one session.
check_two_processes() {
  local url=$1 session=$2 first second a b
  timeout 120 "$stress" reserve "$url" "$session" $budget $cost 8 $attempts >"$work/a.out" &
  first=$!
  timeout 120 "$stress" reserve "$url" "$session" $budget $cost 8 $attempts >"$work/b.out" &
  second=$!
  wait "$first" || fail "$url: first process failed"
  wait "$second" || fail "$url: second process failed"
  a=$(sed 's/admitted //' "$work/a.out")
  b=$(sed 's/admitted //' "$work/b.out")
  if [ "$((a + b))" -ne "$expected" ]; then
    fail "$url: two processes admitted $a + $b, expected $expected in total"
  fi
  timeout 60 "$stress" check "$url" "$session" $budget $cost $expected ||
    fail "$url: session $session totals after two processes"
}

# Kill -9 a settle stream once it has acknowledged at least 40 settles.
check_crash() {
  local url=$1 session=$2 log="$work/acks-$2.log" pid lines=0
  : >"$log"
  "$stress" settle-stream "$url" "$session" "$log" 2>"$work/stream.err" &
  pid=$!
  for _ in $(seq 1 300); do
    lines=$(wc -l <"$log")
    [ "$lines" -ge 40 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$lines" -lt 40 ]; then
    fail "$url: the settle stream acknowledged only $lines settles"
    cat "$work/stream.err" >&2
    return
  fi
  timeout 120 "$stress" verify "$url" "$session" "$log" ||
    fail "$url: acknowledged settles after kill -9"
}

run_all() {
  local url=$1 tag=$2
  echo "== $tag"
  check_threads "$url" "threads-own" own
  check_threads "$url" "threads-shared" shared
  check_two_processes "$url" "two-processes"
  check_crash "$url" "crash"
}

# ---- SQLite -----------------------------------------------------------------
run_all "sqlite:$work/ledger.db" sqlite

# ---- Redis ------------------------------------------------------------------
redis_url=${SEQROUTE_REDIS_URL:-}
if [ -z "$redis_url" ] && command -v redis-server >/dev/null 2>&1; then
  port=$("$stress" free-port)
  mkdir -p "$work/redis"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis" --save "" \
    --appendonly yes --appendfsync always --logfile redis.log &
  redis_pid=$!
  for _ in $(seq 1 100); do
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
      redis_url="redis://127.0.0.1:$port"
      break
    fi
    sleep 0.05
  done
  [ -n "$redis_url" ] || fail "redis-server did not start on 127.0.0.1:$port"
fi
if [ -n "$redis_url" ]; then
  base=${redis_url%%\?*}
  run_all "$base?prefix=stress:$$:$RANDOM:" redis
else
  echo "SKIP: Redis half: redis-server is not installed and SEQROUTE_REDIS_URL is not set" >&2
  skipped=1
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
[ "$skipped" -eq 0 ] || exit 77
echo "all ledger reliability checks passed"
