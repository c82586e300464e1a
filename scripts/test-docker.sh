#!/usr/bin/env bash
# The Docker pass: the Spark integration tests against the compose service built from
# docker/spark-connect/Dockerfile, on a fresh machine too.
#
#   scripts/test-docker.sh
#
# 1. installs what is missing (scripts/setup.sh, scripts/docker-setup.sh);
# 2. starts dockerd when no Docker daemon answers (and stops it again at the end, by
#    its pid), with no bridge network: every container here uses host networking;
# 3. makes the base image debian:bookworm-slim when it is missing
#    (scripts/docker-base-image.sh: debootstrap, where no image registry is reachable);
# 4. builds the image once per content of docker/spark-connect (tagged with its hash,
#    so an unchanged Dockerfile and settings reuse the image; older tags are removed);
# 5. starts docker-compose.ci.yml (host networking, server bound to 127.0.0.1 on
#    RARECALL_SPARK_PORT) and polls the container's healthcheck;
# 6. runs the demo end-to-end test, the `score --in-spark` parity test and the
#    unmounted-path test (ignored by scripts/test.sh, whose server reads every path)
#    with RARECALL_TEST_REMOTE pointing at the container;
# 7. takes the service down, and prints how long each step took.
#
# The repository is mounted at its own path inside the container (docker/spark-connect/
# compose-service.yml), so the tests' data under target/tmp is seen by the server; the
# container's user (uid 185) must be able to read it, hence umask 022 below.
#
# Environment:
#   RARECALL_SPARK_PORT    port of the container's server (default 15002; must be free)
#   RARECALL_SPARK_MEMORY  driver heap (default 4g)
#   RARECALL_EXTRA_CA_CERT PEM text of CA certificates the image build must trust; by
#                          default the ones this machine added in /usr/local/share/ca-certificates
set -euo pipefail
cd -P "$(dirname "$0")/.."
umask 022

PORT="${RARECALL_SPARK_PORT:-15002}"
export RARECALL_SPARK_PORT="$PORT"
CACHE="${RARECALL_CACHE:-$HOME/.cache/rarecall}"
IMAGE_REPO="rarecall/spark-connect"
CONTEXT="docker/spark-connect"
export COMPOSE_PROJECT_NAME="rarecall-test-$PORT"
TESTS=(
  cli::run_writes_the_audit_and_summary
  score::score_reproduces_run_test_scores_in_rust_and_in_spark
  cli::a_source_not_mounted_into_the_docker_server_names_the_mount_rule
)

log() { echo "test-docker: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
timings=()
step_start=$SECONDS
step_done() {
  timings+=("$1 $((SECONDS - step_start)) s")
  step_start=$SECONDS
}

# The pinned pyspark of the image is the one of scripts/spark-local.sh.
local_version="$(sed -n 's/^PYSPARK_VERSION="\(.*\)"$/\1/p' scripts/spark-local.sh)"
image_version="$(sed -n 's/^ARG PYSPARK_VERSION=\(.*\)$/\1/p' "$CONTEXT/Dockerfile")"
if [ -z "$local_version" ] || [ "$local_version" != "$image_version" ]; then
  log "pyspark differs: scripts/spark-local.sh pins '$local_version', $CONTEXT/Dockerfile '$image_version'"
  exit 1
fi

# The tests write their data under the target folder's tmp/; the container sees only
# this clone (mounted at its own path).
target_dir="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
case "$target_dir/" in
  "$PWD"/*) ;;
  *) log "CARGO_TARGET_DIR=$target_dir is outside $PWD, the only folder the container sees; unset it for this script"
     exit 1 ;;
esac

scripts/setup.sh
scripts/docker-setup.sh
if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose -f docker-compose.ci.yml)
else
  compose=(docker compose -f docker-compose.ci.yml)
fi
step_done "setup"

dockerd_pid=""
service_up=0
cleanup() {
  local status=$?
  if [ "$service_up" = 1 ]; then
    if [ "$status" != 0 ]; then
      log "last lines of the server's log:"
      "${compose[@]}" logs --no-color --tail 40 spark-connect >&2 || true
    fi
    "${compose[@]}" down --timeout 30 >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ]; then
    as_root kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
    log "stopped dockerd (pid $dockerd_pid)"
  fi
  exit "$status"
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  mkdir -p "$CACHE/docker"
  log "starting dockerd (log in $CACHE/docker/dockerd.log)"
  # No default bridge and no iptables rules: builds and containers use host networking.
  rm -f "$CACHE/docker/dockerd.pid"
  as_root dockerd --bridge=none --iptables=false --ip6tables=false \
    --pidfile "$CACHE/docker/dockerd.pid" >"$CACHE/docker/dockerd.log" 2>&1 &
  launcher=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$launcher" 2>/dev/null || { tail -n 20 "$CACHE/docker/dockerd.log" >&2; exit 1; }
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not answer within 30 s"; exit 1; }
  # The daemon's own pid (the launcher may be a sudo or subshell around it).
  dockerd_pid="$(cat "$CACHE/docker/dockerd.pid")"
fi
step_done "dockerd"

scripts/docker-base-image.sh
step_done "base image"

# The build context's files (compose-service.yml is not copied into the image).
hash="$(cd "$CONTEXT" && find . -type f ! -name '*.yml' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
export RARECALL_SPARK_IMAGE_TAG="$hash"
if docker image inspect "$IMAGE_REPO:$hash" >/dev/null 2>&1; then
  log "image $IMAGE_REPO:$hash present"
else
  ca="${RARECALL_EXTRA_CA_CERT:-}"
  if [ -z "$ca" ] && compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    ca="$(cat /usr/local/share/ca-certificates/*.crt)"
  fi
  log "building $IMAGE_REPO:$hash (a few minutes, once per content of $CONTEXT)"
  # The classic builder: Debian's engine has no buildx; host networking, as there is
  # no bridge when this script started dockerd.
  DOCKER_BUILDKIT=0 docker build --network host --force-rm -q \
    --build-arg EXTRA_CA_CERT="$ca" -t "$IMAGE_REPO:$hash" "$CONTEXT" >/dev/null
  for old in $(docker image ls "$IMAGE_REPO" --format '{{.Tag}}'); do
    if [ "$old" != "$hash" ] && [[ "$old" =~ ^[0-9a-f]{12}$ ]]; then
      docker image rm "$IMAGE_REPO:$old" >/dev/null || true
    fi
  done
  docker image prune -f --filter "label=org.rarecall.image=spark-connect" >/dev/null
  log "built $IMAGE_REPO:$hash ($(docker image inspect -f '{{.Size}}' "$IMAGE_REPO:$hash" | awk '{printf "%.0f MB", $1/1e6}'))"
fi
step_done "image build"

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  log "port $PORT is in use (a local server from scripts/spark-local.sh?); set RARECALL_SPARK_PORT to a free port"
  exit 1
fi
service_up=1
if ! up_log="$("${compose[@]}" up -d --no-build 2>&1)"; then
  echo "$up_log" >&2
  exit 1
fi
container="$("${compose[@]}" ps -q spark-connect)"
deadline=$((SECONDS + 240))
while :; do
  state="$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$container")"
  case "$state" in
    "running healthy") break ;;
    running*) ;;
    *) log "the container stopped ($state)"; exit 1 ;;
  esac
  if [ $SECONDS -ge $deadline ]; then log "not healthy within 240 s ($state)"; exit 1; fi
  sleep 1
done
# The mount rule, checked from inside: the container's user reads the test data folder.
mkdir -p "$target_dir/tmp"
if ! docker exec "$container" test -r "$target_dir/tmp" -a -x "$target_dir/tmp"; then
  log "the container's user (uid 185) cannot read $target_dir/tmp: every folder on the path must be readable and searchable by others"
  exit 1
fi
log "ready: sc://127.0.0.1:$PORT"
step_done "start-up"

out="$(mktemp)"
status=0
RARECALL_TEST_REMOTE="sc://127.0.0.1:$PORT" \
  cargo test --locked --features fault-injection --test main -- --include-ignored --exact "${TESTS[@]}" 2>&1 | tee "$out" || status=$?
step_done "tests"
"${compose[@]}" down --timeout 30 >/dev/null 2>&1
service_up=0
step_done "teardown"

log "timings: $(IFS=,; echo "${timings[*]}" | sed 's/,/, /g')"
summary="$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "%d %d", p, f }' "$out")"
rm -f "$out"
read -r passed failed <<<"$summary"
if [ "$status" = 0 ] && [ "$passed" != "${#TESTS[@]}" ]; then
  log "expected ${#TESTS[@]} tests to pass, $passed did (a test renamed?)"
  status=1
fi
echo "rarecall-docker: $passed passed, $failed failed"
exit "$status"
