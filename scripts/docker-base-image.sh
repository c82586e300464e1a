#!/usr/bin/env bash
# Makes the base image `debian:bookworm-slim` available to the local Docker engine
# without an image registry: when the tag is missing, builds the root file system
# with `debootstrap --variant=minbase bookworm` from Debian's package mirror, strips
# it the way the official slim image is stripped (no docs, man pages, info or
# locales, and a dpkg filter that keeps them out of later installs; apt configured
# as in the official image), and `docker import`s it under that tag. When the tag
# exists (pulled from the hub, or imported earlier) it does nothing, so
# docker/spark-connect/Dockerfile builds unchanged on both.
#
# Needs root (debootstrap) and a running Docker engine. About a minute.
#
# Environment:
#   RARECALL_DEBIAN_MIRROR  mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail

TAG="debian:bookworm-slim"
MIRROR="${RARECALL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { echo "docker-base-image: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG present"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

root="$(mktemp -d "${TMPDIR:-/tmp}/rarecall-bookworm-slim.XXXXXX")"
cleanup() { as_root rm -rf --one-file-system "$root"; }
trap cleanup EXIT

start=$SECONDS
log "debootstrap --variant=minbase bookworm from $MIRROR (about a minute)"
as_root debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || {
  tail -n 30 "$root.log" >&2
  rm -f "$root.log"
  exit 1
}
rm -f "$root.log"

# What the official image's build (debuerreotype) writes: dpkg and apt settings for
# containers, the slim filter, and the three suites as a deb822 source list.
as_root tee "$root/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'EOF'
# Docs, man pages, info pages and translations stay out of the slim image.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
echo "force-unsafe-io" | as_root tee "$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup" >/dev/null
as_root tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::GzipIndexes "true"; Acquire::CompressionTypes::Order:: "gz";' |
  as_root tee "$root/etc/apt/apt.conf.d/docker-gzip-indexes" >/dev/null
echo 'Acquire::Languages "none";' | as_root tee "$root/etc/apt/apt.conf.d/docker-no-languages" >/dev/null
echo 'Apt::AutoRemove::SuggestsImportant "false";' |
  as_root tee "$root/etc/apt/apt.conf.d/docker-autoremove-suggests" >/dev/null
printf '#!/bin/sh\nexit 101\n' | as_root tee "$root/usr/sbin/policy-rc.d" >/dev/null
as_root chmod 755 "$root/usr/sbin/policy-rc.d"
as_root rm -f "$root/etc/apt/sources.list"
as_root tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# The slim strip of what debootstrap already unpacked, then caches, logs and the
# host-specific files a container gets from the engine.
as_root find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
as_root find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
as_root rm -rf "$root"/usr/share/{info,linda,lintian/overrides,locale,man}/*
as_root rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/root/.bash_history
as_root find "$root/var/log" -type f -exec truncate -s 0 {} +
for f in hostname resolv.conf hosts; do : | as_root tee "$root/etc/$f" >/dev/null; done
: | as_root tee "$root/etc/machine-id" >/dev/null

log "importing as $TAG"
as_root tar --numeric-owner --xattrs -C "$root" -c . |
  docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "debootstrap --variant=minbase bookworm, slim (rarecall scripts/docker-base-image.sh)" \
    - "$TAG" >/dev/null
log "$TAG built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
