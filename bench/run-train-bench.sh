#!/usr/bin/env bash
# Runs the training-throughput benchmark of seqroute (bench_train) and the
# same update in PyTorch (bench/torch_cql.py) side by side, and prints one
# table with the ratio seqroute / PyTorch per (batch, threads) and against
# PyTorch's best thread setting per batch.
#
# The two programs alternate setting by setting, so background load on the
# machine affects both sides of each ratio alike.  PyTorch runs with
# OMP_WAIT_POLICY=PASSIVE unless set otherwise: its OpenMP threads then
# sleep instead of spinning while OpenBLAS works, which on a 2-core machine
# makes its 2-thread runs several times faster (its best case is compared).
#
# Usage: bench/run-train-bench.sh [BUILD_DIR]
#   BUILD_DIR   CMake build folder holding bench_train (default: build)
# Environment: BATCHES (default 32,256), THREADS (1,2), STEPS (200),
#   REPS (5), WARMUP (30), PYTHON (a python3 that can import torch).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
batches=${BATCHES:-32,256}
threads=${THREADS:-1,2}
steps=${STEPS:-200}
reps=${REPS:-5}
warmup=${WARMUP:-30}

bench="$build/bench_train"
if [[ ! -x "$bench" ]]; then
    echo "run-train-bench.sh: $bench not found; build it first:" >&2
    echo "  cmake -S . -B $build -G Ninja && cmake --build $build --target bench_train" >&2
    exit 2
fi

# Debian's python3-torch installs into the system python, which may not be
# the first python3 on PATH.
python=${PYTHON:-}
if [[ -z "$python" ]]; then
    for candidate in python3 /usr/bin/python3; do
        if "$candidate" -c 'import torch' 2>/dev/null; then
            python=$candidate
            break
        fi
    done
fi
if [[ -z "$python" ]]; then
    echo "run-train-bench.sh: no python3 can import torch; install python3-torch" \
         "or set PYTHON" >&2
    exit 2
fi

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
     "$(nproc) logical CPUs"
echo "openblas: $(pkg-config --modversion openblas 2>/dev/null || echo unknown)," \
     "torch: $("$python" -c 'import torch; print(torch.__version__)')"
echo "settings: steps=$steps reps=$reps warmup=$warmup (median of reps)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

results=$(mktemp)
trap 'rm -f "$results"' EXIT
common=(--steps "$steps" --reps "$reps" --warmup "$warmup")
IFS=, read -r -a batch_list <<< "$batches"
IFS=, read -r -a thread_list <<< "$threads"
for n in "${batch_list[@]}"; do
    for t in "${thread_list[@]}"; do
        "$bench" --batch "$n" --threads "$t" "${common[@]}" >> "$results"
        OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} \
            "$python" "$here/torch_cql.py" --batch "$n" --threads "$t" "${common[@]}" >> "$results"
    done
done

# Lines look like: impl=seqroute batch=32 threads=1 steps_per_s=700.2 samples_per_s=22406
awk '
function field(name,   i, kv) {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return ""
}
{
    key = field("batch") " " field("threads")
    rate[field("impl"), key] = field("steps_per_s")
    if (!(key in seen)) { seen[key] = 1; order[++count] = key }
    b = field("batch")
    if (field("impl") == "pytorch" && field("steps_per_s") + 0 > best_torch[b] + 0) {
        best_torch[b] = field("steps_per_s"); best_torch_threads[b] = field("threads")
    }
    if (field("impl") == "seqroute" && field("steps_per_s") + 0 > best_ours[b] + 0) {
        best_ours[b] = field("steps_per_s"); best_ours_threads[b] = field("threads")
    }
    if (!(b in batch_seen)) { batch_seen[b] = 1; batch_order[++batch_count] = b }
}
END {
    printf "%6s %8s %16s %16s %16s %8s\n", "batch", "threads", "seqroute step/s",
           "pytorch step/s", "seqroute samp/s", "ratio"
    for (i = 1; i <= count; i++) {
        split(order[i], parts, " ")
        ours = rate["seqroute", order[i]]; theirs = rate["pytorch", order[i]]
        printf "%6s %8s %16.1f %16.1f %16.0f %7.2fx\n", parts[1], parts[2], ours, theirs,
               ours * parts[1], ours / theirs
    }
    print ""
    printf "%6s %22s %22s %8s %6s\n", "batch", "seqroute best (thr)", "pytorch best (thr)",
           "ratio", "goal"
    for (i = 1; i <= batch_count; i++) {
        b = batch_order[i]
        goal = (b + 0 <= 32) ? 3.0 : 1.5
        printf "%6s %16.1f (%s) %16.1f (%s) %7.2fx %5.1fx\n", b, best_ours[b],
               best_ours_threads[b], best_torch[b], best_torch_threads[b],
               best_ours[b] / best_torch[b], goal
    }
}' "$results"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
