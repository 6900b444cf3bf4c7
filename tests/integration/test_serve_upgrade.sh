#!/usr/bin/env bash
# Upgrade: `seqroute serve` on a SQLite ledger written by the first ledger
# version (schema 1: no admitted count, no model column, reservation ids
# "BASE.K" that name policy model K).  The service must upgrade the file,
# count the session's old reservations as its earlier turns, price a settle
# by usage of an old reservation with model K's catalogue prices, and store
# the model of new reservations under their plain request id.
set -euo pipefail
: "${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

PYTHONPATH=$here python3 - "$work" <<'PY'
import json, sqlite3, subprocess, sys
import serve_harness as h

work = sys.argv[1]
policy = h.train_policy(work)
route = subprocess.run([h.BIN, "route", "--policy", policy, "--budget", "1", "--text", "x"],
                       check=True, capture_output=True, text=True)
models = list(json.loads(route.stdout)["q_values"])  # policy order

# A version 1 file: session "old" (budget 1.0) with reservations "a.0" (settled)
# and "b.1" (open, for policy model 1), both made long before now.
path = work + "/ledger.db"
db = sqlite3.connect(path)
db.executescript("""
PRAGMA journal_mode = WAL;
CREATE TABLE sessions (id TEXT PRIMARY KEY, budget INTEGER NOT NULL CHECK (budget >= 0),
  spent INTEGER NOT NULL DEFAULT 0, overdraft INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL);
CREATE TABLE reservations (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions (id),
  amount INTEGER NOT NULL CHECK (amount >= 0), expires_ms INTEGER NOT NULL, state INTEGER NOT NULL,
  actual INTEGER NOT NULL DEFAULT 0, overdraft INTEGER NOT NULL DEFAULT 0,
  late INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, closed_ms INTEGER);
CREATE INDEX reservations_by_session ON reservations (session_id, state, expires_ms);
CREATE INDEX reservations_by_expiry ON reservations (state, expires_ms);
INSERT INTO sessions VALUES ('old', 1000000, 1000, 0, 1);
INSERT INTO reservations VALUES ('a.0', 'old', 5000, 99999999999999, 1, 1000, 0, 0, 1, 2);
INSERT INTO reservations VALUES ('b.1', 'old', 5000, 99999999999999, 0, 0, 0, 0, 1, NULL);
PRAGMA user_version = 1;
""")
db.close()

server = h.Server(work, policy, "sqlite:" + path)
try:
    h.check("ledger_schema_upgraded" in server.text(), "no ledger_schema_upgraded log line")
    status, s = server.request("GET", "/v1/sessions/old")
    h.check(status == 200, "session lost in the upgrade: %s" % s)
    h.check(s["reservations_admitted"] == 2, "old reservations not counted: %s" % s)
    h.check(s["spent_micro"] == 1000 and s["reserved_micro"] == 5000, "totals changed: %s" % s)

    # The old id "b.1" is priced with model 1's catalogue entry.
    prices = {"strong": (10, 30), "weak": (1, 3)}[models[1]]
    status, st = server.request("POST", "/v1/settle", {"reservation_id": "b.1",
                                "usage": {"input_tokens": 1000, "output_tokens": 2000}})
    h.check(status == 200, "settle of an old id failed: %s" % st)
    h.check(st["model"] == models[1], "old id priced as %s, not %s" % (st.get("model"), models[1]))
    expected = (1000 * prices[0] + 2000 * prices[1])
    h.check(st["actual_micro"] == expected, "priced %d micro-units, expected %d" % (st["actual_micro"], expected))

    # The next route is turn 2; its reservation id is the request id.
    status, r = server.request("POST", "/v1/route", {"session_id": "old", "text": "next", "request_id": "c.0"})
    h.check(status == 200, "route after the upgrade failed: %s" % r)
    h.check(r["turn"] == 2 and r["turn_source"] == "ledger", "turn %s from %s" % (r["turn"], r["turn_source"]))
    h.check(r["reservation_id"] == "c.0", "reservation id %s" % r["reservation_id"])

    # "c.0" looks like an old id for model 0, but its stored model decides the price.
    prices = {"strong": (10, 30), "weak": (1, 3)}[r["model"]]
    status, st = server.request("POST", "/v1/settle", {"reservation_id": "c.0",
                                "usage": {"input_tokens": 1000, "output_tokens": 2000}})
    h.check(status == 200 and st["model"] == r["model"], "settle of c.0: %s" % st)
    h.check(st["actual_micro"] == 1000 * prices[0] + 2000 * prices[1], "c.0 priced %d" % st["actual_micro"])
    print("ok: version 1 ledger upgraded; old ids priced by their suffix, new ones by the stored model")
finally:
    h.check(server.stop() == 0, "serve did not stop cleanly")

version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
h.check(version == 2, "schema version %d after the upgrade" % version)
PY
