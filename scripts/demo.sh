#!/usr/bin/env bash
# The main job end to end on built-in generated data:
#   generate sessions -> split by session -> evaluate every baseline and the
#   hindsight oracle at three budget levels.
# Usage: scripts/demo.sh [SEQROUTE_BINARY] [OUT_DIR]
# Writes OUT_DIR/sessions.jsonl, the three splits, eval.txt (the table) and
# eval.json (the same rows as JSON).
set -euo pipefail
bin=${1:-build/seqroute}
out=${2:-out}
seed=${SEQROUTE_DEMO_SEED:-7}
mkdir -p "$out"

echo "demo: generating 5000 sessions (seed $seed)" >&2
"$bin" synth --sessions 5000 --seed "$seed" --out "$out/sessions.jsonl"
"$bin" validate --data "$out/sessions.jsonl" > "$out/validate.txt"

echo "demo: splitting 80/10/10 by session" >&2
"$bin" split --data "$out/sessions.jsonl" --fractions 0.8,0.1,0.1 --seed "$seed" \
  --train "$out/train.jsonl" --val "$out/val.jsonl" --test "$out/test.jsonl"

echo "demo: evaluating baselines and the oracle on the test split" >&2
"$bin" eval --data "$out/test.jsonl" --reference "$out/train.jsonl" --policy all \
  --budget-frac 0.15,0.30,0.50 --seed "$seed" --json "$out/eval.json" | tee "$out/eval.txt"

echo "demo: wrote $out/eval.txt and $out/eval.json" >&2
