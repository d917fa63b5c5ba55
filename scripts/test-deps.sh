#!/usr/bin/env bash
# scripts/test-deps.sh — installs what `make test` needs beyond Go.
#
# folio's tests use real programs, and a missing one fails them rather than
# skipping them, so `make test` runs this first:
#   redis-server  (redis-server)  internal/redistest: single servers, Sentinel
#                                 (redis-server --sentinel) and Cluster nodes
#   redis-cli     (redis-tools)   creating the test Cluster
#   chromium      (chromium)      the dashboard's browser test, over DevTools
#   promtool      (prometheus)    `promtool check metrics` on folio's /metrics
# On a machine that has them all it prints one line per program and changes
# nothing; otherwise it installs the missing Debian packages with apt-get,
# without starting any packaged system service.
#
# Needs root, or sudo (non-interactive when there is no terminal, as in CI).
set -euo pipefail

PATH=$PATH:/usr/sbin:/sbin

log() { printf 'test-deps: %s\n' "$*"; }
die() { printf 'test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

# program:package, for every program the tests run.
needs=(redis-server:redis-server redis-cli:redis-tools chromium:chromium promtool:prometheus)

missing=()
for need in "${needs[@]}"; do
  prog=${need%%:*} pkg=${need#*:}
  if command -v "$prog" >/dev/null 2>&1; then
    log "$prog present at $(command -v "$prog")"
  else
    missing+=("$pkg")
  fi
done
((${#missing[@]} == 0)) && exit 0

command -v apt-get >/dev/null 2>&1 ||
  die "missing ${missing[*]} and there is no apt-get here: install them with your package manager"

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 ||
    die "missing ${missing[*]}; installing needs root: run as root, install sudo, or run 'apt-get install ${missing[*]}' yourself"
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
    die "apt-get $1 failed; install by hand with: apt-get update && apt-get install ${missing[*]}"
  fi
}

log "installing ${missing[*]} with apt-get"
apt update
apt install -y --no-install-recommends "${missing[@]}"

for need in "${needs[@]}"; do
  prog=${need%%:*}
  command -v "$prog" >/dev/null 2>&1 || die "apt-get ran but $prog is not on PATH ($PATH)"
  log "installed $prog at $(command -v "$prog")"
done
