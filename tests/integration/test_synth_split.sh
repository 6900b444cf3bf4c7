#!/usr/bin/env bash
# The generator and splitter through the command line: same seed, same
# bytes; a split is complete, disjoint and sized by the fractions; and the
# tool rejects bad options with exit 2 and bad data with exit 1.
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" synth --sessions 300 --seed 11 --out "$work/a.jsonl"
"$bin" synth --sessions 300 --seed 11 --out "$work/b.jsonl"
"$bin" synth --sessions 300 --seed 12 --out "$work/c.jsonl"
cmp -s "$work/a.jsonl" "$work/b.jsonl" || { echo "FAIL: same seed gave different files" >&2; exit 1; }
if cmp -s "$work/a.jsonl" "$work/c.jsonl"; then
  echo "FAIL: different seeds gave the same file" >&2
  exit 1
fi

"$bin" split --data "$work/a.jsonl" --fractions 0.7,0.2,0.1 --seed 5 \
  --train "$work/train.jsonl" --val "$work/val.jsonl" --test "$work/test.jsonl"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def ids(name):
    with open(f"{work}/{name}.jsonl", encoding="utf-8") as f:
        lines = f.read().split("\n")
    header = json.loads(lines[0])
    assert header["seqroute_sessions"] == 1
    return [json.loads(line)["id"] for line in lines[1:] if line]
everything = ids("a")
parts = {name: ids(name) for name in ("train", "val", "test")}
assert [len(parts[p]) for p in ("train", "val", "test")] == [210, 60, 30], \
    {p: len(v) for p, v in parts.items()}
union = set().union(*parts.values())
assert union == set(everything), "split lost or invented sessions"
assert sum(len(v) for v in parts.values()) == len(everything), "a session is in two parts"
print("ok: 300 sessions split 210/60/30, disjoint and complete")
PY

# Usage errors exit 2, data errors exit 1.
set +e
"$bin" split --data "$work/a.jsonl" --fractions 0.7,0.2 --train "$work/x" --val "$work/y" \
  --test "$work/z" 2> "$work/err.txt"
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "FAIL: fractions not summing to 1 exited $rc, expected 2" >&2; exit 1; }

printf '{"seqroute_sessions": 1, "models": [{"name": "m", "cost_per_call": 1}]}\n{"id": "s1", "turns": [{"outcomes": {"m": {"quality": 2, "cost": 1}}}]}\n' \
  > "$work/bad.jsonl"
set +e
"$bin" split --data "$work/bad.jsonl" --train "$work/x" --val "$work/y" --test "$work/z" \
  2> "$work/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "FAIL: invalid data exited $rc, expected 1" >&2; exit 1; }
grep -q "bad.jsonl:2" "$work/err.txt" || { echo "FAIL: message lacks file:line" >&2; cat "$work/err.txt" >&2; exit 1; }
grep -q "quality" "$work/err.txt" || { echo "FAIL: message lacks the field" >&2; exit 1; }
echo "ok: exit codes and messages"
