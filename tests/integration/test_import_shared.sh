#!/usr/bin/env bash
# Runs each importer of `seqroute import` on the matching third-party folder
# and checks the counts against that folder's README:
#   routerbench-subset *_test.csv: 445 + 128 + 380 rows, minus the rows with
#     empty cells (each reported on stderr), 11 models;
#   routellm-2model: 14,042 MMLU and 1,319 GSM8K prompts, 2 models;
#   llmrouter-9model: 500 test and 5,608 train items, 9 models;
#   mtbench-gpt4-pooled raw files: 80 sessions x 2 turns x 10 models = 1,600
#     outcomes, with 4 score -1 judgments and duplicates of one model.
# First checks the tool's exit codes on the small fixtures (no third-party
# data needed); then skips with exit 77 when the data folder is absent.
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
fixtures=${SEQROUTE_TEST_DATA:?SEQROUTE_TEST_DATA must point at tests/data}/import
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- exit codes ------------------------------------------------------------
expect_exit() {
  local expected=$1
  shift
  set +e
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  set -e
  if [ "$got" -ne "$expected" ]; then
    echo "FAIL: expected exit $expected, got $got: $*" >&2
    cat "$work/err" >&2
    exit 1
  fi
}
expect_exit 0 "$bin" import routerbench --help
expect_exit 2 "$bin" import nosuchkind x.csv
expect_exit 2 "$bin" import routerbench --price a=1/1 "$fixtures/rb_small.csv"
expect_exit 2 "$bin" import mtbench --turns 4 --questions q --judgments j
expect_exit 2 "$bin" import table --turns 0 "$fixtures/table_small.csv"
expect_exit 1 "$bin" import routerbench "$fixtures/rb_bad_correctness.csv"
grep -q "rb_bad_correctness.csv:2: field 'model-b'" "$work/err"
expect_exit 1 "$bin" import table "$fixtures/table_small.csv"
grep -q "no price for 2 model(s)" "$work/err"
expect_exit 0 "$bin" import routerbench --turns 2 --out "$work/small.jsonl" "$fixtures/rb_small.csv"
grep -q 'level=warn import_skip_row file=.*rb_small.csv line=5 column="model-b"' "$work/err"
grep -q 'import_done kind=routerbench items=3 sessions=2' "$work/err"

data=${SEQROUTE_SHARED_DATA:-}
if [ -z "$data" ] || [ ! -d "$data" ]; then
  echo "SKIP: third-party data folder '$data' not found (set SEQROUTE_SHARED_DATA)" >&2
  exit 77
fi

# check FILE SESSIONS TURNS MODELS OUTCOMES [TURNS_PER_SESSION]
# Verifies the header, every session line and the totals.
check() {
  python3 - "$@" <<'PY'
import json, math, sys
path, sessions, turns, models, outcomes = sys.argv[1], *map(int, sys.argv[2:6])
per_session = int(sys.argv[6]) if len(sys.argv) > 6 else None
lines = open(path, encoding="utf-8").read().rstrip("\n").split("\n")
header = json.loads(lines[0])
assert header["seqroute_sessions"] == 1, header
assert header["cost_unit"] == "USD", header
names = [m["name"] for m in header["models"]]
assert len(names) == models, f"{path}: {len(names)} models, expected {models}: {names}"
n_turns = n_outcomes = 0
ids = set()
for number, line in enumerate(lines[1:], start=2):
    s = json.loads(line)
    assert s["id"] not in ids, f"{path}:{number}: duplicate id {s['id']}"
    ids.add(s["id"])
    if per_session is not None and number < len(lines):
        assert len(s["turns"]) == per_session, f"{path}:{number}: {len(s['turns'])} turns"
    for turn in s["turns"]:
        n_turns += 1
        assert set(turn["outcomes"]) == set(names), f"{path}:{number}: models differ"
        for name, o in turn["outcomes"].items():
            n_outcomes += 1
            assert 0 <= o["quality"] <= 1, f"{path}:{number}: quality {o['quality']}"
            assert math.isfinite(o["cost"]), f"{path}:{number}: cost {o['cost']}"
            assert o["cost"] >= 0, f"{path}:{number}: cost {o['cost']}"
assert len(ids) == sessions, f"{path}: {len(ids)} sessions, expected {sessions}"
assert n_turns == turns, f"{path}: {n_turns} turns, expected {turns}"
assert n_outcomes == outcomes, f"{path}: {n_outcomes} outcomes, expected {outcomes}"
print(f"ok: {path.rsplit('/', 1)[-1]}: {sessions} sessions, {turns} turns, {models} models, "
      f"{outcomes} outcomes")
PY
}

# ---- RouterBench -------------------------------------------------------------
rb="$data/routerbench-subset"
if [ -f "$rb/arc_challenge_test.csv" ]; then
  "$bin" import routerbench --seed 1 --turns 4 --out "$work/rb.jsonl" \
    "$rb/arc_challenge_test.csv" "$rb/mbpp_test.csv" "$rb/winograde_test.csv" 2>"$work/rb.err"
  skipped=$(grep -c 'level=warn import_skip_row' "$work/rb.err" || true)
  items=$((445 + 128 + 380 - skipped))
  echo "routerbench: $skipped rows with empty cells reported and skipped"
  [ "$skipped" -gt 0 ] && [ "$skipped" -le 14 ]
  grep -q "import_done kind=routerbench items=$items .* skipped_rows=$skipped" "$work/rb.err"
  check "$work/rb.jsonl" $(((items + 3) / 4)) "$items" 11 $((items * 11)) 4
  python3 - "$work/rb.jsonl" "$skipped" <<'PY'
import json, sys
header = json.loads(open(sys.argv[1]).readline())
assert header["chaining"]["seed"] == 1, header["chaining"]
assert header["chaining"]["turns"] == "4", header["chaining"]
assert header["source"]["rows"] == 445 + 128 + 380, header["source"]
assert header["source"]["skipped_rows"] == int(sys.argv[2])
assert all(m["cost_per_call"] > 0 for m in header["models"])
PY
  # Same seed, same file; another seed, another order.
  "$bin" import routerbench --seed 1 --out "$work/rb2.jsonl" "$rb"/*_test.csv 2>/dev/null
  cmp -s "$work/rb.jsonl" "$work/rb2.jsonl" || { echo "FAIL: same seed differs" >&2; exit 1; }
  "$bin" import routerbench --seed 2 --out "$work/rb3.jsonl" "$rb"/*_test.csv 2>/dev/null
  if cmp -s "$work/rb.jsonl" "$work/rb3.jsonl"; then echo "FAIL: seeds 1 and 2 agree" >&2; exit 1; fi
else
  echo "note: $rb absent, RouterBench part skipped"
fi

# ---- RouteLLM ------------------------------------------------------------------
rl="$data/routellm-2model"
prices="$data/llm-prices/litellm_model_prices_2025-02-06.json"
mixtral_key="mistralai/Mixtral-8x7B-Instruct-v0.1=together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1"
if [ -d "$rl/mmlu" ] && [ -f "$prices" ]; then
  "$bin" import table --prices "$prices" --price-key "$mixtral_key" --out "$work/mmlu.jsonl" \
    "$rl"/mmlu/mmlu_*.csv 2>/dev/null
  check "$work/mmlu.jsonl" $(((14042 + 3) / 4)) 14042 2 $((14042 * 2)) 4
  "$bin" import table --prices "$prices" --price-key "$mixtral_key" --turns 2-6 \
    --out "$work/gsm8k.jsonl" "$rl/gsm8k/gsm8k_responses.csv" 2>/dev/null
  python3 - "$work/gsm8k.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().rstrip("\n").split("\n")
header = json.loads(lines[0])
prices = {m["name"]: (m["input_price"], m["output_price"]) for m in header["models"]}
assert prices["gpt-4-1106-preview"] == (10, 30), prices
assert prices["mistralai/Mixtral-8x7B-Instruct-v0.1"] == (0.6, 0.6), prices
turns = [len(json.loads(l)["turns"]) for l in lines[1:]]
assert sum(turns) == 1319, sum(turns)
assert all(2 <= t <= 6 for t in turns[:-1]), turns
assert 1 <= turns[-1] <= 6, turns
# GSM8K answers are counted from the response text, so outputs vary.
outs = {o["output_tokens"] for l in lines[1:] for t in json.loads(l)["turns"]
        for o in t["outcomes"].values()}
assert len(outs) > 100, len(outs)
print(f"ok: gsm8k_responses.csv: 1319 prompts in {len(turns)} sessions of 2-6 turns")
PY
else
  echo "note: $rl or the LiteLLM prices absent, RouteLLM part skipped"
fi

# ---- LLMRouter -------------------------------------------------------------------
lr="$data/llmrouter-9model"
if [ -f "$lr/dcrouter_test.json" ]; then
  "$bin" import table --catalogue "$lr/default_llm.json" --out "$work/lr_test.jsonl" \
    "$lr/dcrouter_test.json" 2>/dev/null
  check "$work/lr_test.jsonl" 125 500 9 4500 4
  "$bin" import table --catalogue "$lr/default_llm.json" --out "$work/lr_train.jsonl" \
    "$lr/dcrouter_train.json" 2>/dev/null
  check "$work/lr_train.jsonl" 1402 5608 9 $((5608 * 9)) 4
else
  echo "note: $lr absent, LLMRouter part skipped"
fi

# ---- MT-Bench --------------------------------------------------------------------
mt="$data/mtbench-gpt4-pooled"
if [ -d "$mt/raw" ] && [ -f "$prices" ]; then
  # Raw names differ from the README's canonical ones; three 7B models have no
  # public API price and are priced like a hosted Mistral-7B-Instruct ($0.13).
  "$bin" import mtbench --questions "$mt/question.jsonl" --out "$work/mt.jsonl" \
    --models gpt-4-1106-preview,claude-3-5-sonnet-20240620,gemini-1.5-flash,claude-3-opus-20240229,mixtral-8x7b-instruct-v0.1,meta-llama-3-8b-instruct,neuralmarcoro14-7b,dolphin-2.2.1-mistral-7b,llama-2-7b-chat,vicuna-7b-v1.3 \
    --rename mistralai/Mixtral-8x7B-Instruct-v0.1=mixtral-8x7b-instruct-v0.1 \
    --rename Meta-Llama-3-8B-Instruct-Normal=meta-llama-3-8b-instruct \
    --rename llama-2-chat-7b=llama-2-7b-chat \
    --rename NeuralMarcoro14-7B=neuralmarcoro14-7b \
    --prices "$prices" \
    --price-key mixtral-8x7b-instruct-v0.1=together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1 \
    --price-key meta-llama-3-8b-instruct=deepinfra/meta-llama/Meta-Llama-3-8B-Instruct \
    --price-key llama-2-7b-chat=deepinfra/meta-llama/Llama-2-7b-chat-hf \
    --price neuralmarcoro14-7b=0.13/0.13 --price dolphin-2.2.1-mistral-7b=0.13/0.13 \
    --price vicuna-7b-v1.3=0.13/0.13 \
    "$mt"/raw/*.jsonl 2>"$work/mt.err"
  grep -q 'import_done kind=mtbench sessions=80 turns=160 models=10 outcomes=1600 skipped_scores=4 duplicates=6 skipped_sessions=0' "$work/mt.err"
  [ "$(grep -c 'import_skip_judgment' "$work/mt.err")" -eq 4 ]
  check "$work/mt.jsonl" 80 160 10 1600 2
  # Mean scores must match the README table (two decimals).
  python3 - "$work/mt.jsonl" <<'PY'
import json, sys
expected = {"gpt-4-1106-preview": 9.23, "claude-3-5-sonnet-20240620": 9.21,
            "gemini-1.5-flash": 8.77, "claude-3-opus-20240229": 8.68,
            "mixtral-8x7b-instruct-v0.1": 8.34, "meta-llama-3-8b-instruct": 7.77,
            "neuralmarcoro14-7b": 7.57, "dolphin-2.2.1-mistral-7b": 7.47,
            "llama-2-7b-chat": 6.41, "vicuna-7b-v1.3": 6.10}
scores = {m: [] for m in expected}
for line in open(sys.argv[1]).read().rstrip("\n").split("\n")[1:]:
    for turn in json.loads(line)["turns"]:
        for m, o in turn["outcomes"].items():
            scores[m].append(o["quality"] * 9 + 1)
for m, want in expected.items():
    got = sum(scores[m]) / len(scores[m])
    assert abs(got - want) < 0.005 + 1e-9, f"{m}: mean score {got:.3f}, README {want}"
print("ok: MT-Bench mean scores match the README")
PY
else
  echo "note: $mt or the LiteLLM prices absent, MT-Bench part skipped"
fi
echo "all import checks passed"
