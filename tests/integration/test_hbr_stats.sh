#!/usr/bin/env bash
# `seqroute hbr --stats` on the paper-shaped case, counted by hand: two
# models (weak costs 1, strong costs 10), one four-turn session, budgets 5,
# 15, 30, 50 and 85, all 2^4 = 16 paths enumerated.
#
# A path stops after its first bankrupt step (remaining budget below the
# call's cost).  Per budget:
#   B=5:  a strong call is bankrupt wherever it comes; a path of j weak calls
#         then a strong one has j+1 steps: 8+4+2+1 paths end bankrupt at
#         steps 1..4 and the all-weak path has 4 steps: 30 transitions, 15
#         bankrupt.
#   B=15: one strong call fits and a second is bankrupt, so the 6+4+1 = 11
#         paths with two or more strong calls end bankrupt: 52 transitions.
#   B=30: three strong calls leave 0, so the 4+1 = 5 paths with three or
#         four strong calls end bankrupt on their fourth step: 64 transitions.
#   B=50 and B=85: every path completes: 64 transitions each, none bankrupt.
# Total 30+52+64+64+64 = 274 transitions and 15+11+5 = 31 bankrupt.  With
# --dedupe each distinct action prefix counts once: 8+20+30+30+30 = 118.
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/paper.jsonl" <<'PY'
import json, sys
header = {"seqroute_sessions": 1, "cost_unit": "units", "quality_range": [0, 1],
          "models": [{"name": "weak", "cost_per_call": 1}, {"name": "strong", "cost_per_call": 10}]}
turn = {"outcomes": {"weak": {"quality": 0.5, "cost": 1}, "strong": {"quality": 1, "cost": 10}}}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps(header) + "\n")
    f.write(json.dumps({"id": "s1", "turns": [turn] * 4}) + "\n")
PY

"$bin" hbr --data "$work/paper.jsonl" --budgets 5,15,30,50,85 --stats > "$work/plain.json"
"$bin" hbr --data "$work/paper.jsonl" --budgets 5,15,30,50,85 --dedupe --stats > "$work/dedupe.json"

python3 - "$work/plain.json" "$work/dedupe.json" <<'PY'
import json, sys
plain = json.load(open(sys.argv[1]))
dedupe = json.load(open(sys.argv[2]))
assert plain["sessions"] == 1, plain["sessions"]
assert plain["transitions"] == 274, plain["transitions"]
assert plain["bankrupt_transitions"] == 31, plain["bankrupt_transitions"]
per_budget = [(b["budget"], b["transitions"], b["bankrupt_transitions"]) for b in plain["per_budget"]]
assert per_budget == [(5, 30, 15), (15, 52, 11), (30, 64, 5), (50, 64, 0), (85, 64, 0)], per_budget
assert dedupe["distinct_transitions"] == 118, dedupe["distinct_transitions"]
print("ok: 274 transitions, 31 bankrupt, 118 distinct")
PY

# A negative budget level is a bad command line (exit 2), not bad data.
set +e
"$bin" hbr --data "$work/paper.jsonl" --budgets 5,-1 --stats > /dev/null 2> "$work/err.txt"
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "FAIL: --budgets 5,-1 exited $rc, expected 2" >&2; exit 1; }
grep -q "budget level 2 is -1" "$work/err.txt" \
  || { echo "FAIL: message does not name the level" >&2; cat "$work/err.txt" >&2; exit 1; }
echo "ok: a negative budget level is a usage error"
