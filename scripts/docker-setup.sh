#!/usr/bin/env bash
# Installs what the Docker pass (scripts/test-docker.sh) needs on a fresh Debian
# machine, each only when missing: the Docker engine (Debian's docker.io, which
# brings dockerd, containerd and runc) unless a daemon already answers, and a compose
# command (Debian's docker-compose 1.29) unless `docker-compose` or the
# `docker compose` plugin exists. debootstrap, for the base image where no image
# registry is reachable, is installed by scripts/docker-base-image.sh when it needs it.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
updated=0
install() {
  echo "docker-setup: installing $*" >&2
  if [ "$updated" = 0 ]; then as_root apt-get update -qq; updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; then
  install docker.io
fi
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  install docker-compose
fi
