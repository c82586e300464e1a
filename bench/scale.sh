#!/usr/bin/env bash
# Scale runs (issue 17, point 5): `rarecall run` end to end on demo data of several
# sizes, each on a fresh local Spark Connect server with the default local settings
# (scripts/spark-local.sh: local[2], driver memory $RARECALL_SPARK_MEMORY or 6g), one
# after the other, and the exponents between sizes.
#
#   bench/scale.sh                         1M and 3M members
#   SIZES="1000000" bench/scale.sh
#
# For each size: generates `rarecall demo-data --members N --seed $SEED` (kept under
# $OUT), starts the server on $PORT, runs examples/demo.toml pointed at the data with
# c_grid [0.01, 1], balanced class weights and 3 folds (the fit grows with the rows; the
# grid only multiplies it), under /usr/bin/time, then greps the server log for
# "Java heap space" / OutOfMemoryError and stops the server. Each stage's wall time and
# the client's peak memory after it come from the run's log lines ("<stage> done in
# X s (peak memory so far Y MiB)"). Writes $OUT/results.jsonl and $OUT/table.md
# (bench/scale_table.py: stages, peak memory against the training matrix, and the
# exponents b of time ~ members^b between consecutive sizes).
#
# Environment: SIZES ("1000000 3000000"), SEED (7), PORT (15003),
# RARECALL_BIN (target/release/rarecall), RARECALL_CACHE (~/.cache/rarecall),
# OUT ($RARECALL_CACHE/bench-data/scale).
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE="${RARECALL_CACHE:-$HOME/.cache/rarecall}"
SIZES="${SIZES:-1000000 3000000}"
SEED="${SEED:-7}"
PORT="${PORT:-15003}"
RARECALL="${RARECALL_BIN:-$PWD/target/release/rarecall}"
OUT="${OUT:-$CACHE/bench-data/scale}"
log() { echo "bench: $*" >&2; }

[ -x "$RARECALL" ] || cargo build --release --locked
mkdir -p "$OUT"
export RARECALL_SPARK_PORT="$PORT"
for n in $SIZES; do
  data="$OUT/events-$n.parquet"
  if [ ! -e "$data" ]; then
    log "demo data: $n members"
    "$RARECALL" demo-data --members "$n" --seed "$SEED" --out "$data"
  fi
  run="$OUT/run-$n"
  rm -rf "$run"
  sed -e "s#^remote = .*#remote = \"sc://127.0.0.1:$PORT\"#" \
      -e "s#^path = .*#path = \"$data\"#" \
      -e "s#^c_grid = .*#c_grid = [0.01, 1]#" \
      -e "s#^\# class_weight = .*#class_weight = \"balanced\"#" \
      -e "s#^cv_folds = .*#cv_folds = 3#" \
      -e "s#^dir = .*#dir = \"$run\"#" examples/demo.toml > "$OUT/job-$n.toml"
  grep -q '^class_weight = "balanced"' "$OUT/job-$n.toml" || {
    log "examples/demo.toml changed: cannot set class_weight"; exit 1; }
  scripts/spark-local.sh start
  logs="$CACHE/spark-connect-$PORT/logs"
  before=$(cat "$logs"/*.out 2>/dev/null | grep -c "Java heap space\|OutOfMemoryError" || true)
  log "run: $n members"
  set +e
  /usr/bin/time -v "$RARECALL" run --config "$OUT/job-$n.toml" \
    > "$OUT/stdout-$n.txt" 2> "$OUT/stderr-$n.txt"
  rc=$?
  set -e
  after=$(cat "$logs"/*.out 2>/dev/null | grep -c "Java heap space\|OutOfMemoryError" || true)
  scripts/spark-local.sh stop
  python3 bench/scale_table.py row "$n" "$rc" "$((after - before))" "$OUT/stderr-$n.txt" "$run" \
    >> "$OUT/results.jsonl"
  log "members $n: exit $rc, heap errors in the server log: $((after - before))"
done
python3 bench/scale_table.py table "$OUT/results.jsonl" > "$OUT/table.md"
cat "$OUT/table.md"
