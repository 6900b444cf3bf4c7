#!/usr/bin/env bash
# The ablation table: which parts of SeqRoute matter, measured on a validation
# split. It reproduces the "Ablation" section of docs/RESULTS.md.
#
#   data  the generated demo data (seqroute synth --sessions 5000 --seed 7, split 0.8/0.1/0.1
#         by session with seed 7), and with ROUTELLM=1 also RouteLLM GPT-4 Turbo vs Mixtral
#         (MMLU + GSM8K, 4-turn sessions, split 0.7/0.15/0.15 seed 1, as
#         scripts/realdata-routellm.sh does)
#   variants, each trained on the training split and measured on the validation split:
#     cql            the reference: CQL alpha 1, HBR on, state = features + b / B_ref
#     hbr-off        the same CQL with HBR off (defined below)
#     dqn            alpha 0 (Double DQN), HBR on
#     bc             behaviour cloning of the per-turn best-quality model, HBR states
#     state-turn, state-log-budget, state-strong-calls, state-bins
#                    the reference plus one --state-options entry each
#   -> OUT_DIR/ablation.md (the table), OUT_DIR/ablation.json, and per data set the policies,
#      training logs and eval JSON
#
# HBR off, precisely: the relabeller gets ONE budget level (0.50 x C_ref, the middle of the
# default levels) and ONE path per session (--max-enum 1 --paths 1). The path is drawn from
# the default behaviour mixture: uniform 0.4, cheapest 0.2, strongest 0.2, per-turn greedy 0.2.
# That is the data an ordinary offline-RL set-up would log: one trajectory per session under
# one budget, about 3 transitions per session on the demo data against about 390 with HBR.
#
# No early stopping: every variant trains for a fixed number of steps and keeps its last
# parameters, because the validation split is where the table is measured; selecting on it
# as well would favour whichever variant's curve is noisier.
#
# Usage: scripts/ablation.sh [BUILD_DIR] [OUT_DIR]     (from the repository root)
#   BUILD_DIR  holds the seqroute binary (default build)
#   OUT_DIR    receives every file (default out/ablation; git ignores out/)
# Environment:
#   STEPS     updates per training (default 4000)
#   SEEDS     training seeds, comma-separated (default 7,8); the table gives the mean
#   ROUTELLM  1 to add the RouteLLM data set (needs SEQROUTE_SHARED_DATA, default
#             ../shared/data; the script stops with a message when it is missing)
#
# Network for every variant: hidden 256,128, 128 hashed text features per block, lr 3e-4,
# batch 256, target copy every 1,000 steps, one thread. Budgets of the table: 0.50 and 0.70 x
# C_ref of the training split on the demo data (at 0.30 no strong call fits and every policy
# is always-weak, docs/RESULTS.md "λ-conditioned Q"), 0.54 and 0.85 on RouteLLM.
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
out=${2:-out/ablation}
bin=$build/seqroute
steps=${STEPS:-4000}
seeds=${SEEDS:-7,8}
routellm=${ROUTELLM:-0}
shared=${SEQROUTE_SHARED_DATA:-$repo/../shared/data}

fail() { echo "ablation: $*" >&2; exit 1; }

[ -x "$bin" ] || fail "no seqroute binary at $bin; build it first (make, or cmake --build $build)"
command -v python3 > /dev/null || fail "python3 is needed to write the table (scripts/install-deps.sh installs it)"
case $steps in ''|*[!0-9]*|0) fail "STEPS must be a positive integer, got '$steps'" ;; esac
case $seeds in ''|*[!0-9,]*) fail "SEEDS must be comma-separated integers, got '$seeds'" ;; esac
if [ "$routellm" = 1 ]; then
  [ -d "$shared/routellm-2model" ] || fail "data folder $shared/routellm-2model is missing; set SEQROUTE_SHARED_DATA or run without ROUTELLM=1"
  [ -f "$shared/llm-prices/litellm_model_prices_2025-02-06.json" ] || fail "price table missing under $shared/llm-prices"
fi
IFS=, read -r -a seed_list <<< "$seeds"

mkdir -p "$out"
out=$(cd "$out" && pwd)
started=$(date +%s)
log() { echo "ablation: $* ($(( $(date +%s) - started )) s)" >&2; }
: > "$out/times.tsv"

# name | train options beyond the common ones. The eval name prefix is the algorithm.
variants=(
  "cql|--algo cql --alpha 1"
  "hbr-off|--algo cql --alpha 1 --budget-fracs 0.5 --max-enum 1 --paths 1"
  "dqn|--algo dqn"
  "bc|--algo bc"
  "state-turn|--algo cql --alpha 1 --state-options turn"
  "state-log-budget|--algo cql --alpha 1 --state-options log-budget"
  "state-strong-calls|--algo cql --alpha 1 --state-options strong-calls"
  "state-bins|--algo cql --alpha 1 --state-options bins --budget-bins 4"
)

# ablate NAME DIR FRACS: train every variant for every seed on DIR/train.jsonl, evaluate on
# DIR/val.jsonl at FRACS x C_ref(train).
ablate() {
  local name=$1 dir=$2 fracs=$3
  "$bin" hbr --data "$dir/train.jsonl" --stats > "$dir/hbr-train.json" 2> /dev/null \
    || fail "seqroute hbr --stats failed on $dir/train.jsonl"
  local c_ref budgets
  c_ref=$(python3 -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["c_ref"]))' "$dir/hbr-train.json")
  budgets=$(python3 -c 'import sys; c=float(sys.argv[1]); print(",".join("%.10g" % (float(f) * c) for f in sys.argv[2].split(",")))' "$c_ref" "$fracs")
  echo "$c_ref" > "$dir/c_ref"
  log "$name: C_ref(train) = $c_ref; budgets $budgets"

  local s v vname vopts joint
  for s in "${seed_list[@]}"; do
    joint=()
    for v in "${variants[@]}"; do
      vname=${v%%|*}; vopts=${v#*|}
      log "$name seed $s: training $vname"
      local t0; t0=$(date +%s)
      # shellcheck disable=SC2086  # vopts is a list of options
      "$bin" train --data "$dir/train.jsonl" --out "$dir/$vname-$s.policy" --seed "$s" --threads 1 \
        --hidden 256,128 --feature-dim 128 --lr 3e-4 --batch 256 --target-period 1000 \
        --steps "$steps" --log-every 1000 --progress lines $vopts \
        2> "$dir/train-$vname-$s.log" || fail "training $vname failed, see $dir/train-$vname-$s.log"
      printf '%s/%s-%s\t%s\n' "$name" "$vname" "$s" "$(( $(date +%s) - t0 ))" >> "$out/times.tsv"
      local algo=${vopts#--algo }; algo=${algo%% *}
      # Rows per variant (sweep: the learned policies over lambda, BC at lambda 0).
      "$bin" eval --data "$dir/val.jsonl" --reference "$dir/train.jsonl" --seed 1 --budget "$budgets" \
        --policy "$algo:$dir/$vname-$s.policy" --sweep --json "$dir/eval-$vname-$s.json" \
        > /dev/null 2> "$dir/eval-$vname-$s.log" || fail "evaluation of $vname failed, see $dir/eval-$vname-$s.log"
      joint+=("$algo:$dir/$vname-$s.policy")
    done
    # One joint evaluation gives every variant's AIQ over one shared cost range.
    local joined; joined=$(IFS=,; echo "${joint[*]}")
    "$bin" eval --data "$dir/val.jsonl" --reference "$dir/train.jsonl" --seed 1 --budget "$budgets" \
      --policy "always-cheapest,$joined" --sweep --json "$dir/eval-joint-$s.json" \
      > /dev/null 2> "$dir/eval-joint-$s.log" || fail "joint evaluation failed, see $dir/eval-joint-$s.log"
  done
}

# ---- the demo data -------------------------------------------------------------------------

demo=$out/demo
mkdir -p "$demo"
log "demo: generating 5000 sessions (seed 7) and splitting 0.8/0.1/0.1 (seed 7)"
"$bin" synth --sessions 5000 --seed 7 --out "$demo/sessions.jsonl" 2> "$demo/synth.log" \
  || fail "synth failed, see $demo/synth.log"
"$bin" split --data "$demo/sessions.jsonl" --fractions 0.8,0.1,0.1 --seed 7 \
  --train "$demo/train.jsonl" --val "$demo/val.jsonl" --test "$demo/test.jsonl" 2> "$demo/split.log" \
  || fail "split failed, see $demo/split.log"
ablate demo "$demo" 0.50,0.70
sets=demo

# ---- RouteLLM (optional) ---------------------------------------------------------------------

if [ "$routellm" = 1 ]; then
  rl=$out/routellm
  mkdir -p "$rl"
  d=$shared/routellm-2model
  shopt -s nullglob; mmlu=("$d"/mmlu/mmlu_*.csv); shopt -u nullglob
  [ "${#mmlu[@]}" -eq 57 ] || fail "expected 57 MMLU files in $d/mmlu, found ${#mmlu[@]}"
  log "routellm: importing (4-turn sessions, seed 1) and splitting 0.7/0.15/0.15 (seed 1)"
  "$bin" import table --prices "$shared/llm-prices/litellm_model_prices_2025-02-06.json" \
    --price-key mistralai/Mixtral-8x7B-Instruct-v0.1=together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1 \
    --turns 4 --seed 1 --out "$rl/sessions.jsonl" "${mmlu[@]}" "$d/gsm8k/gsm8k_responses.csv" \
    2> "$rl/import.log" || fail "import failed, see $rl/import.log"
  "$bin" split --data "$rl/sessions.jsonl" --fractions 0.7,0.15,0.15 --seed 1 \
    --train "$rl/train.jsonl" --val "$rl/val.jsonl" --test "$rl/test.jsonl" 2> "$rl/split.log" \
    || fail "split failed, see $rl/split.log"
  ablate routellm "$rl" 0.54,0.85
  sets=demo,routellm
fi

# ---- the table -------------------------------------------------------------------------------

elapsed=$(( $(date +%s) - started ))
vnames=$(printf '%s\n' "${variants[@]}" | cut -d'|' -f1 | paste -sd, -)
python3 - "$out" "$sets" "$seeds" "$vnames" "$steps" "$elapsed" <<'EOF' || fail "writing the table failed"
import json, sys

out, sets, seeds, vnames, steps, elapsed = sys.argv[1:7]
sets, seeds, vnames = sets.split(","), seeds.split(","), vnames.split(",")
DEFINITION = {
    "cql": "CQL α 1, HBR on (5 levels × every path), state b/B_ref",
    "hbr-off": "as cql, HBR off: 1 level (0.50 × C_ref), 1 behaviour path per session",
    "dqn": "α 0 (Double DQN), HBR on",
    "bc": "behaviour cloning (per-turn best model), HBR states",
    "state-turn": "cql + t / T_ref",
    "state-log-budget": "cql + log1p(b / B_ref)",
    "state-strong-calls": "cql + b / ĉ(strong)",
    "state-bins": "cql + 4 one-hot budget bins",
}


def load(p):
    with open(p) as f:
        return json.load(f)


result = {"steps": int(steps), "seeds": seeds, "run_seconds": int(elapsed), "sets": {}}
lines = ["### Ablation table (validation split; %s steps; seeds %s; mean over seeds; run time %s s)"
         % (steps, ", ".join(seeds), elapsed)]
for ds in sets:
    c_ref = float(open("%s/%s/c_ref" % (out, ds)).read())
    per = {}
    budgets = None
    for s in seeds:
        joint = load("%s/%s/eval-joint-%s.json" % (out, ds, s))
        aiq = {}
        for f in joint.get("frontiers", []):
            aiq[(f["source"].split("/")[-1], f["budget"])] = f["aiq"]
        for b in joint["aiq"]["budgets"]:
            # BC is not swept: its AIQ is under its row name in the values map.
            if "bc" in b["values"]:
                aiq[("bc-%s.policy" % s, b["budget"])] = b["values"]["bc"]
        for v in vnames:
            ev = load("%s/%s/eval-%s-%s.json" % (out, ds, v, s))
            rows = [r for r in ev["rows"] if r.get("lambda", 0.0) == 0.0]
            budgets = sorted({r["budget"] for r in rows})
            for r in rows:
                per.setdefault((v, r["budget"]), []).append({
                    "return": r["mean_return"], "cost": r["mean_cost"], "quality": r["mean_quality"],
                    "bankrupt": r["bankruptcy_rate"], "bankrupt_ci": r["bankruptcy_ci"],
                    "aiq": aiq.get(("%s-%s.policy" % (v, s), r["budget"]))})
    result["sets"][ds] = {"c_ref_train": c_ref,
                          "rows": {"%s@%.6g" % k: v for k, v in per.items()}}

    def mean(xs):
        xs = [x for x in xs if x is not None]
        return sum(xs) / len(xs) if xs else None

    lines.append("")
    lines.append("**%s** (validation split, C_ref(train) = %.6g; return, cost and bankruptcy at λ = 0; "
                 "AIQ of the λ-sweep against always-cheapest over the shared cost range)" % (ds, c_ref))
    lines.append("")
    hdr = "| variant | definition |"
    sep = "|---|---|"
    for b in budgets:
        tag = "%.2f" % (b / c_ref)
        hdr += " return @%s | cost / C_ref | bankrupt %% | AIQ |" % tag
        sep += "---:|---:|---:|---:|"
    lines.append(hdr)
    lines.append(sep)
    for v in vnames:
        cells = "| %s | %s |" % (v, DEFINITION.get(v, ""))
        for b in budgets:
            xs = per[(v, b)]
            ret = [x["return"] for x in xs]
            spread = "" if len(ret) < 2 else " (%.3f–%.3f)" % (min(ret), max(ret))
            a = mean([x["aiq"] for x in xs])
            cells += " %.3f%s | %.3f | %.1f | %s |" % (
                mean(ret), spread, mean([x["cost"] for x in xs]) / c_ref,
                100 * mean([x["bankrupt"] for x in xs]), "–" if a is None else "%.4f" % a)
        lines.append(cells)

times = [l.rstrip("\n").split("\t") for l in open("%s/times.tsv" % out) if l.strip()]
result["times"] = {n: int(t) for n, t in times}
with open("%s/ablation.json" % out, "w") as f:
    json.dump(result, f, indent=1)
with open("%s/ablation.md" % out, "w") as f:
    f.write("\n".join(lines) + "\n")
EOF
log "wrote $out/ablation.md and $out/ablation.json"
cat "$out/ablation.md"
