#!/usr/bin/env bash
# scripts/test-deps.sh — installs what `make test` needs beyond Go.
#
# folio's integration tests start a real redis-server (internal/redistest) on a
# free loopback port, and a missing binary fails them rather than skipping
# them, so `make test` runs this first. On a machine that already has
# redis-server it prints one line and changes nothing; otherwise it installs
# Debian's redis-server (and redis-tools, for redis-cli when debugging) with
# apt-get, without starting the packaged system service.
#
# Needs root, or sudo (non-interactive when there is no terminal, as in CI).
set -euo pipefail

PATH=$PATH:/usr/sbin:/sbin

log() { printf 'test-deps: %s\n' "$*"; }
die() { printf 'test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

have_redis() { command -v redis-server >/dev/null 2>&1; }

# The version line without the build noise, e.g. "v=7.0.15".
redis_version() { redis-server --version 2>/dev/null | grep -o 'v=[^ ]*' || echo 'v=unknown'; }

if have_redis; then
  log "redis-server $(redis_version) present at $(command -v redis-server)"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
  die "redis-server is missing and there is no apt-get here: install redis-server with your package manager"

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 ||
    die "redis-server is missing and installing it needs root: run as root, install sudo, or run 'apt-get install redis-server' yourself"
  if [[ -t 0 ]]; then
    sudo_cmd=(sudo)       # a person at a terminal may be asked for a password
  else
    sudo_cmd=(sudo -n)    # CI has no terminal: fail rather than hang on a prompt
  fi
fi
as_root() { "${sudo_cmd[@]}" "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/folio-test-deps.XXXXXX")
policy_rc_created=
cleanup() {
  if [[ -n $policy_rc_created ]]; then
    as_root rm -f /usr/sbin/policy-rc.d || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The tests start their own servers on free ports, so the package's system
# service is not wanted: a policy-rc.d that exits 101 tells invoke-rc.d and
# deb-systemd-invoke not to start it. An existing policy is left as it is.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\n# Written by folio scripts/test-deps.sh for the length of one install.\nexit 101\n' >"$tmp/policy-rc.d"
  as_root install -m 0755 "$tmp/policy-rc.d" /usr/sbin/policy-rc.d ||
    die "could not write /usr/sbin/policy-rc.d (is sudo allowed without a password?)"
  policy_rc_created=1
fi

# apt's output goes to a log that is shown only when a step fails.
apt() {
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=120 "$@" >>"$tmp/apt.log" 2>&1; then
    tail -n 20 "$tmp/apt.log" | sed 's/^/test-deps:   apt: /' >&2
    die "apt-get $1 failed; install it by hand with: apt-get update && apt-get install redis-server"
  fi
}

log "redis-server missing: installing it with apt-get"
apt update
apt install -y --no-install-recommends redis-server redis-tools

have_redis || die "apt-get installed redis-server but it is not on PATH ($PATH)"
log "installed redis-server $(redis_version) at $(command -v redis-server)"
