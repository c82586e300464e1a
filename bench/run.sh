#!/usr/bin/env bash
# Benchmarks of rarecall against the notebook stack (PySpark Connect, NumPy,
# scikit-learn), side by side on the same data, as BENCHMARKS.md reports them.
#
#   bench/run.sh                 everything (about 45 minutes on 2 cores)
#   REPS=3 E2E_REPS=1 bench/run.sh   quicker, fewer repetitions
#
# Installs what it needs into ~/.cache/rarecall (protoc, Java 17 and pyspark through
# the project scripts; a scikit-learn virtualenv), starts the local Spark Connect
# server (and leaves it running), builds release, writes demo data, then runs:
#   stream      memory bandwidth of this machine (the physical limit)
#   pull        Arrow pull of the sampled feature table: rarecall vs PySpark toArrow()
#   encode      rarecall's encoders vs NumPy multi-hot + sklearn TargetEncoder + StandardScaler
#   fit         C grid + grouped CV + refit vs sklearn LogisticRegression(lbfgs)
#   threshold   PR curve + floor rule vs sklearn precision_recall_curve + NumPy
#   e2e         `rarecall run` on 50k, 200k and 1M members: stages, peak RSS, growth
# and prints the Markdown tables (also in $WORK/tables.md).
#
# Environment: REPS (side-by-side repetitions, default 5), E2E_REPS (default 3),
# MEMBERS (the comparison size, default 200000), E2E_MEMBERS (default
# 50000,200000,1000000), RARECALL_CACHE (default ~/.cache/rarecall).
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE="${RARECALL_CACHE:-$HOME/.cache/rarecall}"
WORK="$CACHE/bench-data"
REPS="${REPS:-5}"
E2E_REPS="${E2E_REPS:-3}"
MEMBERS="${MEMBERS:-200000}"
E2E_MEMBERS="${E2E_MEMBERS:-50000,200000,1000000}"
REMOTE="sc://127.0.0.1:15002"
CONFIG="examples/demo.toml"
SKVENV="$CACHE/venv-sklearn"
log() { echo "bench: $*" >&2; }

scripts/setup.sh
scripts/spark-local.sh start
PYSPARK_PY="$(ls -d "$CACHE"/venv-pyspark-*/bin/python | tail -1)"
"$PYSPARK_PY" -c 'import pyarrow' 2>/dev/null || "$PYSPARK_PY" -m pip install -q pyarrow

. bench/sklearn-venv.sh # the script has cd-ed to the repository root
command -v taskset >/dev/null || { log "taskset (util-linux) is needed"; exit 1; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

log "building release"
cargo build --release --bin rarecall --example bench_tool
export RARECALL_BENCH_TOOL="$PWD/target/release/examples/bench_tool"
export RARECALL_BIN="$PWD/target/release/rarecall"

mkdir -p "$WORK"
for m in ${E2E_MEMBERS//,/ } "$MEMBERS"; do
  [ -f "$WORK/events-$m.parquet" ] || target/release/rarecall demo-data --members "$m" --out "$WORK/events-$m.parquet"
done

D="$WORK/w$MEMBERS"
log "Spark features for $MEMBERS members -> $D (materialized table, training matrix)"
"$RARECALL_BENCH_TOOL" prepare --config "$CONFIG" --source "$WORK/events-$MEMBERS.parquet" --dir "$D" >/dev/null

# numpy/OpenBLAS: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when this workplace sets them,
# force an old kernel; the scikit-learn side runs without them (the report records
# which kernel threadpoolctl saw).
SK=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$SKVENV/bin/python" bench/compare.py)
"${SK[@]}" stream --dir "$D"
"$PYSPARK_PY" bench/compare.py pull --dir "$D" --reps "$REPS" --remote "$REMOTE" --config "$CONFIG"
"${SK[@]}" encode --dir "$D" --reps "$REPS" --config "$CONFIG"
"${SK[@]}" fit --dir "$D" --reps "$REPS"
"${SK[@]}" threshold --dir "$D" --reps "$REPS"
"${SK[@]}" e2e-run --dir "$D" --reps "$E2E_REPS" --members "$E2E_MEMBERS" --data "$WORK" --config "$CONFIG"

{
  echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB;" \
       "rustc $(rustc --version | cut -d' ' -f2); Spark $("$PYSPARK_PY" -c 'import pyspark; print(pyspark.__version__)');" \
       "scikit-learn $("$SKVENV/bin/python" -c 'import sklearn; print(sklearn.__version__)')."
  echo
  "${SK[@]}" report --dir "$D"
} | tee "$WORK/tables.md"
log "tables in $WORK/tables.md, raw results in $D/results/"
