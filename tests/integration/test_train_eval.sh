#!/usr/bin/env bash
# Train and evaluate through the command line: a short CQL and BC run on
# generated sessions, then `seqroute eval` of both policy files with a
# lambda list.  Checks the JSON rows (one per lambda for CQL, one for BC),
# that lambda moves CQL toward cheaper models, that the same seed gives a
# byte-identical policy file, and that a corrupt policy file is rejected
# with exit 1 and a message naming it.
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" synth --sessions 400 --seed 3 --out "$work/s.jsonl" 2>/dev/null
"$bin" split --data "$work/s.jsonl" --fractions 0.7,0.15,0.15 --seed 3 \
  --train "$work/train.jsonl" --val "$work/val.jsonl" --test "$work/test.jsonl" 2>/dev/null

train() {
  "$bin" train --data "$work/train.jsonl" --val "$work/val.jsonl" --out "$1" --algo "$2" \
    --steps 600 --batch 64 --hidden 32,32 --lr 1e-3 --eval-every 200 --log-every 200 \
    --progress lines --seed 5 2>>"$work/train.log"
}
train "$work/cql.policy" cql
train "$work/cql-again.policy" cql
train "$work/bc.policy" bc
cmp -s "$work/cql.policy" "$work/cql-again.policy" \
  || { echo "FAIL: same seed gave different policy files" >&2; exit 1; }

"$bin" eval --data "$work/test.jsonl" --reference "$work/train.jsonl" \
  --policy "cql:$work/cql.policy,bc:$work/bc.policy,always-cheapest" --lambda 0,1000 \
  --budget-frac 0.5 --json "$work/eval.json" > "$work/table.txt" 2>/dev/null

python3 - "$work/eval.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
cql = {r["lambda"]: r for r in rows if r["name"] == "cql"}
bc = [r for r in rows if r["name"] == "bc"]
cheap = next(r for r in rows if r["name"] == "always-cheapest")
assert sorted(cql) == [0, 1000], sorted(cql)
assert len(bc) == 1 and bc[0]["lambda"] == 0, bc
# A huge lambda makes any model but the cheapest cost more quality than Q can
# offer, so CQL must then route exactly like always-cheapest.
assert abs(cql[1000]["mean_cost"] - cheap["mean_cost"]) < 1e-12, (cql[1000], cheap)
assert cql[1000]["mean_cost"] <= cql[0]["mean_cost"] + 1e-12
print("ok: cql rows at lambda 0 and 1000, one bc row, lambda 1000 equals always-cheapest")
PY

# A corrupt policy file is rejected by name.
cp "$work/cql.policy" "$work/bad.policy"
printf '\xff' | dd of="$work/bad.policy" bs=1 seek=100 conv=notrunc 2>/dev/null
set +e
"$bin" eval --data "$work/test.jsonl" --policy "cql:$work/bad.policy" --budget-frac 0.5 \
  > /dev/null 2> "$work/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "FAIL: corrupt policy file exited $rc, expected 1" >&2; exit 1; }
grep -q "bad.policy" "$work/err.txt" || { echo "FAIL: message lacks the file name" >&2; cat "$work/err.txt" >&2; exit 1; }
echo "ok: corrupt policy file rejected: $(grep -m1 error "$work/err.txt")"

# The progress bar ends its line before the closing log line, so that line starts clean.
"$bin" train --data "$work/train.jsonl" --val "$work/val.jsonl" --out "$work/bar.policy" \
  --steps 100 --batch 32 --hidden 8 --eval-every 50 --log-every 50 --progress bar \
  2> "$work/bar.log"
tr '\r' '\n' < "$work/bar.log" | grep -q '^[0-9T:-]*Z level=info train_done' \
  || { echo "FAIL: train_done log line does not start a line after the bar" >&2; cat -A "$work/bar.log" >&2; exit 1; }
echo "ok: the progress bar ends its line before the closing log line"
