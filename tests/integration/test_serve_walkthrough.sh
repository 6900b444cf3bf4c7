#!/usr/bin/env bash
# The README's curl walkthrough against a real `seqroute serve` on loopback:
# create a session, route a turn, settle it by token usage, read the session
# back, with the numbers checked by hand from the policy's catalogue.  Also:
# a retried route with the same request id returns the same reservation, a
# release frees the budget, an over-reservation settle is recorded as
# overdraft, `seqroute route` answers the same decision without a ledger, a
# route without a turn takes the session's count of admitted routes as its
# turn (a request turn overrides it), and SIGTERM stops the server with exit 0
# and a serve_stop line.
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

PYTHONPATH=$here python3 -c "import serve_harness as h; h.train_policy('$work')"

# The default ledger: sqlite:seqroute-ledger.db in the working folder.
"$bin" serve --policy p.policy --listen 127.0.0.1:0 2> serve.log &
pid=$!
for _ in $(seq 200); do grep -q serve_start serve.log && break; sleep 0.05; done
port=$(sed -n 's/.*serve_start listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' serve.log)
[ -n "$port" ] || { echo "FAIL: serve did not start" >&2; cat serve.log >&2; exit 1; }
[ -f seqroute-ledger.db ] || { echo "FAIL: no default ledger file" >&2; exit 1; }
url=http://127.0.0.1:$port

post() { curl -s -w '\n%{http_code}\n' -X POST "$url$1" -H 'Content-Type: application/json' -d "$2"; }
post /v1/sessions '{"id": "demo", "budget": 0.10}' > create.out
post /v1/route '{"session_id": "demo", "text": "Prove that the integral converges.", "request_id": "turn-1"}' > route.out
post /v1/route '{"session_id": "demo", "text": "Prove that the integral converges.", "request_id": "turn-1"}' > retry.out
rid=$(python3 -c "import json; print(json.loads(open('route.out').read().split('\n')[0])['reservation_id'])")
post /v1/settle "{\"reservation_id\": \"$rid\", \"usage\": {\"input_tokens\": 300, \"cached_input_tokens\": 100, \"output_tokens\": 500}}" > settle.out
post /v1/settle "{\"reservation_id\": \"$rid\", \"usage\": {\"input_tokens\": 300, \"cached_input_tokens\": 100, \"output_tokens\": 500}}" > settle-again.out
curl -s -w '\n%{http_code}\n' "$url/v1/sessions/demo" > get.out
post /v1/route '{"session_id": "demo", "text": "And the series?"}' > route2.out
rid2=$(python3 -c "import json; print(json.loads(open('route2.out').read().split('\n')[0])['reservation_id'])")
post /v1/release "{\"reservation_id\": \"$rid2\"}" > release.out
post /v1/route '{"session_id": "demo", "text": "Thanks!", "turn": 5}' > route3.out
rid3=$(python3 -c "import json; print(json.loads(open('route3.out').read().split('\n')[0])['reservation_id'])")
post /v1/settle "{\"reservation_id\": \"$rid3\", \"cost\": 0.05}" > overdraft.out
curl -s -w '\n%{http_code}\n' "$url/v1/sessions/demo" > get-end.out
curl -s "$url/metrics" > metrics.out
"$bin" route --policy p.policy --budget 0.1 --text "Prove that the integral converges." > cli.json

python3 - <<'PY'
import json
def read(name):
    body, status = open(name).read().rsplit("\n", 2)[:2]
    return int(status), json.loads(body)

status, s = read("create.out")
assert status == 201 and s["budget_micro"] == 100000 and s["created"], (status, s)

status, r = read("route.out")
assert status == 200, r
for key in ("model", "reservation_id", "reserved", "remaining", "q_values", "masked", "reason"):
    assert key in r, ("missing field", key, r)
# The reservation id is the request id; the ledger stores the model beside it.
assert r["reservation_id"] == "turn-1", r
assert r["remaining_micro"] == 100000 - r["reserved_micro"], r
assert set(r["q_values"]) == {"strong", "weak"}, r
cli = json.load(open("cli.json"))
assert cli["model"] == r["model"] and cli["q_values"] == r["q_values"], (cli, r)
# The reservation is 3 x the model's mean cost (the default rule), rounded up to micro-units.
expected = cli["reserve"][r["model"]]
assert 0 <= r["reserved_micro"] - expected * 1e6 < 1.0, (r, expected)

# The first route of a session is turn 0, counted by the ledger.
assert r["turn"] == 0 and r["turn_source"] == "ledger", r

status, again = read("retry.out")
assert status == 200 and again["replayed"] and again["reservation_id"] == r["reservation_id"], again
assert again["reserved_micro"] == r["reserved_micro"], again

# Synthetic prices: strong 10 / 30 USD per 1M input / output tokens, weak 1 / 3;
# cached input at half the input price.
prices = {"strong": (10, 30), "weak": (1, 3)}[r["model"]]
cost = (300 * prices[0] + 100 * prices[0] * 0.5 + 500 * prices[1]) / 1e6
status, st = read("settle.out")
assert status == 200 and st["state"] == "settled" and not st["replayed"], st
assert st["actual_micro"] == round(cost * 1e6), (st, cost)
assert st["model"] == r["model"], (st, r)
assert st["remaining_micro"] == 100000 - st["actual_micro"], st
status, st2 = read("settle-again.out")
assert status == 200 and st2["replayed"] and st2["actual_micro"] == st["actual_micro"], st2

status, g = read("get.out")
assert status == 200 and g["spent_micro"] == st["actual_micro"] and g["reserved_micro"] == 0, g
# One route admitted; the retried route did not count again.
assert g["reservations_admitted"] == 1, g

# The second route gives no turn: it is turn 1, the count of routes admitted before it.
status, r2 = read("route2.out")
assert status == 200 and r2["turn"] == 1 and r2["turn_source"] == "ledger", r2

status, rel = read("release.out")
assert status == 200 and rel["state"] == "released" and rel["remaining_micro"] == g["remaining_micro"], rel

status, r3 = read("route3.out")
# A request turn overrides the ledger's count (2 here).
assert status == 200 and r3["turn"] == 5 and r3["turn_source"] == "request", r3
status, g_end = read("get-end.out")
assert status == 200 and g_end["reservations_admitted"] == 3, g_end
status, od = read("overdraft.out")
assert status == 200 and od["overdrawn"] is (50000 > r3["reserved_micro"]), (od, r3)
assert od["overdraft_micro"] == max(0, 50000 - r3["reserved_micro"]), (od, r3)

metrics = open("metrics.out").read()
assert "seqroute_decisions_total{model=" in metrics and "seqroute_ledger_seconds_bucket" in metrics
print("ok: create, route, retried route, settle by usage, replayed settle, get, release, overdraft")
PY

kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
pid=
[ "$rc" -eq 0 ] || { echo "FAIL: serve exited $rc after SIGTERM" >&2; cat serve.log >&2; exit 1; }
grep -q "serve_stop requests=" serve.log || { echo "FAIL: no serve_stop line" >&2; exit 1; }
echo "ok: SIGTERM stopped the server cleanly"
