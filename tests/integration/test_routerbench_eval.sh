#!/usr/bin/env bash
# End to end on real data: import RouterBench's test CSVs chained into
# four-turn sessions, evaluate every baseline and the hindsight oracle at
# three budget fractions, and check that the oracle's mean quality is at
# least every other policy's at each budget.  Skips when the third-party
# data folder is absent.
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
data=${SEQROUTE_SHARED_DATA:-}
src="$data/routerbench-subset"
if [ -z "$data" ] || [ ! -f "$src/arc_challenge_test.csv" ]; then
  echo "SKIP: RouterBench CSVs not found under '$src'" >&2
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" import routerbench --turns 4 --seed 3 --out "$work/rb.jsonl" "$src"/*_test.csv
"$bin" eval --data "$work/rb.jsonl" --policy all --budget-frac 0.15,0.30,0.50 \
  --seed 3 --json "$work/eval.json" > "$work/table.txt"
cat "$work/table.txt"

python3 - "$work/eval.json" <<'PY'
import json, math, sys
doc = json.load(open(sys.argv[1]))
rows = doc["rows"]
required = ["name", "budget", "sessions", "mean_cost", "bankruptcy_rate", "bankruptcy_ci",
            "mean_quality", "mean_return", "model_share", "oracle_gap_closed"]
for row in rows:
    missing = [k for k in required if k not in row]
    assert not missing, f"row {row.get('name')} lacks {missing}"
budgets = sorted({row["budget"] for row in rows})
assert len(budgets) == 3, f"expected 3 budgets, got {budgets}"
names = {row["name"] for row in rows}
for expected in ["oracle", "random", "heuristic", "always-cheapest", "always-strongest"]:
    assert expected in names, f"policy {expected} missing from {sorted(names)}"
assert sum(n.startswith("always:") for n in names) == 11, "one always:<model> row per model"
for b in budgets:
    at = [r for r in rows if r["budget"] == b]
    oracle = next(r for r in at if r["name"] == "oracle")
    for r in at:
        assert r["mean_quality"] <= oracle["mean_quality"] + 1e-12, \
            f"budget {b}: {r['name']} quality {r['mean_quality']} > oracle {oracle['mean_quality']}"
    lo, hi = oracle["bankruptcy_ci"]
    assert 0 <= lo <= oracle["bankruptcy_rate"] <= hi <= 1
print(f"ok: {len(rows)} rows, oracle quality is the maximum at each of {len(budgets)} budgets")
PY
