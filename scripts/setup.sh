#!/usr/bin/env bash
# Installs what building and testing rarecall needs on a fresh Debian machine: protoc
# (the Spark Connect client generates its gRPC code at build time), npm (azurite) and
# Chromium (the report test).
# Java and pyspark for the local Spark server are installed by scripts/spark-local.sh,
# moto and azurite by scripts/object-stores.sh, when they first start.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v protoc >/dev/null 2>&1; then
  echo "setup: installing protobuf-compiler (protoc)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi
# npm installs azurite (the Azure Blob emulator of the destination tests).
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs and npm" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
# Headless Chromium opens the run report in the integration tests (tests/report.rs).
if [ ! -x /usr/lib/chromium/chromium ]; then
  echo "setup: installing chromium" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust from https://rustup.rs and rerun" >&2
  exit 1
fi
