#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from
# the seed corpus in tests/fuzz/corpus/<target>.  New inputs go to a scratch
# folder, so the committed corpus only changes by hand.  Fails on any crash,
# leak or sanitizer report.
set -euo pipefail
build_dir=${1:?usage: run-fuzz.sh BUILD_DIR SECONDS}
seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)

status=0
found=0
for target in "$build_dir"/tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  found=$((found + 1))
  name=$(basename "$target")
  scratch=$(mktemp -d)
  seed_dirs=()
  if [ -d "$root/tests/fuzz/corpus/$name" ]; then
    seed_dirs=("$root/tests/fuzz/corpus/$name")
  fi
  echo "run-fuzz: $name for ${seconds}s" >&2
  if ! "$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 "$scratch" "${seed_dirs[@]}" \
      > "$scratch.log" 2>&1; then
    tail -n 60 "$scratch.log" >&2
    echo "run-fuzz: $name FAILED (log above)" >&2
    status=1
  else
    grep -E '^(stat::number_of_executed_units|Done)' "$scratch.log" >&2 || true
  fi
  rm -rf "$scratch" "$scratch.log"
done
if [ "$found" -eq 0 ]; then
  echo "run-fuzz: no fuzz_* target in $build_dir/tests/fuzz; configure with -DSEQROUTE_FUZZ=ON" >&2
  exit 1
fi
exit $status
