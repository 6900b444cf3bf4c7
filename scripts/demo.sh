#!/usr/bin/env bash
# The main job end to end on built-in generated data:
#   generate sessions -> split by session -> train CQL, the budget-blind
#   myopic router and behaviour cloning -> evaluate them (CQL and the myopic
#   router over a lambda sweep, the heuristic over its reserve) against every
#   baseline and the hindsight oracle at three budget levels -> write the
#   report (plots, CSV, HTML).
# Usage: scripts/demo.sh [SEQROUTE_BINARY] [OUT_DIR]
# Writes OUT_DIR/sessions.jsonl, the three splits, the two policy files,
# eval.txt (the table), eval.json (the same rows as JSON), cql.curves.csv
# and report/ (plots and index.html, see docs/REPORT.md).  About two minutes
# on two cores.
set -euo pipefail
bin=${1:-build/seqroute}
out=${2:-out}
seed=${SEQROUTE_DEMO_SEED:-7}
threads=${SEQROUTE_DEMO_THREADS:-2}
mkdir -p "$out"

echo "demo: generating 5000 sessions (seed $seed)" >&2
"$bin" synth --sessions 5000 --seed "$seed" --out "$out/sessions.jsonl"
"$bin" validate --data "$out/sessions.jsonl" > "$out/validate.txt"

echo "demo: splitting 80/10/10 by session" >&2
"$bin" split --data "$out/sessions.jsonl" --fractions 0.8,0.1,0.1 --seed "$seed" \
  --train "$out/train.jsonl" --val "$out/val.jsonl" --test "$out/test.jsonl"

# A smaller network and step count than the library defaults (hidden
# 512,256,256 and 200k steps), so the demo trains in about a minute; on this
# data it reaches test results close to a 20k-step run of the full network.
echo "demo: training CQL (10000 steps), the myopic router and behaviour cloning (3000 each)" >&2
"$bin" train --data "$out/train.jsonl" --val "$out/val.jsonl" --out "$out/cql.policy" \
  --algo cql --steps 10000 --hidden 256,128,128 --eval-every 1000 --log-every 2000 \
  --threads "$threads" --seed "$seed" --progress lines --curves "$out/cql.curves.csv"
"$bin" train --data "$out/train.jsonl" --val "$out/val.jsonl" --out "$out/myopic.policy" \
  --algo myopic --steps 3000 --hidden 256,128,128 --eval-every 1000 --log-every 1000 \
  --threads "$threads" --seed "$seed" --progress lines
"$bin" train --data "$out/train.jsonl" --val "$out/val.jsonl" --out "$out/bc.policy" \
  --algo bc --steps 3000 --hidden 256,128,128 --eval-every 1000 --log-every 1000 \
  --threads "$threads" --seed "$seed" --progress lines

# Budgets at 0.30, 0.50 and 0.70 of C_ref, the mean cost of an
# always-strongest session: below 0.30 no strong call fits a session and
# every deployable policy reduces to always-cheapest.
echo "demo: evaluating on the test split" >&2
"$bin" eval --data "$out/test.jsonl" --reference "$out/train.jsonl" \
  --policy "all,cql:$out/cql.policy,myopic:$out/myopic.policy,bc:$out/bc.policy" --sweep \
  --budget-frac 0.30,0.50,0.70 --seed "$seed" --json "$out/eval.json" | tee "$out/eval.txt"

echo "demo: wrote $out/eval.txt and $out/eval.json" >&2

# The report: plots (PNG, SVG), the CSV behind each, and index.html with the
# tables (docs/REPORT.md).
echo "demo: writing the report" >&2
"$bin" report --eval "$out/eval.json" --curves "$out/cql.curves.csv" --out "$out/report"
echo "demo: open $out/report/index.html" >&2
