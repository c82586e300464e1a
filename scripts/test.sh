#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, starts the local
# Spark Connect server, the local object stores (S3 via moto, Azure Blob via
# azurite) and a local MLflow tracking server (scripts/mlflow-server.sh) — and stops
# them again if this script started them — checks format and
# lints, and runs every unit and integration test against the real servers.
# Everything covers the workspace (rarecall and crates/volumes-store). The tests need
# rarecall's `fault-injection` feature (the hook tests/destinations.rs kills a run
# with); clippy runs with and without it, so both builds stay clean.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

started=0
stores_started=0
mlflow_started=0
if ! scripts/spark-local.sh status >/dev/null 2>&1; then started=1; fi
if ! scripts/object-stores.sh status >/dev/null 2>&1; then stores_started=1; fi
if ! scripts/mlflow-server.sh status >/dev/null 2>&1; then mlflow_started=1; fi
cleanup() {
  if [ "$started" = 1 ]; then scripts/spark-local.sh stop || true; fi
  if [ "$stores_started" = 1 ]; then scripts/object-stores.sh stop || true; fi
  if [ "$mlflow_started" = 1 ]; then scripts/mlflow-server.sh stop || true; fi
}
trap cleanup EXIT
scripts/spark-local.sh start
scripts/object-stores.sh start
eval "$(scripts/object-stores.sh env | sed 's/^/export /')"
# The MLflow tracking server of tests/tracking.rs (issue 13).
scripts/mlflow-server.sh start
eval "$(scripts/mlflow-server.sh env | sed 's/^/export /')"

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked --features fault-injection -- -D warnings
cargo clippy --workspace --all-targets --locked -- -D warnings
python3 scripts/check_imports.py
python3 scripts/check_sizes.py
log="$(mktemp)"
status=0
RARECALL_TEST_REMOTE="sc://127.0.0.1:${RARECALL_SPARK_PORT:-15002}" cargo test --workspace --locked --features fault-injection 2>&1 | tee "$log" || status=$?

# The Docker pass (issue 16): the Spark tests again, against the compose service built
# from docker/spark-connect/Dockerfile. The local servers stop first, to free memory.
# Its server listens on RARECALL_DOCKER_SPARK_PORT (default 15004), so a local server a
# developer keeps running on 15002 is no obstacle. RARECALL_DOCKER_TESTS=0 leaves the
# pass out on a developer's machine; CI always runs it.
cleanup
started=0
stores_started=0
mlflow_started=0
if [ "${RARECALL_DOCKER_TESTS:-1}" != 0 ]; then
  RARECALL_SPARK_PORT="${RARECALL_DOCKER_SPARK_PORT:-15004}" scripts/test-docker.sh 2>&1 | tee -a "$log" || status=$?
fi
# One closing line over every test binary (the Docker pass's tests included).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "rarecall: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
