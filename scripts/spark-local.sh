#!/usr/bin/env bash
# Local Spark Connect server for development, tests and the demo.
#
#   scripts/spark-local.sh start|stop|status|env
#
# Installs pinned pyspark (which ships the Spark Connect server jar) into a virtualenv
# in a cache folder outside the clone, so fresh clones and repeated CI runs reuse it,
# then runs org.apache.spark.sql.connect.service.SparkConnectServer on 127.0.0.1 with
# Java 17. Idempotent: `start` on a running server only checks it answers; `stop`
# stops only the process whose pid file this script wrote.
#
# The Spark settings it shares with the Docker image (local[2], UTC session time zone,
# shuffle partitions, 16 MB result streams that exercise the client's reattach path)
# are in docker/spark-connect/spark-connect.conf; this script adds its port, bind
# address, memory and scratch folders, and the parallel garbage collector (throughput
# over pause times for batch work: a run at 100k members spent 10-18 % less time in
# Spark than with the default G1, BENCHMARKS.md "The fit preconditioned"). With Docker, `docker compose up` runs the same
# server (README: Spark in Docker).
#
# Environment:
#   RARECALL_SPARK_PORT   port (default 15002)
#   RARECALL_CACHE        cache folder (default ~/.cache/rarecall)
#   RARECALL_SPARK_MEMORY driver heap (default 6g: fits a 24 GB machine beside the client
#                         and a second server; 3g ran out on a 480 MB collect, and the
#                         interaction aggregation of 1M+ members wants more than 4g)
#   RARECALL_SPARK_CORES  N of local[N] (default: every core of the machine; the local
#                         server is the one process doing the heavy work while it runs)
#   RARECALL_SPARK_UI_PORT when set, the Spark UI and its status REST API on that port
#                         (bench/spark_profile.py reads stage and SQL metrics there);
#                         off by default, as in the shared settings
set -euo pipefail

PYSPARK_VERSION="4.3.0"
PORT="${RARECALL_SPARK_PORT:-15002}"
CACHE="${RARECALL_CACHE:-$HOME/.cache/rarecall}"
VENV="$CACHE/venv-pyspark-$PYSPARK_VERSION"
RUN_DIR="$CACHE/spark-connect-$PORT"
MEMORY="${RARECALL_SPARK_MEMORY:-6g}"
CORES="${RARECALL_SPARK_CORES:-$(nproc)}"
UI_PORT="${RARECALL_SPARK_UI_PORT:-}"
SETTINGS="$(cd "$(dirname "$0")/.." && pwd)/docker/spark-connect/spark-connect.conf"
PY="$VENV/bin/python"

log() { echo "spark-local: $*" >&2; }

ensure_java() {
  if java -version 2>&1 | grep -q 'version "17'; then return; fi
  if [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]; then
    export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
    export PATH="$JAVA_HOME/bin:$PATH"
    return
  fi
  log "installing Java 17 (openjdk-17-jre-headless)"
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
}

# The stamp names the install spec, so changing the spec reinstalls into the cache.
INSTALL_SPEC=("pyspark[connect]==$PYSPARK_VERSION" "pandas<3")
STAMP="$VENV/.rarecall-ready-$(echo "${INSTALL_SPEC[*]}" | cksum | cut -d' ' -f1)"

ensure_pyspark() {
  if [ -f "$STAMP" ]; then return; fi
  log "installing pyspark[connect]==$PYSPARK_VERSION into $VENV (one time, about a minute)"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${INSTALL_SPEC[@]}"
  touch "$STAMP"
}

spark_home() {
  "$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'
}

pid_file() { echo "$RUN_DIR/spark-rarecall-org.apache.spark.sql.connect.service.SparkConnectServer-1.pid"; }

is_running() {
  local pf; pf="$(pid_file)"
  [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

# Answers a real query through the Python Connect client: the port opens seconds
# before the server can plan anything, and the first query pays the JIT warm-up.
answers_query() {
  "$PY" - "$PORT" <<'EOF' >/dev/null 2>&1
import sys
from pyspark.sql import SparkSession
s = SparkSession.builder.remote(f"sc://127.0.0.1:{sys.argv[1]}").getOrCreate()
assert s.sql("select 1 as x").collect()[0].x == 1
EOF
}

start() {
  ensure_java
  ensure_pyspark
  mkdir -p "$RUN_DIR/logs"
  if is_running; then
    log "already running (pid $(cat "$(pid_file)")) on port $PORT"
  else
    local home; home="$(spark_home)"
    local ui=(--conf spark.ui.enabled=false)
    if [ -n "$UI_PORT" ]; then ui=(--conf spark.ui.enabled=true --conf spark.ui.port="$UI_PORT"); fi
    log "starting Spark Connect $PYSPARK_VERSION on 127.0.0.1:$PORT, local[$CORES], driver $MEMORY (logs in $RUN_DIR/logs)"
    SPARK_HOME="$home" SPARK_PID_DIR="$RUN_DIR" SPARK_LOG_DIR="$RUN_DIR/logs" \
      SPARK_IDENT_STRING=rarecall SPARK_LOCAL_IP=127.0.0.1 \
      "$home/sbin/start-connect-server.sh" \
      --properties-file "$SETTINGS" \
      --driver-memory "$MEMORY" \
      --master "local[$CORES]" \
      "${ui[@]}" \
      --conf spark.connect.grpc.binding.address=127.0.0.1 \
      --conf spark.connect.grpc.binding.port="$PORT" \
      --conf spark.sql.warehouse.dir="$RUN_DIR/warehouse" \
      --conf "spark.driver.extraJavaOptions=-Djava.io.tmpdir=$RUN_DIR/tmp -Dderby.system.home=$RUN_DIR -XX:+UseParallelGC" \
      >/dev/null
    mkdir -p "$RUN_DIR/tmp"
  fi
  local deadline=$((SECONDS + 180))
  until answers_query; do
    if ! is_running; then
      log "server process exited; last log lines:"
      tail -n 30 "$RUN_DIR"/logs/*.out >&2 || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "server did not answer a query within 180 s; see $RUN_DIR/logs"
      exit 1
    fi
    sleep 2
  done
  log "ready: sc://127.0.0.1:$PORT"
}

stop() {
  if ! is_running; then
    log "not running (no live process from $(pid_file))"
    return 0
  fi
  local home; home="$(spark_home)"
  SPARK_HOME="$home" SPARK_PID_DIR="$RUN_DIR" SPARK_LOG_DIR="$RUN_DIR/logs" \
    SPARK_IDENT_STRING=rarecall "$home/sbin/stop-connect-server.sh" >/dev/null || true
  log "stopped"
}

status() {
  if is_running; then
    echo "running pid $(cat "$(pid_file)") sc://127.0.0.1:$PORT"
  else
    echo "stopped"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) ensure_pyspark; echo "SPARK_REMOTE=sc://127.0.0.1:$PORT"; echo "PYSPARK_PYTHON=$PY" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
