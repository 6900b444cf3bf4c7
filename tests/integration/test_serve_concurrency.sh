#!/usr/bin/env bash
# Concurrency: many parallel route requests on one session whose budget
# covers only a few calls.  The sum of admitted reservations must never
# exceed the budget, the refusals must be 402 no_affordable_model, and the
# ledger's totals must equal the admitted sum.  Runs with one server on
# SQLite, then with two servers sharing Redis ($SEQROUTE_REDIS_URL, or a
# private redis-server on loopback; skipped with a message when neither).
set -euo pipefail
: "${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

PYTHONPATH=$here python3 - "$work" <<'PY'
import concurrent.futures, json, os, sys
import serve_harness as h

work = sys.argv[1]
policy = h.train_policy(work)

# Requests per run and client threads: enough to overlap many decide-and-reserve
# rounds on two server threads each, small enough to finish in seconds.
REQUESTS = 200
CLIENTS = 32

def hammer(servers, session):
    """Sends REQUESTS routes spread over `servers`; returns the statuses and bodies."""
    def one(i):
        server = servers[i % len(servers)]
        return server.request("POST", "/v1/route", {"session_id": session, "text": "Prove the theorem %d" % i})
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(REQUESTS)))

def run(servers, label):
    # The cheapest reservation (3 x weak's mean cost) is about 4,700 micro-units; the
    # budget covers a handful of them, so most requests must be refused.
    budget = 0.02
    status, s = servers[0].request("POST", "/v1/sessions", {"id": "hot", "budget": budget})
    h.check(status == 201, "%s: session not created: %s" % (label, s))
    results = hammer(servers, "hot")
    admitted = [b for st, b in results if st == 200]
    refused = [b for st, b in results if st != 200]
    for body in refused:
        h.check(body["error"]["code"] == "no_affordable_model", "%s: unexpected refusal %s" % (label, body))
    total = sum(b["reserved_micro"] for b in admitted)
    ids = [b["reservation_id"] for b in admitted]
    h.check(len(set(ids)) == len(ids), "%s: a reservation id was handed out twice" % label)
    h.check(len(admitted) >= 1, "%s: nothing was admitted" % label)
    h.check(total <= 20000, "%s: admitted %d micro-units over a budget of 20000" % (label, total))
    status, s = servers[-1].request("GET", "/v1/sessions/hot")
    h.check(s["reserved_micro"] == total and s["open_reservations"] == len(admitted),
            "%s: ledger says %s, the clients saw %d in %d" % (label, s, total, len(admitted)))
    # Nothing more fits than the ledger's own remaining budget allows.
    cheapest = min(b["reserved_micro"] for b in admitted)
    h.check(s["remaining_micro"] < cheapest or len(refused) == 0,
            "%s: %d remain but requests were refused" % (label, s["remaining_micro"]))
    print("ok: %s: %d of %d admitted, %d of 20000 micro-units reserved, %d refused" %
          (label, len(admitted), REQUESTS, total, len(refused)))

server = h.Server(work, policy, "sqlite:" + work + "/ledger.db")
try:
    run([server], "sqlite, one process")
finally:
    h.check(server.stop() == 0, "serve did not stop cleanly")

redis = h.Redis(work)
if not redis.url:
    print("SKIP: Redis part: no $SEQROUTE_REDIS_URL and no redis-server to start")
    sys.exit(0)
try:
    prefix = "seqroute-test-%d" % os.getpid()
    a = h.Server(work, policy, redis.ledger(prefix), name="serve-a")
    b = h.Server(work, policy, redis.ledger(prefix), name="serve-b")
    try:
        run([a, b], "redis, two processes")
    finally:
        h.check(a.stop() == 0 and b.stop() == 0, "serve did not stop cleanly")
finally:
    redis.close()
PY
