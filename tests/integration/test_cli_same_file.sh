#!/usr/bin/env bash
# An output that names one of the command's inputs would destroy the input
# (the user's data, or a third-party CSV).  Every writing command refuses it
# with exit 2 and leaves the input byte for byte intact, however the path is
# spelt: the same string, "./FILE", a symbolic link, or a hard link.
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0

"$bin" synth --sessions 20 --seed 3 --out data.jsonl
cp data.jsonl pristine.jsonl
ln -s data.jsonl link.jsonl
ln data.jsonl hard.jsonl
printf ',sample_id,prompt,eval_name,a,a|total_cost,b,b|total_cost\n' > rb.csv
printf '0,x1,"[\x27hi\x27]",e,1.0,0.01,0.0,0.001\n' >> rb.csv
cp rb.csv rb-pristine.csv

# Runs a command that must fail with exit 2 and leave FILE unchanged.
expect_refused() {
  local file=$1 pristine=$2
  shift 2
  local rc=0
  "$bin" "$@" >out.txt 2>err.txt || rc=$?
  if [ "$rc" -ne 2 ]; then
    echo "FAIL: '$*' exited $rc, expected 2" >&2
    cat err.txt >&2
    failures=$((failures + 1))
  elif ! grep -q "input" err.txt; then
    echo "FAIL: '$*': the message does not say the output is an input" >&2
    cat err.txt >&2
    failures=$((failures + 1))
  fi
  if ! cmp -s "$file" "$pristine"; then
    echo "FAIL: '$*' changed $file" >&2
    failures=$((failures + 1))
    cp "$pristine" "$file"
  fi
}

for spelling in data.jsonl ./data.jsonl link.jsonl hard.jsonl "$work/data.jsonl"; do
  expect_refused data.jsonl pristine.jsonl eval --data data.jsonl --policy oracle --budget 1 \
    --json "$spelling"
  expect_refused data.jsonl pristine.jsonl eval --data data.jsonl --reference data.jsonl \
    --policy oracle --budget 1 --json "$spelling"
  expect_refused data.jsonl pristine.jsonl split --data data.jsonl --train "$spelling" \
    --val v.jsonl --test t.jsonl
  expect_refused data.jsonl pristine.jsonl split --data data.jsonl --train a.jsonl \
    --val v.jsonl --test "$spelling"
done
cp data.jsonl ref.jsonl
expect_refused ref.jsonl data.jsonl eval --data data.jsonl --reference ref.jsonl \
  --policy oracle --budget 1 --json ./ref.jsonl

# Two split parts spelt differently but naming one file.
rc=0
"$bin" split --data data.jsonl --train a.jsonl --val ./a.jsonl --test t.jsonl 2>err.txt || rc=$?
if [ "$rc" -ne 2 ]; then
  echo "FAIL: split with --train a.jsonl --val ./a.jsonl exited $rc, expected 2" >&2
  failures=$((failures + 1))
fi
rm -f a.jsonl v.jsonl t.jsonl

for spelling in rb.csv ./rb.csv "$work/rb.csv"; do
  expect_refused rb.csv rb-pristine.csv import routerbench --turns 1 --out "$spelling" rb.csv
done
printf 'prompt,a,b\nhello,1,0\n' > t.csv
cp t.csv t-pristine.csv
expect_refused t.csv t-pristine.csv import table --price a=1/1 --price b=1/1 --out ./t.csv t.csv

# A new output file and "-" are still fine.
"$bin" eval --data data.jsonl --policy oracle --budget 1 --json fresh.json >/dev/null
"$bin" eval --data data.jsonl --policy oracle --budget 1 --json - >/dev/null 2>&1
"$bin" split --data data.jsonl --train a.jsonl --val v.jsonl --test t2.jsonl

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures case(s)" >&2
  exit 1
fi
echo "ok: every command refuses to write over its input"
