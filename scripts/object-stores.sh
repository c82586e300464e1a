#!/usr/bin/env bash
# Real local object stores for the destination tests: S3 through moto in server mode
# (PyPI) and Azure Blob through azurite (npm), installed into the cache folder outside
# the clone, bound to 127.0.0.1, with the bucket / container the tests write to.
#
#   scripts/object-stores.sh start|stop|status|env
#
# `env` prints the variables the tests read (RARECALL_TEST_S3_ENDPOINT,
# RARECALL_TEST_AZURITE_URL).
set -euo pipefail

CACHE="${RARECALL_CACHE:-$HOME/.cache/rarecall}"
VENV="$CACHE/venv-moto"
AZ="$CACHE/azurite"
RUN="$CACHE/object-stores"
S3_PORT="${RARECALL_MOTO_PORT:-15010}"
AZ_PORT="${RARECALL_AZURITE_PORT:-15011}"
BUCKET=rarecall-test
CONTAINER=rarecall-test
# The well-known azurite development account (public, documented by Microsoft).
AZ_ACCOUNT=devstoreaccount1
AZ_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

log() { echo "object-stores: $*" >&2; }

install() {
  mkdir -p "$CACHE" "$RUN"
  local spec=("moto[server]==5.2.5" "boto3" "azure-storage-blob")
  local stamp="$VENV/.ready-$(echo "${spec[*]}" | cksum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ]; then
    log "installing moto server and azure-storage-blob into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${spec[@]}"
    touch "$stamp"
  fi
  if [ ! -x "$AZ/node_modules/.bin/azurite-blob" ]; then
    command -v npm >/dev/null || { log "npm is needed for azurite (apt-get install npm)"; exit 1; }
    log "installing azurite into $AZ"
    npm install --silent --no-audit --no-fund --prefix "$AZ" azurite@3.37.0 >/dev/null
  fi
}

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_port() {
  local port=$1 name=$2 deadline=$((SECONDS + 60))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then log "$name did not open port $port; see $RUN/$name.log"; exit 1; fi
    sleep 0.5
  done
}

start() {
  install
  if ! alive moto; then
    nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$RUN/moto.log" 2>&1 &
    echo $! >"$RUN/moto.pid"
  fi
  if ! alive azurite; then
    mkdir -p "$RUN/azurite-data"
    nohup "$AZ/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" \
      --location "$RUN/azurite-data" --skipApiVersionCheck --silent >"$RUN/azurite.log" 2>&1 &
    echo $! >"$RUN/azurite.pid"
  fi
  wait_port "$S3_PORT" moto
  wait_port "$AZ_PORT" azurite
  "$VENV/bin/python" - "$S3_PORT" "$AZ_PORT" "$BUCKET" "$CONTAINER" "$AZ_ACCOUNT" "$AZ_KEY" <<'PY'
import sys
s3_port, az_port, bucket, container, account, key = sys.argv[1:]
import boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}", region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=bucket)
from azure.storage.blob import BlobServiceClient
conn = (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{az_port}/{account};")
svc = BlobServiceClient.from_connection_string(conn)
if not any(c.name == container for c in svc.list_containers()):
    svc.create_container(container)
PY
  log "ready: s3 http://127.0.0.1:$S3_PORT (bucket $BUCKET), azurite http://127.0.0.1:$AZ_PORT (container $CONTAINER)"
}

stop() {
  for n in moto azurite; do
    if alive "$n"; then kill "$(cat "$RUN/$n.pid")" || true; fi
    rm -f "$RUN/$n.pid"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if alive moto && alive azurite; then echo running; else echo stopped; exit 3; fi ;;
  env)
    echo "RARECALL_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
    echo "RARECALL_TEST_AZURITE_URL=http://127.0.0.1:$AZ_PORT"
    ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
