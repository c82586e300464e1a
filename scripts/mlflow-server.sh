#!/usr/bin/env bash
# A real local MLflow tracking server for the tracking tests (issue 13): mlflow 3.17.2
# from PyPI (the full package; mlflow-skinny has no flask and cannot serve), installed
# into the cache folder outside the clone, bound to 127.0.0.1, with a SQLite backend
# store and the artifact proxy (--serve-artifacts), as an OSS deployment runs it.
#
#   scripts/mlflow-server.sh start|stop|status|env
#
# `env` prints the variable the tests read (RARECALL_TEST_MLFLOW_URI). The port is
# RARECALL_MLFLOW_PORT (default 15012). The server takes about 15 s to start.
set -euo pipefail

CACHE="${RARECALL_CACHE:-$HOME/.cache/rarecall}"
VENV="$CACHE/venv-mlflow"
RUN="$CACHE/mlflow-server"
PORT="${RARECALL_MLFLOW_PORT:-15012}"

log() { echo "mlflow-server: $*" >&2; }

install() {
  mkdir -p "$CACHE" "$RUN"
  local spec=("mlflow==3.17.2")
  local stamp="$VENV/.ready-$(echo "${spec[*]}" | cksum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ]; then
    log "installing ${spec[*]} into $VENV (a few minutes the first time)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${spec[@]}"
    touch "$stamp"
  fi
}

alive() { [ -f "$RUN/mlflow.pid" ] && kill -0 "$(cat "$RUN/mlflow.pid")" 2>/dev/null; }

start() {
  install
  if ! alive; then
    # A fresh store each start: the tests create their own experiments and read back
    # only what they wrote, so nothing depends on an earlier session's runs.
    rm -rf "$RUN/data"
    mkdir -p "$RUN/data/art"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid nohup "$VENV/bin/mlflow" server \
      --host 127.0.0.1 --port "$PORT" --workers 1 \
      --backend-store-uri "sqlite:///$RUN/data/mlflow.db" \
      --serve-artifacts --artifacts-destination "$RUN/data/art" >"$RUN/mlflow.log" 2>&1 &
    echo $! >"$RUN/mlflow.pid"
  fi
  # Ready when the REST API answers, not merely when the port opens.
  local deadline=$((SECONDS + 120))
  until curl -fsS "http://127.0.0.1:$PORT/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default" >/dev/null 2>&1; do
    if ! alive; then log "the server exited; see $RUN/mlflow.log"; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "no answer on port $PORT after 120 s; see $RUN/mlflow.log"; exit 1; fi
    sleep 1
  done
  log "ready: http://127.0.0.1:$PORT"
}

stop() {
  if alive; then
    # setsid made the server its own process group: gunicorn/uvicorn workers go with it.
    kill -- "-$(cat "$RUN/mlflow.pid")" 2>/dev/null || kill "$(cat "$RUN/mlflow.pid")" || true
  fi
  rm -f "$RUN/mlflow.pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if alive; then echo running; else echo stopped; exit 3; fi ;;
  env) echo "RARECALL_TEST_MLFLOW_URI=http://127.0.0.1:$PORT" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
