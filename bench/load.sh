#!/usr/bin/env bash
# bench/load.sh — the load half of `make bench`.
#
# What it measures: HTTP throughput (req/s) and latency (p50, p99) of folio's
# GET /cv and GET /blog under keep-alive load from wrk (1 thread, 64
# connections, Accept-Encoding: gzip), next to nginx serving the exact same
# bytes as static files with gzip_static. nginx is the yardstick: "how close
# is folio to a tuned static file server for the same payload?"
#
# Why the pinning: the machine has few cores and the load generator competes
# with the server for them. Each server gets exactly one core (taskset -c 0)
# and one worker (GOMAXPROCS=1 for folio, worker_processes 1 for nginx), and
# wrk gets the other core (taskset -c 1), so the numbers compare one core of
# folio with one core of nginx rather than whoever won the scheduler.
#
# Installs nginx, wrk and curl from apt when absent. Without nginx it still
# benchmarks folio. Progress goes to stderr; the Markdown table to stdout.
# Env: BENCH_SECONDS (default 10) is the length of each measured run;
# BENCH_QUIET_WAIT (default 60) bounds the wait for a busy machine to settle.
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
WARMUP_SECONDS=2
WRK_THREADS=1
WRK_CONNS=64

if ! [[ $BENCH_SECONDS =~ ^[1-9][0-9]*$ ]]; then
  echo "load.sh: BENCH_SECONDS must be a positive integer, got '$BENCH_SECONDS'" >&2
  exit 2
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PATH=$PATH:/usr/sbin:/sbin

log() { printf 'load.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/folio-load.XXXXXX")
folio_pid=
nginx_pid=
policy_rc_created=

cleanup() {
  local pid
  for pid in "$folio_pid" "$nginx_pid"; do
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n $policy_rc_created ]]; then
    rm -f /usr/sbin/policy-rc.d
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- installs

sudo_cmd=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then
  sudo_cmd=(sudo -n)
fi

apt_updated=
apt_install() {
  command -v apt-get >/dev/null || return 1
  if [[ $(id -u) -ne 0 && ${#sudo_cmd[@]} -eq 0 ]]; then
    return 1
  fi
  if [[ -z $apt_updated ]]; then
    log "apt-get update"
    timeout 300 "${sudo_cmd[@]}" apt-get update -q >"$tmp/apt.log" 2>&1 || {
      tail -n 5 "$tmp/apt.log" | sed 's/^/load.sh:   apt: /' >&2
      return 1
    }
    apt_updated=1
  fi
  log "apt-get install $*"
  # Keep the package's init script from starting a system-wide nginx on :80.
  if [[ ! -e /usr/sbin/policy-rc.d && $(id -u) -eq 0 ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_rc_created=1
  fi
  timeout 300 "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@" >>"$tmp/apt.log" 2>&1 || {
    tail -n 5 "$tmp/apt.log" | sed 's/^/load.sh:   apt: /' >&2
    return 1
  }
}

for tool in curl wrk; do
  if ! command -v "$tool" >/dev/null; then
    apt_install "$tool" || die "$tool is not installed and could not be installed"
  fi
done
command -v taskset >/dev/null || die "taskset (util-linux) is required"
command -v go >/dev/null || die "go is required to build folio"

have_nginx=1
if ! command -v nginx >/dev/null; then
  apt_install nginx-light || apt_install nginx || true
  command -v nginx >/dev/null || { have_nginx=; log "nginx could not be installed: benchmarking folio alone"; }
fi

ncpu=$(nproc)
if ((ncpu < 2)); then
  die "need at least 2 CPUs (one for the server, one for wrk); this machine has $ncpu"
fi

# ---------------------------------------------------------------- helpers

# free_port prints a loopback TCP port nobody listens on (best effort).
free_port() {
  local p _
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

# wait_http URL PID NAME LOGFILE: wait up to 30 s for URL to answer 200.
wait_http() {
  local url=$1 pid=$2 name=$3 logfile=$4 _
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited while starting; its log:"
      tail -n 20 "$logfile" >&2 || true
      die "$name did not start"
    fi
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  log "$name log:"
  tail -n 20 "$logfile" >&2 || true
  die "$name did not answer 200 at $url within 30 s"
}

# fetch URL FILE [curl args...]: raw body (no decoding) to FILE, headers to FILE.hdr.
fetch() {
  local url=$1 out=$2
  shift 2
  curl -fsS --max-time 5 -D "$out.hdr" -o "$out" "$@" "$url" ||
    die "could not GET $url"
}

# header FILE NAME: value of response header NAME in a curl -D dump.
header() {
  awk -v n="$(tr '[:upper:]' '[:lower:]' <<<"$2")" -F': ' '
    tolower($1) == n { sub(/\r$/, "", $2); print $2 }' "$1"
}

# to_ms VALUE: wrk's "812.00us" / "1.23ms" / "2.00s" / "1.00m" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/)      { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/)  { sub(/s$/, "", v);  printf "%.3f", v * 1000 }
    else if (v ~ /m$/)  { sub(/m$/, "", v);  printf "%.3f", v * 60000 }
    else if (v ~ /h$/)  { sub(/h$/, "", v);  printf "%.3f", v * 3600000 }
    else { exit 1 } }'
}

# cpu_busy_pct: percent of all CPU time not idle over one second, with both
# servers idle. Other work on the machine (a test run, a build) skews the
# numbers, so a busy machine is reported next to the table.
cpu_busy_pct() {
  local a b
  a=$(awk '$1 == "cpu" { print $2+$3+$4+$6+$7+$8+$9, $5 }' /proc/stat)
  sleep 1
  b=$(awk '$1 == "cpu" { print $2+$3+$4+$6+$7+$8+$9, $5 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    busy = y[1] - x[1]; idle = y[2] - x[2]
    printf "%.0f", (busy + idle > 0) ? 100 * busy / (busy + idle) : 0 }'
}

# proc_ticks PID...: user+system CPU ticks used so far by these processes.
proc_ticks() {
  local pid total=0 t
  for pid in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# children PID: the PIDs whose parent is PID (nginx's workers), from /proc.
children() {
  local f
  for f in /proc/[0-9]*/stat; do
    sed 's/^.*) //' "$f" 2>/dev/null | awk -v p="$1" -v f="$f" '$2 == p { split(f, a, "/"); print a[3] }'
  done
}

# cpu_ticks N: busy and total ticks of CPU N so far.
cpu_ticks() {
  awk -v c="cpu$1" '$1 == c { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat
}

clk_tck=$(getconf CLK_TCK)
declare -A rps p50 p99

# run_wrk KEY URL PID...: warm up, measure, and record req/s, p50, p99 under
# KEY. Logs how much of core 0 the server PIDs used and how busy wrk's core 1
# was: a server well below 100% means something else was the bottleneck.
run_wrk() {
  local key=$1 url=$2 out="$tmp/wrk-${1//\//_}.txt" errs s0 s1 c0 c1 t0 t1
  shift 2
  local -a wrk=(taskset -c 1 wrk "-t$WRK_THREADS" "-c$WRK_CONNS" --latency -H 'Accept-Encoding: gzip')
  log "wrk $key: ${WARMUP_SECONDS}s warm-up, ${BENCH_SECONDS}s measured ($url)"
  timeout $((WARMUP_SECONDS + 30)) "${wrk[@]}" "-d${WARMUP_SECONDS}s" "$url" >/dev/null ||
    die "wrk warm-up against $url failed"
  s0=$(proc_ticks "$@")
  read -r c0 t0 < <(cpu_ticks 1)
  timeout $((BENCH_SECONDS + 30)) "${wrk[@]}" "-d${BENCH_SECONDS}s" "$url" >"$out" ||
    die "wrk against $url failed"
  s1=$(proc_ticks "$@")
  read -r c1 t1 < <(cpu_ticks 1)
  log "$key: server used $(((s1 - s0) * 100 / (clk_tck * BENCH_SECONDS)))% of core 0;" \
    "core 1 (wrk) was $(((c1 - c0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1)))% busy"
  # Errors mean the numbers are not for the page we think: fail loudly.
  if errs=$(grep -E 'Non-2xx or 3xx responses|Socket errors' "$out"); then
    cat "$out" >&2
    die "wrk saw errors against $url: $errs"
  fi
  rps[$key]=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$out")
  p50[$key]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99[$key]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  [[ -n ${rps[$key]} && -n ${p50[$key]} && -n ${p99[$key]} ]] || {
    cat "$out" >&2
    die "could not parse wrk output for $url"
  }
}

# ---------------------------------------------------------------- folio

log "building folio"
(cd "$repo" && timeout 300 go build -o "$tmp/folio" .) || die "go build failed"

folio_port=$(free_port)
folio="http://127.0.0.1:$folio_port"
log "starting folio (demo mode, GOMAXPROCS=1, core 0) on $folio"
env -u CONTENTFUL_SPACE_ID GOMAXPROCS=1 FOLIO_ADDR="127.0.0.1:$folio_port" FOLIO_LOG_FORMAT=json \
  taskset -c 0 "$tmp/folio" >"$tmp/folio.log" 2>&1 &
folio_pid=$!
wait_http "$folio/readyz" "$folio_pid" folio "$tmp/folio.log"

# The exact bytes folio serves, raw (curl without --compressed does not decode).
docroot="$tmp/www"
mkdir -p "$docroot"
for page in cv blog; do
  fetch "$folio/$page" "$docroot/$page" -H 'Accept-Encoding: identity'
  fetch "$folio/$page" "$docroot/$page.gz" -H 'Accept-Encoding: gzip'
  [[ $(header "$docroot/$page.gz.hdr" Content-Encoding) == gzip ]] ||
    die "folio did not answer /$page with Content-Encoding: gzip for Accept-Encoding: gzip"
  gzip -t <"$docroot/$page.gz" || die "folio's gzip body for /$page is not valid gzip"
  cmp -s <(gzip -dc <"$docroot/$page.gz") "$docroot/$page" ||
    die "folio's gzip and identity bodies for /$page differ"
  log "/$page: $(wc -c <"$docroot/$page") bytes, gzip $(wc -c <"$docroot/$page.gz") bytes"
done

# ---------------------------------------------------------------- nginx

if [[ -n $have_nginx ]]; then
  nginx_port=$(free_port)
  while [[ $nginx_port == "$folio_port" ]]; do nginx_port=$(free_port); done
  nginx="http://127.0.0.1:$nginx_port"
  mkdir -p "$tmp/nginx"
  cat >"$tmp/nginx/nginx.conf" <<EOF
# Written by bench/load.sh: a tuned static server for the same bytes as folio.
user root;
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 120s;
  default_type application/json;
  charset utf-8;
  charset_types application/json;
  gzip_static on;
  gzip_vary on;
  etag on;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $docroot;
    # Roughly the headers folio sends, so both write similar responses.
    add_header Cache-Control "public, max-age=30, stale-while-revalidate=300";
    add_header X-Content-Type-Options nosniff;
    location = /cv { try_files /cv =404; }
    location = /blog { try_files /blog =404; }
  }
}
EOF
  log "starting nginx (worker_processes 1, core 0) on $nginx"
  taskset -c 0 nginx -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" \
    >"$tmp/nginx/stdout.log" 2>&1 &
  nginx_pid=$!
  wait_http "$nginx/cv" "$nginx_pid" nginx "$tmp/nginx/error.log"
  mapfile -t nginx_workers < <(children "$nginx_pid")

  # A fair comparison needs the same payload: the gzip bytes must be identical.
  fetch "$nginx/cv" "$tmp/nginx-cv.gz" -H 'Accept-Encoding: gzip'
  fetch "$folio/cv" "$tmp/folio-cv.gz" -H 'Accept-Encoding: gzip'
  [[ $(header "$tmp/nginx-cv.gz.hdr" Content-Encoding) == gzip ]] ||
    die "nginx did not serve /cv pre-compressed (gzip_static); the comparison would be unfair"
  cmp "$tmp/folio-cv.gz" "$tmp/nginx-cv.gz" >&2 ||
    die "nginx and folio serve different gzip bytes for /cv; the comparison would be unfair"
  log "gzip /cv: nginx and folio serve identical bytes ($(wc -c <"$tmp/nginx-cv.gz"))"
fi

# ---------------------------------------------------------------- measure

# Wait (bounded by BENCH_QUIET_WAIT seconds, default 60) for other work on
# the machine to settle; measure anyway after that, with a warning.
busy=$(cpu_busy_pct)
quiet_deadline=$((SECONDS + ${BENCH_QUIET_WAIT:-60}))
while ((busy > 10 && SECONDS < quiet_deadline)); do
  log "machine is ${busy}% busy with other work; waiting for it to settle"
  sleep 4
  busy=$(cpu_busy_pct)
done
busy_note=
if ((busy > 10)); then
  busy_note="WARNING: the machine was ${busy}% busy before the runs (other processes); numbers are noisy."
  log "$busy_note"
  if command -v ps >/dev/null; then
    ps -eo pcpu=,comm= --sort=-pcpu | head -n 3 | sed 's/^/load.sh:   busy: /' >&2
  fi
fi

for page in cv blog; do
  run_wrk "folio /$page" "$folio/$page" "$folio_pid"
  if [[ -n $have_nginx ]]; then
    run_wrk "nginx /$page" "$nginx/$page" "$nginx_pid" "${nginx_workers[@]}"
  fi
done

# ---------------------------------------------------------------- report

cpu=$(awk -F': *' '$1 ~ /^model name/ { print $2; exit }' /proc/cpuinfo)
echo "| endpoint | server | req/s | p50 ms | p99 ms | folio/nginx |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for page in cv blog; do
  k="folio /$page"
  if [[ -n $have_nginx ]]; then
    n="nginx /$page"
    ratio=$(awk -v f="${rps[$k]}" -v g="${rps[$n]}" 'BEGIN { printf "%.2f", f / g }')
  else
    ratio="nginx: not installed"
  fi
  echo "| /$page | folio | ${rps[$k]} | ${p50[$k]} | ${p99[$k]} | $ratio |"
  if [[ -n $have_nginx ]]; then
    echo "| /$page | nginx | ${rps[$n]} | ${p50[$n]} | ${p99[$n]} | |"
  fi
done
echo
servers="folio (GOMAXPROCS=1) was pinned to core 0 with one worker"
if [[ -n $have_nginx ]]; then
  servers="both servers, folio (GOMAXPROCS=1) and $(nginx -v 2>&1 | sed 's|^nginx version: nginx/|nginx |')"
  servers+=" (worker_processes 1), were pinned to core 0 with one worker each"
fi
echo "Machine: $ncpu CPUs, ${cpu:-unknown CPU}. wrk -t$WRK_THREADS -c$WRK_CONNS -d${BENCH_SECONDS}s --latency" \
  "-H 'Accept-Encoding: gzip' ran on core 1 (after a ${WARMUP_SECONDS}s warm-up per run);" \
  "$servers."
[[ -z $busy_note ]] || echo "$busy_note"
