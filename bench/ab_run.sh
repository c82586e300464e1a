#!/usr/bin/env bash
# Two rarecall binaries side by side on one data set: PAIRS alternating pairs (the
# order flips every pair, so a machine that gets busier or quieter favours neither),
# each a whole `rarecall run` with a short C grid. Prints one line per run with the
# wall time and the `pull features` and `train` stages, then the ratios new/old pair
# by pair. Quote the median and range of the ratios, not single times: these
# machines are shared and noisy.
#
# Usage: bench/ab_run.sh OLD_BINARY NEW_BINARY DATA.parquet [PAIRS]
# Needs a Spark Connect server at sc://127.0.0.1:${RARECALL_SPARK_PORT:-15002}.
set -euo pipefail
cd "$(dirname "$0")/.."
old="$(realpath "$1")"; new="$(realpath "$2")"; data="$(realpath "$3")"; pairs="${4:-4}"
work="$(mktemp -d /tmp/rarecall-ab.XXXXXX)"
remote="sc://127.0.0.1:${RARECALL_SPARK_PORT:-15002}"
stage() { grep "$1 done in" "$2" | grep -o '[0-9.]* s$' | tr -d ' s' | tail -1; }
# Training's seconds: "encode training rows" + "train (C grid, refit)", or the one
# "train (encode, C grid, refit)" stage of binaries before the split.
train_s() { grep -E "(encode training rows|train \(.*\)) done in" "$1" | grep -o '[0-9.]* s$' | tr -d ' s' | paste -sd+ | bc; }
for i in $(seq 1 "$pairs"); do
  order="old new"; [ $((i % 2)) = 0 ] && order="new old"
  for side in $order; do
    bin="${!side}"
    start=$(date +%s.%N)
    "$bin" run --config examples/demo.toml --remote "$remote" --source "$data" \
      --out "$work/$side-$i" --c-grid 0.01,1 >"$work/$side-$i.log" 2>&1
    end=$(date +%s.%N)
    echo "$i $side total $(echo "$end - $start" | bc) pull $(stage 'pull features' "$work/$side-$i.log") train $(train_s "$work/$side-$i.log")"
  done
done | tee "$work/times"
python3 - "$work/times" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    runs[(f[0], f[1])] = {"total": float(f[3]), "pull": float(f[5]), "train": float(f[7])}
for key in ("total", "pull", "train"):
    r = [runs[(i, "new")][key] / runs[(i, "old")][key] for i in sorted({i for i, _ in runs})]
    print(f"{key:>5} new/old: median {statistics.median(r):.3f}, range {min(r):.3f}-{max(r):.3f} ({len(r)} pairs)")
PY
rm -rf "$work"
