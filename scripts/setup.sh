#!/usr/bin/env bash
# Installs what building rarecall needs on a fresh Debian machine: protoc (the Spark
# Connect client generates its gRPC code at build time). Java and pyspark for the
# local Spark server are installed by scripts/spark-local.sh when it first starts.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v protoc >/dev/null 2>&1; then
  echo "setup: installing protobuf-compiler (protoc)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust from https://rustup.rs and rerun" >&2
  exit 1
fi
