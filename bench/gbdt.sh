#!/usr/bin/env bash
# The trees' fit time, side by side: forust (rarecall's challenger) against
# scikit-learn's HistGradientBoostingClassifier on the same encoded training matrix
# and loss weights of a demo run (bench_tool prepare), same settings, alternating
# pairs; then the comparison table of a `rarecall run` with the challenger.
#
#   bench/gbdt.sh                      100k members, 3 pairs, 1 thread
#   MEMBERS=200000 REPS=5 THREADS=2 bench/gbdt.sh
#
# Needs the Spark Connect server of scripts/spark-local.sh and the scikit-learn
# virtualenv that bench/run.sh installs (~/.cache/rarecall/venv-sklearn).
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE="${RARECALL_CACHE:-$HOME/.cache/rarecall}"
WORK="$CACHE/bench-data"
MEMBERS="${MEMBERS:-100000}"
REPS="${REPS:-3}"
THREADS="${THREADS:-1}"
SKVENV="$CACHE/venv-sklearn"
log() { echo "bench/gbdt: $*" >&2; }

. bench/sklearn-venv.sh # the script has cd-ed to the repository root
cargo build --release --bin rarecall --example bench_tool
mkdir -p "$WORK"
SRC="$WORK/events-$MEMBERS.parquet"
[ -f "$SRC" ] || target/release/rarecall demo-data --members "$MEMBERS" --out "$SRC"
D="$WORK/gbdt-w$MEMBERS"
[ -f "$D/x.npy" ] || target/release/examples/bench_tool prepare --config examples/demo.toml --source "$SRC" --dir "$D" >/dev/null
log "fit time: forust vs scikit-learn, $REPS pairs, $THREADS thread(s)"
OMP_NUM_THREADS="$THREADS" "$SKVENV/bin/python" bench/gbdt_fit.py --dir "$D" --reps "$REPS" --threads "$THREADS"
