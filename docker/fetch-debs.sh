#!/usr/bin/env bash
# Prepare .debs/ for docker/gpu-probe.sh on a machine with no network and no Docker engine:
#   .debs/kgrader-engine_<version>_amd64.deb  the engine's binaries, repacked from Debian bookworm's
#       docker.io (dockerd), containerd (containerd, containerd-shim-runc-v2), runc (runc),
#       tini (docker-init) and the two libraries they may miss, libdevmapper1.02.1 and libseccomp2.
#       The official .debs total ~65 MB (mostly the docker CLI, ctr and tools the probe never runs),
#       more than a device run may carry, so only the files the engine needs are kept (~28 MB, xz -9e).
#       The original .debs' names and sha256 sums are listed inside, in usr/share/doc/kgrader-engine/SOURCES.
#   .debs/wheels/  docker (the SDK) with requests and what it needs, pydantic and what it needs, for Python 3.12
#       (the GPU machines' python3; pure-Python wheels serve any 3.x).
# Run from the repository root, as root, with Debian's mirror and PyPI in reach. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.debs/' .git/info/exclude 2>/dev/null || echo '/.debs/' >> .git/info/exclude
mkdir -p .debs/wheels
say() { printf '[fetch-debs] %s\n' "$*" >&2; }

PKGS="docker.io containerd runc tini libdevmapper1.02.1 libseccomp2"
KEEP="usr/sbin/dockerd usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/sbin/runc usr/bin/tini-static
      usr/bin/docker-init lib/x86_64-linux-gnu/libdevmapper.so.1.02.1 usr/lib/x86_64-linux-gnu/libseccomp.so.2
      usr/lib/x86_64-linux-gnu/libseccomp.so.2.5.4"

if ls .debs/kgrader-engine_*_amd64.deb >/dev/null 2>&1; then
    say "engine package already there: $(ls .debs/kgrader-engine_*_amd64.deb)"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/debs" "$work/root/DEBIAN" "$work/root/usr/share/doc/kgrader-engine"
    (cd "$work/debs" && apt-get download $PKGS 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    for f in "$work"/debs/*.deb; do dpkg -x "$f" "$work/x"; done
    for f in $KEEP; do
        mkdir -p "$work/root/$(dirname "$f")"
        cp -a "$work/x/$f" "$work/root/$f"
    done
    (cd "$work/debs" && sha256sum *.deb) > "$work/root/usr/share/doc/kgrader-engine/SOURCES"
    version=$(dpkg-deb -f "$work"/debs/docker.io_*.deb Version | tr -c 'A-Za-z0-9.+~\n' '.')
    cat > "$work/root/DEBIAN/control" <<CONTROL
Package: kgrader-engine
Version: $version
Architecture: amd64
Maintainer: kernel-grader
Description: dockerd, containerd, runc and docker-init from Debian bookworm, for dpkg -x into a private prefix
CONTROL
    say "packing (xz -9e; a few minutes)"
    dpkg-deb -Zxz -z9 -Sextreme --root-owner-group -b "$work/root" ".debs/kgrader-engine_${version}_amd64.deb" >/dev/null
fi

if [ "$(ls .debs/wheels/*.whl 2>/dev/null | wc -l)" -lt 10 ]; then
    pyd=$(python3 -c 'import pydantic; print(pydantic.VERSION)' 2>/dev/null || echo 2.13.4)
    core=$(python3 -c 'import pydantic_core; print(pydantic_core.__version__)' 2>/dev/null || echo 2.46.4)
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .debs/wheels docker==7.1.0 "pydantic==$pyd" "pydantic-core==$core" annotated-types typing-inspection \
        typing-extensions requests urllib3 idna certifi charset-normalizer
fi
say "ready: $(du -sh .debs | cut -f1) in .debs/"
ls -la .debs .debs/wheels >&2
