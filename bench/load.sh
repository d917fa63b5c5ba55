#!/usr/bin/env bash
# bench/load.sh — the load half of `make bench`.
#
# What it measures: HTTP throughput (req/s) and latency (p50, p99) of folio's
# GET /cv, GET /blog and one GET /blog/{slug} under keep-alive load from wrk
# (1 thread, 64 connections, Accept-Encoding: gzip), next to two yardsticks
# serving the very same bytes:
#   - bare: bench/bare, a plain net/http handler (no framework) that copied
#     folio's answers, bytes and headers, at start. folio/bare is what folio's
#     own request path costs; bare/nginx is the ceiling of Go's net/http.
#   - nginx: the same bytes as static files with gzip_static.
#
# Why the pinning: the machine has few cores and the load generator competes
# with the server for them. Each server gets exactly one core (taskset -c 0)
# and one worker (GOMAXPROCS=1 for folio and bare, worker_processes 1 for
# nginx), and wrk gets the other core (taskset -c 1), so the numbers compare
# one core of each server rather than whoever won the scheduler.
#
# It repeats the whole set BENCH_RUNS times, servers in turn within each run,
# and reports per endpoint and server the median run with the min–max spread;
# the ratios are taken within each run (same run, same machine state). CPU
# µs/req is the server's own CPU time per answer, which other load on the
# machine disturbs less than req/s.
#
# Installs nginx, wrk and curl from apt when absent. Without nginx it still
# benchmarks folio against bare. Progress goes to stderr; the Markdown table
# to stdout. Env:
#   BENCH_SECONDS (default 5): length of each measured run;
#   BENCH_RUNS (default 3): how many times to repeat the set;
#   BENCH_QUIET_WAIT (default 60): bound on the wait for a busy machine;
#   BENCH_CONTENT (default demo): "demo" runs folio on its demo space;
#     "env" keeps the environment's CONTENTFUL_* settings, to measure a bigger
#     space (a real one, or a local Delivery API through CONTENTFUL_BASE_URL);
#   BENCH_READY_WAIT (default 300): bound on the wait for folio's first load;
#   BENCH_POST: the slug of the post to measure (default: the first on /blog).
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-5}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_CONTENT=${BENCH_CONTENT:-demo}
BENCH_READY_WAIT=${BENCH_READY_WAIT:-300}
WARMUP_SECONDS=1
WRK_THREADS=1
WRK_CONNS=64

for v in BENCH_SECONDS BENCH_RUNS BENCH_READY_WAIT; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "load.sh: $v must be a positive integer, got '${!v}'" >&2
    exit 2
  fi
done
case $BENCH_CONTENT in
demo | env) ;;
*)
  echo "load.sh: BENCH_CONTENT must be demo or env, got '$BENCH_CONTENT'" >&2
  exit 2
  ;;
esac
if [[ $BENCH_CONTENT == env && -z ${CONTENTFUL_SPACE_ID:-} ]]; then
  echo "load.sh: BENCH_CONTENT=env needs CONTENTFUL_SPACE_ID (and the rest of folio's Contentful settings)" >&2
  exit 2
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PATH=$PATH:/usr/sbin:/sbin

log() { printf 'load.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/folio-load.XXXXXX")
folio_pid=
bare_pid=
nginx_pid=
policy_rc_created=

cleanup() {
  local pid
  for pid in "$folio_pid" "$bare_pid" "$nginx_pid"; do
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
command -v go >/dev/null || die "go is required to build folio and bare"

have_nginx=1
if ! command -v nginx >/dev/null; then
  apt_install nginx-light || apt_install nginx || true
  command -v nginx >/dev/null || { have_nginx=; log "nginx could not be installed: benchmarking folio and bare alone"; }
fi

ncpu=$(nproc)
if ((ncpu < 2)); then
  die "need at least 2 CPUs (one for the server, one for wrk); this machine has $ncpu"
fi

# ---------------------------------------------------------------- helpers

# free_port prints a loopback TCP port nobody listens on and this script has
# not handed out before (best effort).
used_ports=" "
free_port() {
  local p _
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if [[ $used_ports != *" $p "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports+="$p "
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

# wait_http URL PID NAME LOGFILE [SECONDS]: wait up to SECONDS (default 30)
# for URL to answer 200.
wait_http() {
  local url=$1 pid=$2 name=$3 logfile=$4 secs=${5:-30} _
  for _ in $(seq 1 $((secs * 10))); do
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
  die "$name did not answer 200 at $url within $secs s"
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
# Processes that end during the scan are skipped (under errexit a failed
# read would end the scan early).
children() {
  local f stat ppid
  for f in /proc/[0-9]*/stat; do
    { read -r stat <"$f"; } 2>/dev/null || continue
    stat=${stat##*) }
    read -r _ ppid _ <<<"$stat"
    if [[ $ppid == "$1" ]]; then
      f=${f#/proc/}
      echo "${f%/stat}"
    fi
  done
  return 0
}

# cpu_ticks N: busy and total ticks of CPU N so far.
cpu_ticks() {
  awk -v c="cpu$1" '$1 == c { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat
}

clk_tck=$(getconf CLK_TCK)
results="$tmp/results.tsv" # run, server, endpoint, req/s, p50 ms, p99 ms, CPU µs/req, server core %, wrk core %

# run_wrk RUN SERVER ENDPOINT URL PID...: warm up, measure, and append one
# line to $results. Logs how much of core 0 the server PIDs used and how busy
# wrk's core 1 was: a server well below 100% means something else was the
# bottleneck.
run_wrk() {
  local run=$1 server=$2 ep=$3 url=$4 out errs s0 s1 c0 c1 t0 t1 rps p50 p99 n cpu score wcore
  shift 4
  out="$tmp/wrk-$run-$server-${ep//\//_}.txt"
  local -a wrk=(taskset -c 1 wrk "-t$WRK_THREADS" "-c$WRK_CONNS" --latency -H 'Accept-Encoding: gzip')
  timeout $((WARMUP_SECONDS + 30)) "${wrk[@]}" "-d${WARMUP_SECONDS}s" "$url" >/dev/null ||
    die "wrk warm-up against $url failed"
  s0=$(proc_ticks "$@")
  read -r c0 t0 < <(cpu_ticks 1)
  timeout $((BENCH_SECONDS + 30)) "${wrk[@]}" "-d${BENCH_SECONDS}s" "$url" >"$out" ||
    die "wrk against $url failed"
  s1=$(proc_ticks "$@")
  read -r c1 t1 < <(cpu_ticks 1)
  # Errors mean the numbers are not for the page we think: fail loudly.
  if errs=$(grep -E 'Non-2xx or 3xx responses|Socket errors' "$out"); then
    cat "$out" >&2
    die "wrk saw errors against $url: $errs"
  fi
  rps=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  n=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
  [[ -n $rps && -n $p50 && -n $p99 && -n $n ]] || {
    cat "$out" >&2
    die "could not parse wrk output for $url"
  }
  cpu=$(awk -v t=$((s1 - s0)) -v hz="$clk_tck" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  score=$(((s1 - s0) * 100 / (clk_tck * BENCH_SECONDS)))
  wcore=$(((c1 - c0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1)))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$server" "$ep" "$rps" "$p50" "$p99" "$cpu" "$score" "$wcore" >>"$results"
  log "run $run $server $ep: $rps req/s, p50 $p50 ms, p99 $p99 ms, $cpu CPU µs/req;" \
    "server used $score% of core 0, core 1 (wrk) $wcore% busy"
}

# ---------------------------------------------------------------- folio

log "building folio and bare"
(cd "$repo" && timeout 300 go build -o "$tmp/folio" . && timeout 300 go build -o "$tmp/bare" ./bench/bare) ||
  die "go build failed"

folio_port=$(free_port)
folio="http://127.0.0.1:$folio_port"
folio_env=(GOMAXPROCS=1 FOLIO_ADDR="127.0.0.1:$folio_port" FOLIO_LOG_FORMAT=json)
ready_wait=30
if [[ $BENCH_CONTENT == demo ]]; then
  folio_env=(-u CONTENTFUL_SPACE_ID "${folio_env[@]}")
else
  ready_wait=$BENCH_READY_WAIT
fi
log "starting folio ($BENCH_CONTENT content, GOMAXPROCS=1, core 0) on $folio"
env "${folio_env[@]}" taskset -c 0 "$tmp/folio" >"$tmp/folio.log" 2>&1 &
folio_pid=$!
wait_http "$folio/readyz" "$folio_pid" folio "$tmp/folio.log" "$ready_wait"

# The post: BENCH_POST, or the first slug on /blog.
post=${BENCH_POST:-$(curl -fsS --max-time 5 "$folio/blog" | grep -o '"slug":"[^"]*"' | head -n 1 | cut -d'"' -f4 || true)}
[[ -n $post ]] || die "no post slug found on /blog; set BENCH_POST"
endpoints=(/cv /blog "/blog/$post")

# The exact bytes folio serves, raw (curl without --compressed does not
# decode), as nginx's files: cv, blog, post and their .gz.
docroot="$tmp/www"
mkdir -p "$docroot"
file_of() { case $1 in /cv) echo cv ;; /blog) echo blog ;; *) echo post ;; esac }
for ep in "${endpoints[@]}"; do
  f="$docroot/$(file_of "$ep")"
  fetch "$folio$ep" "$f" -H 'Accept-Encoding: identity'
  fetch "$folio$ep" "$f.gz" -H 'Accept-Encoding: gzip'
  [[ $(header "$f.gz.hdr" Content-Encoding) == gzip ]] ||
    die "folio did not answer $ep with Content-Encoding: gzip for Accept-Encoding: gzip"
  gzip -t <"$f.gz" || die "folio's gzip body for $ep is not valid gzip"
  cmp -s <(gzip -dc <"$f.gz") "$f" || die "folio's gzip and identity bodies for $ep differ"
  log "$ep: $(wc -c <"$f") bytes, gzip $(wc -c <"$f.gz") bytes"
done

# ---------------------------------------------------------------- bare

bare_port=$(free_port)
bare="http://127.0.0.1:$bare_port"
log "starting bare (GOMAXPROCS=1, core 0) on $bare"
GOMAXPROCS=1 taskset -c 0 "$tmp/bare" -folio "$folio" -post "$post" -addr "127.0.0.1:$bare_port" \
  >"$tmp/bare.log" 2>&1 &
bare_pid=$!
wait_http "$bare/cv" "$bare_pid" bare "$tmp/bare.log"

# same_answer SERVER URL EP [HEADERS]: SERVER's gzip answer for EP has folio's
# bytes (and, when HEADERS is set, folio's headers but Date).
same_answer() {
  local name=$1 url=$2 ep=$3 f
  f="$docroot/$(file_of "$ep")"
  fetch "$url$ep" "$tmp/$name.gz" -H 'Accept-Encoding: gzip'
  [[ $(header "$tmp/$name.gz.hdr" Content-Encoding) == gzip ]] ||
    die "$name did not serve $ep pre-compressed; the comparison would be unfair"
  cmp "$f.gz" "$tmp/$name.gz" >&2 || die "$name and folio serve different gzip bytes for $ep"
  if [[ -n ${4:-} ]]; then
    cmp <(grep -iv '^date:' "$f.gz.hdr") <(grep -iv '^date:' "$tmp/$name.gz.hdr") >&2 ||
      die "$name and folio send different headers for $ep"
  fi
}
for ep in "${endpoints[@]}"; do same_answer bare "$bare" "$ep" headers; done
log "bare serves folio's bytes and headers for ${endpoints[*]}"

# ---------------------------------------------------------------- nginx

if [[ -n $have_nginx ]]; then
  nginx_port=$(free_port)
  nginx="http://127.0.0.1:$nginx_port"
  mkdir -p "$tmp/nginx"
  cat >"$tmp/nginx/nginx.conf" <<CONF
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
    location = /blog/$post { try_files /post =404; }
  }
}
CONF
  log "starting nginx (worker_processes 1, core 0) on $nginx"
  taskset -c 0 nginx -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" \
    >"$tmp/nginx/stdout.log" 2>&1 &
  nginx_pid=$!
  wait_http "$nginx/cv" "$nginx_pid" nginx "$tmp/nginx/error.log"
  mapfile -t nginx_workers < <(children "$nginx_pid")
  ((${#nginx_workers[@]} > 0)) || die "found no nginx worker under pid $nginx_pid"
  # A fair comparison needs the same payload: the gzip bytes must be identical.
  for ep in "${endpoints[@]}"; do same_answer nginx "$nginx" "$ep"; done
  log "nginx serves folio's gzip bytes for ${endpoints[*]}"
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

servers=(folio bare)
[[ -z $have_nginx ]] || servers+=(nginx)
per_run=$((${#endpoints[@]} * ${#servers[@]}))
log "$BENCH_RUNS runs of $per_run measurements, ${WARMUP_SECONDS}s warm-up + ${BENCH_SECONDS}s each" \
  "(about $((BENCH_RUNS * per_run * (WARMUP_SECONDS + BENCH_SECONDS + 1))) s)"
: >"$results"
for run in $(seq 1 "$BENCH_RUNS"); do
  for ep in "${endpoints[@]}"; do
    # Servers in turn, starting with a different one each run, so none
    # always goes first after a change of endpoint.
    for i in $(seq 0 $((${#servers[@]} - 1))); do
      server=${servers[$(((i + run - 1) % ${#servers[@]}))]}
      case $server in
      folio) run_wrk "$run" folio "$ep" "$folio$ep" "$folio_pid" ;;
      bare) run_wrk "$run" bare "$ep" "$bare$ep" "$bare_pid" ;;
      nginx) run_wrk "$run" nginx "$ep" "$nginx$ep" "$nginx_pid" "${nginx_workers[@]}" ;;
      esac
    done
  done
done

# ---------------------------------------------------------------- report

# Each cell: the median over the runs, then [min–max]. Ratios are taken per
# run (folio and its yardstick measured minutes apart at most), then summed up
# the same way.
awk -F'\t' -v runs="$BENCH_RUNS" -v eps="${endpoints[*]}" -v srvs="${servers[*]}" '
  function sortn(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  }
  # cell(KIND, FMT): median [min–max] of v[1..runs].
  function cell(fmt,   s, n, i) {
    n = 0
    for (i = 1; i <= runs; i++) if (i in v) s[++n] = v[i]
    if (n == 0) return ""
    sortn(s, n)
    if (n == 1) return sprintf(fmt, s[1])
    return sprintf(fmt " [" fmt "–" fmt "]", (n % 2) ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2, s[1], s[n])
  }
  function col(srv, ep, c, fmt,   i) { delete v; for (i = 1; i <= runs; i++) if ((i, srv, ep) in r) v[i] = r[i, srv, ep, c]; return cell(fmt) }
  function ratio(a, b, ep, c,   i) {
    delete v
    for (i = 1; i <= runs; i++) if ((i, a, ep) in r && (i, b, ep) in r && r[i, b, ep, c] > 0) v[i] = r[i, a, ep, c] / r[i, b, ep, c]
    return cell("%.2f")
  }
  { r[$1, $2, $3] = 1; r[$1, $2, $3, 4] = $4; r[$1, $2, $3, 5] = $5; r[$1, $2, $3, 6] = $6; r[$1, $2, $3, 7] = $7 }
  END {
    ne = split(eps, E, " "); ns = split(srvs, S, " "); nginx = (ns == 3)
    print "| endpoint | server | req/s | p50 ms | p99 ms | CPU µs/req | req/s ÷ bare | p99 ÷ bare | req/s ÷ nginx |"
    print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for (e = 1; e <= ne; e++) for (s = 1; s <= ns; s++) {
      srv = S[s]; ep = E[e]
      rb = pb = rn = ""
      if (srv == "folio") { rb = ratio("folio", "bare", ep, 4); pb = ratio("folio", "bare", ep, 6) }
      if (srv != "nginx" && nginx) rn = ratio(srv, "nginx", ep, 4)
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", ep, srv, col(srv, ep, 4, "%.0f"),
        col(srv, ep, 5, "%.2f"), col(srv, ep, 6, "%.2f"), col(srv, ep, 7, "%.1f"), rb, pb, rn
    }
  }' "$results"

echo
cpu=$(awk -F': *' '$1 ~ /^model name/ { print $2; exit }' /proc/cpuinfo)
pinned="folio and bare (GOMAXPROCS=1)"
if [[ -n $have_nginx ]]; then
  pinned+=" and $(nginx -v 2>&1 | sed 's|^nginx version: nginx/|nginx |') (worker_processes 1)"
fi
echo "Each cell: the median of $BENCH_RUNS runs [min–max]; ratios are taken within each run." \
  "Content: $BENCH_CONTENT; the post is /blog/$post." \
  "Machine: $ncpu CPUs, ${cpu:-unknown CPU}. wrk -t$WRK_THREADS -c$WRK_CONNS -d${BENCH_SECONDS}s --latency" \
  "-H 'Accept-Encoding: gzip' ran on core 1 (after a ${WARMUP_SECONDS}s warm-up per run);" \
  "$pinned were pinned to core 0 with one worker each."
[[ -z $busy_note ]] || echo "$busy_note"
# A server below 90% of its core while wrk's core is 90% busy or more was
# held back by the load generator (or by other work on the machine), not by
# itself: such a measurement says little about the server.
awk -F'\t' '$8 < 90 && $9 >= 90 { n++ } END {
  if (n) printf "WARNING: in %d of %d measurements the server used under 90%% of its core while wrk'"'"'s core was 90%% busy or more (see stderr): the load generator, or other work, bounded them.\n", n, NR }' "$results"
