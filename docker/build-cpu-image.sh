#!/usr/bin/env bash
# Build the CPU worker image kgrader-worker:cpu with no container registry in reach:
#   1. debootstrap Debian bookworm (python3 3.11, g++) into a folder and `docker import` it as
#      kgrader-base:bookworm (skipped when that image exists);
#   2. `docker build` the top-level Dockerfile on it, with the local CPU torch wheel and the
#      host's CA bundle copied into docker/context/ (pip reaches PyPI for the small packages
#      only; torch never comes from PyPI).
# Idempotent: when kgrader-worker:cpu already carries this recipe's hash it returns at once.
# Needs root (debootstrap), a running engine (docker/start-dockerd.sh) and Debian's mirror.
#
# Environment: KG_TORCH_WHEEL (default: the newest /opt/wheels/torch-*+cpu-cp311-*.whl),
# KG_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt), KG_DEBIAN_MIRROR,
# KG_IMAGE (default kgrader-worker:cpu), KG_BASE_IMAGE (default kgrader-base:bookworm), KG_FORCE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${KG_IMAGE:-kgrader-worker:cpu}
BASE=${KG_BASE_IMAGE:-kgrader-base:bookworm}
MIRROR=${KG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA=${KG_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
WHEEL=${KG_TORCH_WHEEL:-$(ls /opt/wheels/torch-*+cpu-cp311-cp311-*x86_64.whl 2>/dev/null | sort -V | tail -n 1 || true)}
INCLUDE=python3,python3-venv,python3-dev,g++,ca-certificates
export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin, no frontend image to pull

say() { printf '[build-cpu-image] %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers: run 'bash docker/start-dockerd.sh' first"
[ -n "$WHEEL" ] && [ -f "$WHEEL" ] || die "no CPU torch wheel (set KG_TORCH_WHEEL=/path/torch-...+cpu-cp311-...whl)"

recipe=$( { cat Dockerfile docker/build-cpu-image.sh; echo "$INCLUDE $MIRROR $(basename "$WHEEL") $(stat -c %s "$WHEEL")"; } \
          | sha256sum | cut -c1-16)
have=$(docker image inspect "$IMAGE" --format '{{ index .Config.Labels "org.kgrader.recipe" }}' 2>/dev/null || true)
if [ "$have" = "$recipe" ] && [ "${KG_FORCE:-0}" != 1 ]; then
    say "$IMAGE is up to date (recipe $recipe)"
    exit 0
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1 || [ "${KG_FORCE:-0}" = 1 ]; then
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    rootfs=$(mktemp -d /var/tmp/kgrader-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    say "debootstrap bookworm ($INCLUDE) into $rootfs"
    t0=$(date +%s)
    debootstrap --variant=minbase --include="$INCLUDE" bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 \
        || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; die "debootstrap"; }
    rm -f "$rootfs.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc \
           "$rootfs"/usr/share/man "$rootfs"/usr/share/locale
    say "debootstrap took $(( $(date +%s) - t0 )) s; importing as $BASE"
    tar -C "$rootfs" --numeric-owner -c . \
        | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                        --change 'ENV LANG=C.UTF-8' - "$BASE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

say "building $IMAGE on $BASE with $(basename "$WHEEL")"
ctx=docker/context
rm -rf "$ctx/wheels" "$ctx/ca.crt"
mkdir -p "$ctx/wheels"
ln "$WHEEL" "$ctx/wheels/" 2>/dev/null || cp "$WHEEL" "$ctx/wheels/"
[ -f "$CA" ] && cp "$CA" "$ctx/ca.crt"
t0=$(date +%s)
status=0
docker build --network host --build-arg BASE_IMAGE="$BASE" --label "org.kgrader.recipe=$recipe" \
    -t "$IMAGE" -f Dockerfile . || status=$?
rm -rf "$ctx/wheels" "$ctx/ca.crt"
[ "$status" = 0 ] || die "docker build (exit $status)"
docker image prune -f --filter "label=org.kgrader.stage=build" >/dev/null 2>&1 || true
say "built $IMAGE in $(( $(date +%s) - t0 )) s: $(docker image inspect "$IMAGE" --format '{{.Size}}' | numfmt --to=iec) "
docker run --rm --network none "$IMAGE"
