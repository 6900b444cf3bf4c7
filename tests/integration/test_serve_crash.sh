#!/usr/bin/env bash
# Crash: kill -9 `seqroute serve` in the middle of a stream of settles and
# restart it on the same ledger.  Every settle the client saw acknowledged
# must then be present and none counted twice (a retry is a replay, and the
# spent total is the exact sum of distinct settles).  A settle in flight at
# the kill must be either absent or present once.
# Runs on a SQLite ledger file, then on a Redis ledger ($SEQROUTE_REDIS_URL,
# or a private redis-server on loopback; skipped with a message when
# neither) with a key prefix of its own.  On Redis only the service is
# killed: the Redis server stays up, and the restart uses the same URL and
# prefix.
set -euo pipefail
: "${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

PYTHONPATH=$here python3 - "$work" <<'PY'
import os, signal, sys, threading, time
import serve_harness as h

work = sys.argv[1]
policy = h.train_policy(work)

# Reservations to settle, and how many acknowledged settles to wait for before
# the kill: the kill then lands in the middle of the stream.
RESERVATIONS = 300
KILL_AFTER = 100

def run(ledger, label):
    """The whole check on `ledger`; `label` names the backend in messages and log files."""
    server = h.Server(work, policy, ledger, name=label + "-before")
    status, _ = server.request("POST", "/v1/sessions", {"id": "c", "budget": 1000})
    h.check(status == 201, "%s: session not created" % label)
    ids = []
    for i in range(RESERVATIONS):
        status, body = server.request("POST", "/v1/route", {"session_id": "c", "text": "turn %d" % i, "request_id": "c-%d" % i})
        h.check(status == 200, "%s: route %d failed: %s" % (label, i, body))
        ids.append(body["reservation_id"])
    # Distinct costs in whole micro-units, so a double count shows in the total.
    cost = {rid: (1000 + i) / 1e6 for i, rid in enumerate(ids)}

    acked = []
    attempted = []
    def stream():
        for rid in ids:
            attempted.append(rid)
            try:
                status, body = server.request("POST", "/v1/settle", {"reservation_id": rid, "cost": cost[rid]}, timeout=10)
            except OSError:
                return
            if status != 200 or body.get("state") != "settled":
                return
            acked.append(rid)
    client = threading.Thread(target=stream)
    client.start()
    deadline = time.time() + 120
    while len(acked) < KILL_AFTER and client.is_alive() and time.time() < deadline:
        time.sleep(0.001)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    client.join(timeout=60)
    h.check(len(acked) >= KILL_AFTER, "%s: only %d settles acknowledged before the kill" % (label, len(acked)))
    h.check(len(acked) < RESERVATIONS, "%s: the stream finished before the kill; nothing was interrupted" % label)
    in_flight = [rid for rid in attempted if rid not in set(acked)]
    print("%s: killed after %d acknowledged settles (%d in flight)" % (label, len(acked), len(in_flight)))

    server = h.Server(work, policy, ledger, name=label + "-after")
    try:
        status, s = server.request("GET", "/v1/sessions/c")
        acked_micros = sum(round(cost[r] * 1e6) for r in acked)
        flight_micros = sum(round(cost[r] * 1e6) for r in in_flight)
        h.check(acked_micros <= s["spent_micro"] <= acked_micros + flight_micros,
                "%s: after restart spent %d, acknowledged %d (+%d in flight)" % (label, s["spent_micro"], acked_micros, flight_micros))
        for rid in acked:
            status, body = server.request("POST", "/v1/settle", {"reservation_id": rid, "cost": cost[rid]})
            h.check(status == 200 and body["replayed"] and body["state"] == "settled",
                    "%s: acknowledged settle %s is not present: %s %s" % (label, rid, status, body))
        status, body = server.request("POST", "/v1/settle", {"reservation_id": acked[0], "cost": 0.5})
        h.check(status == 409 and body["error"]["code"] == "conflict", "%s: a different cost was not a conflict: %s" % (label, body))
        for rid in ids[len(acked):]:
            status, body = server.request("POST", "/v1/settle", {"reservation_id": rid, "cost": cost[rid]})
            h.check(status == 200 and body["state"] == "settled", "%s: settle %s after restart: %s" % (label, rid, body))
        status, s = server.request("GET", "/v1/sessions/c")
        total = sum(round(c * 1e6) for c in cost.values())
        h.check(s["spent_micro"] == total, "%s: spent %d, expected each settle once: %d" % (label, s["spent_micro"], total))
        h.check(s["reserved_micro"] == 0 and s["open_reservations"] == 0, "%s: reservations left open: %s" % (label, s))
        print("ok: %s: every acknowledged settle present once; total spent %d micro-units = the sum of %d settles" % (label, total, len(ids)))
    finally:
        h.check(server.stop() == 0, "%s: serve did not stop cleanly" % label)

run("sqlite:" + work + "/ledger.db", "sqlite")

redis = h.Redis(work)
if not redis.url:
    print("SKIP: Redis part: no $SEQROUTE_REDIS_URL and no redis-server to start")
    sys.exit(0)
try:
    # One prefix for both the killed server and its restart, unique to this run.
    run(redis.ledger("seqroute-crash-%d" % os.getpid()), "redis")
finally:
    redis.close()
PY
