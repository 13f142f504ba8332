#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine (Debian/Ubuntu, as root): install docker.io
# when dockerd is missing, start dockerd in the background when it is not running, and wait
# until `docker info` answers. Safe to run again: it does nothing when an engine already answers.
# Log: $KG_DOCKERD_LOG (default /var/log/kgrader-dockerd.log).
set -euo pipefail

LOG=${KG_DOCKERD_LOG:-/var/log/kgrader-dockerd.log}
say() { printf '[start-dockerd] %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
    say "a Docker engine already answers"
    exit 0
fi
[ "$(id -u)" = 0 ] || { say "FAILED: needs root (or ask for an engine: sudo bash $0)"; exit 1; }

if ! command -v dockerd >/dev/null 2>&1; then
    say "installing docker.io"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

wait_engine() {  # seconds
    for _ in $(seq "$1"); do
        docker info >/dev/null 2>&1 && return 0
        pgrep -x dockerd >/dev/null || return 1
        sleep 1
    done
    return 1
}

if ! pgrep -x dockerd >/dev/null; then
    say "starting dockerd (log: $LOG)"
    setsid dockerd >"$LOG" 2>&1 </dev/null &
    if ! wait_engine 60; then
        # Kernels without netfilter: the sandbox uses no networks, so run without iptables.
        if grep -qi iptables "$LOG" && ! pgrep -x dockerd >/dev/null; then
            say "dockerd failed on iptables; starting it without"
            setsid dockerd --iptables=false --ip6tables=false >>"$LOG" 2>&1 </dev/null &
        fi
    fi
fi
if wait_engine 60; then
    say "engine ready: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}')"
    exit 0
fi
say "FAILED: no engine answers; the end of $LOG:"
tail -n 30 "$LOG" >&2 || true
exit 1
