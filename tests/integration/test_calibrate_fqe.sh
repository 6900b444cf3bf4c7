#!/usr/bin/env bash
# Calibration and fitted Q evaluation through the command line, on a small
# generated set with a briefly trained CQL policy:
#  - calibrate finds lambda for a spend target on the validation part, the
#    realised spend there meets the target, and eval --calibration on the
#    test part reports the realised value and its drift;
#  - fqe with the tabular class on full-information data matches the
#    simulator's return of always-cheapest (a policy whose states the data
#    covers completely) to printing precision.
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" synth --sessions 400 --seed 21 --out "$work/s.jsonl" 2>/dev/null
"$bin" split --data "$work/s.jsonl" --fractions 0.6,0.2,0.2 --seed 21 \
  --train "$work/train.jsonl" --val "$work/val.jsonl" --test "$work/test.jsonl" 2>/dev/null
"$bin" train --data "$work/train.jsonl" --val "$work/val.jsonl" --out "$work/cql.policy" \
  --steps 600 --batch 64 --hidden 32,32 --lr 1e-3 --eval-every 200 --log-every 200 \
  --progress lines --seed 5 2>/dev/null

# The spend target: halfway between what always-cheapest and lambda 0 spend.
"$bin" eval --data "$work/val.jsonl" --policy "cql:$work/cql.policy,always-cheapest" \
  --budget-frac 0.7 --json "$work/probe.json" > /dev/null 2>&1
target=$(python3 - "$work/probe.json" <<'PY'
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))["rows"]}
print((rows["cql"]["mean_cost"] + rows["always-cheapest"]["mean_cost"]) / 2)
PY
)

"$bin" calibrate --policy "cql:$work/cql.policy" --data "$work/val.jsonl" --budget-frac 0.7 \
  --target-spend "$target" --json "$work/cal.json" > "$work/cal.txt" 2>/dev/null
"$bin" eval --data "$work/test.jsonl" --calibration "$work/cal.json" --json "$work/drift.json" \
  > "$work/drift.txt" 2>/dev/null

python3 - "$work/cal.json" "$work/drift.json" "$target" <<'PY'
import json, sys
cal = json.load(open(sys.argv[1]))
drift = json.load(open(sys.argv[2]))
target = float(sys.argv[3])
assert cal["status"] == "found", cal["status"]
assert cal["target"] == {"kind": "spend", "value": target}, cal["target"]
lam = cal["lambda"]
assert lam > 0, f"lambda {lam}: a target below the lambda-0 spend needs lambda > 0"
realised = cal["realised"]["mean_cost"]
assert realised <= target + 1e-12, f"realised spend {realised} > target {target}"
below = cal["search"]["below_value"]
assert below > target, f"the probe just below lambda already met the target ({below})"
assert "calibration" in drift, "eval --calibration wrote no calibration object"
print(f"ok: lambda {lam:.4g} meets spend target {target:.4g} on val (realised {realised:.4g})")
PY

"$bin" fqe --data "$work/val.jsonl" --policy always-cheapest --budget 0.05 --function tabular \
  --json "$work/fqe.json" > "$work/fqe.txt" 2>/dev/null
python3 - "$work/fqe.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["full_information"] is True
row = doc["rows"][0]
assert row["policy"] == "always-cheapest", row["policy"]
assert row["coverage_initial"] == 1.0, row["coverage_initial"]
est = row["fqe"]
sim = row["simulator"]
assert abs(est - sim) < 1e-6, f"tabular FQE {est} differs from the simulator {sim}"
print(f"ok: tabular FQE {est:.6f} equals the simulator {sim:.6f}")
PY
