# Sourced (from the repository root) by the scripts run on lent GPU machines, which have no bubblewrap and
# no network: when no bwrap is on PATH, unpack the carried .bwrap/*.deb into /var/tmp/kg-bwrap and put it
# on PATH; when the host lacks a library it needs, the carried .bwrap/deps/*.deb provide it through a wrapper.
# Make .bwrap/ where apt works: mkdir -p .bwrap/deps && (cd .bwrap && apt-get download bubblewrap)
#                               && (cd .bwrap/deps && apt-get download libcap2 libselinux1 libpcre2-8-0)
if ! command -v bwrap >/dev/null && ls .bwrap/*.deb >/dev/null 2>&1; then
    kg_bw=/var/tmp/kg-bwrap
    for deb in .bwrap/*.deb; do dpkg -x "$deb" "$kg_bw"; done
    export PATH="$kg_bw/usr/bin:$PATH"
    if ! bwrap --version >/dev/null 2>&1; then
        for deb in .bwrap/deps/*.deb; do dpkg -x "$deb" "$kg_bw/deps"; done
        mkdir -p "$kg_bw/bin"
        printf '#!/bin/sh\nLD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %s "$@"\n' \
            "$kg_bw/deps/lib/x86_64-linux-gnu:$kg_bw/deps/usr/lib/x86_64-linux-gnu" "$kg_bw/usr/bin/bwrap" \
            > "$kg_bw/bin/bwrap"
        chmod +x "$kg_bw/bin/bwrap"
        export PATH="$kg_bw/bin:$PATH"
    fi
fi
