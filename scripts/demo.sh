#!/usr/bin/env bash
# The main job on built-in demo data: installs what is missing, starts the local Spark
# Connect server, generates demo events (MEMBERS, default 200000) once, runs
# `rarecall run --config examples/demo.toml` (extra arguments are passed on), and
# stops the server if this script started it (KEEP_SPARK=1 keeps it running).
set -euo pipefail
cd "$(dirname "$0")/.."

MEMBERS="${MEMBERS:-200000}"
scripts/setup.sh

started=0
if ! scripts/spark-local.sh status >/dev/null 2>&1; then started=1; fi
cleanup() {
  if [ "$started" = 1 ] && [ "${KEEP_SPARK:-0}" != 1 ]; then scripts/spark-local.sh stop || true; fi
}
trap cleanup EXIT
scripts/spark-local.sh start

cargo build --release --locked
data="data/demo/events-$MEMBERS.parquet"
if [ ! -f "$data" ]; then
  target/release/rarecall demo-data --members "$MEMBERS" --out "$data"
fi
target/release/rarecall run --config examples/demo.toml --source "$data" "$@"
