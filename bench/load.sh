#!/usr/bin/env bash
# Load test: the Affinity balancer vs plain Jetty 12 ProxyHandler.Reverse vs HAProxy, side by side,
# in front of the same three nginx backends, all on 127.0.0.1. See bench/README.md.
#
#   bench/load.sh [--no-build] [--write] [--help]
#
# Environment (defaults in brackets):
#   DURATION [10s]  CONNECTIONS [50]  THREADS [1]  REPS [3]
#   WARMUP [10s] WARMUP_ROUNDS [4] WARMUP_TOLERANCE [5]   (warm-up rounds of WARMUP until two agree
#                   within WARMUP_TOLERANCE %, at most WARMUP_ROUNDS; WARMUP=0 skips it)
#   PROXY_CPU [0]   LOAD_CPU [1]      (taskset CPU lists; PIN=0 disables pinning)
#   JAVA_OPTS [-Xms256m -Xmx256m -XX:+UseParallelGC]   (same for both Java proxies)
#   BENCHMARKS_FILE [<repo>/BENCHMARKS.md]   (what --write edits)
#   NOTE []         (an extra line written with the results)
#   MAX_SECONDS [1200]  (no new step starts after this long; each step has its own limit)
#   BUILD_MAX_SECONDS [900]  (limit for each of the two Maven builds)
#   AFFINITY_JAR [<repo>/jetty-handler/target/affinity-balancer.jar]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIGINAL_ARGS=("$@")

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-50}"
THREADS="${THREADS:-1}"
REPS="${REPS:-3}"
WARMUP="${WARMUP:-10s}"
WARMUP_ROUNDS="${WARMUP_ROUNDS:-4}"
WARMUP_TOLERANCE="${WARMUP_TOLERANCE:-5}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
PIN="${PIN:-1}"
JAVA_OPTS="${JAVA_OPTS:--Xms256m -Xmx256m -XX:+UseParallelGC}"
BENCHMARKS_FILE="${BENCHMARKS_FILE:-$REPO/BENCHMARKS.md}"
NOTE="${NOTE:-}"
MAX_SECONDS="${MAX_SECONDS:-1200}"
BUILD_MAX_SECONDS="${BUILD_MAX_SECONDS:-900}"

BUILD=1
WRITE=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --write) WRITE=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "load.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

AFFINITY_JAR="${AFFINITY_JAR:-$REPO/jetty-handler/target/affinity-balancer.jar}"
BENCH_JAR="$REPO/bench/target/benchmarks.jar"

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'load.sh: FAIL: %s\n' "$*" >&2; exit 1; }

# Seconds in a wrk duration such as 10s, 2m, 1h or 10.
seconds_of() {
  local d="$1"
  case "$d" in
    *h) echo $(( ${d%h} * 3600 )) ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}
DURATION_S="$(seconds_of "$DURATION")"
WARMUP_S="$(seconds_of "$WARMUP")"
[[ "$DURATION_S" =~ ^[0-9]+$ && "$DURATION_S" -gt 0 ]] || die "DURATION must be like 10s, got $DURATION"
[[ "$WARMUP_S" =~ ^[0-9]+$ ]] || die "WARMUP must be like 10s, got $WARMUP"
[[ "$WARMUP_ROUNDS" =~ ^[0-9]+$ && "$WARMUP_ROUNDS" -gt 0 ]] || die "WARMUP_ROUNDS must be a positive integer"
[[ "$REPS" =~ ^[0-9]+$ && "$REPS" -gt 0 ]] || die "REPS must be a positive integer, got $REPS"
[[ "$CONNECTIONS" =~ ^[0-9]+$ && "$CONNECTIONS" -gt 0 ]] || die "CONNECTIONS must be a positive integer"

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: everything started here is stopped on exit, by pid.
WORK=""
PIDS=()
KEEP_WORK=0

stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ $rc -ne 0 || "$KEEP_WORK" == 1 ]]; then
      # Keep the logs of a failed or suspicious run.
      log "logs kept in $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts "$@" (a program, never a shell function) in the background and remembers its pid.
# taskset execs the program, so the pid is the program's own.
spawn() {
  local logfile="$1"; shift
  "$@" >"$logfile" 2>&1 </dev/null &
  PIDS+=("$!")
  LAST_PID=$!
}

stop_last() {
  stop_pid "$1"
  local keep=() p
  for p in "${PIDS[@]}"; do [[ "$p" != "$1" ]] && keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

# CPU pinning: the proxies on PROXY_CPU; wrk and the nginx backends on LOAD_CPU. These are command
# prefixes (arrays, possibly empty), not functions, so that a spawned pid is the program's own pid.
ON_PROXY_CPU=()
ON_LOAD_CPU=()
set_pinning() {
  if [[ "$PIN" == 1 ]]; then
    ON_PROXY_CPU=(taskset -c "$PROXY_CPU")
    ON_LOAD_CPU=(taskset -c "$LOAD_CPU")
  else
    ON_PROXY_CPU=()
    ON_LOAD_CPU=()
  fi
}

# ---------------------------------------------------------------------------------------------
# 1. Tools.
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || need+=(haproxy)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing ${need[*]} from Debian"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"
command -v python3 >/dev/null 2>&1 || die "python3 is needed (ports, JSON, BENCHMARKS.md)"
command -v java >/dev/null 2>&1 || die "java 17 is needed"

if [[ "$PIN" == 1 ]]; then
  ncpu=$(nproc)
  if [[ "$ncpu" -lt 2 ]]; then
    log "only $ncpu CPU: pinning disabled"
    PIN=0
  fi
fi

set_pinning

# The whole run is bounded: every step has its own time limit, and no new step starts after
# MAX_SECONDS (counted from here, the build excluded).
check_deadline() {
  if [[ $(( SECONDS - START_SECONDS )) -ge "$MAX_SECONDS" ]]; then
    die "time limit of ${MAX_SECONDS}s (MAX_SECONDS) reached, stopping"
  fi
}

# ---------------------------------------------------------------------------------------------
# 2. Build.
if [[ "$BUILD" == 1 ]]; then
  log "building bench (shaded benchmarks.jar) and the launcher jar"
  (cd "$REPO" && timeout "$BUILD_MAX_SECONDS" mvn -B -ntp -q -P bench -pl bench -am package -Dmaven.test.skip=true) \
    || die "the bench build failed"
  (cd "$REPO" && timeout "$BUILD_MAX_SECONDS" mvn -B -ntp -q -pl jetty-handler -am package -Dmaven.test.skip=true) \
    || die "the launcher build failed"
fi
START_SECONDS=$SECONDS
[[ -f "$BENCH_JAR" ]] || die "$BENCH_JAR is missing (run without --no-build)"
[[ -f "$AFFINITY_JAR" ]] || die "$AFFINITY_JAR is missing (run without --no-build)"

WORK="$(mktemp -d /tmp/affinity-load.XXXXXX)"
chmod 755 "$WORK"

# N free ports on 127.0.0.1 (bound together so they differ, then released).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
}

wait_http() { # url seconds [pid that must stay alive]
  local url="$1" limit="$2" pid="${3:-}" end=$(( SECONDS + $2 ))
  while [[ $SECONDS -lt $end ]]; do
    if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

read -r B1 B2 B3 P_AFF P_JETTY P_HAP P_JETTY1 <<<"$(free_ports 7)"
BACKENDS=("$B1" "$B2" "$B3")

# ---------------------------------------------------------------------------------------------
# 3. Three nginx backends, one process each (one worker), so that each counts its own requests.
NGINX_BIN="$(command -v nginx)"
for i in 1 2 3; do
  port="${BACKENDS[$((i-1))]}"
  prefix="$WORK/nginx-t$i"
  mkdir -p "$prefix/logs" "$prefix/tmp"
  cat >"$prefix/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server_tokens off;
  default_type text/plain;
  server {
    listen 127.0.0.1:$port;
    location = /nginx_status { stub_status; }
    location / { return 200 "t$i $port\n"; }
  }
}
EOF
  spawn "$WORK/nginx-t$i.out" "${ON_LOAD_CPU[@]}" "$NGINX_BIN" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log"
done
for port in "${BACKENDS[@]}"; do
  wait_http "http://127.0.0.1:$port/" 10 || die "nginx on port $port did not start (see $WORK/nginx-t*)"
done
log "nginx backends on ${BACKENDS[*]}"

# Requests each backend has served so far (nginx stub_status; the status request itself included).
backend_counts() {
  local port
  for port in "${BACKENDS[@]}"; do
    curl -s --max-time 2 "http://127.0.0.1:$port/nginx_status" | awk 'NR==3 {print $3}'
  done | tr '\n' ' '
}

# ---------------------------------------------------------------------------------------------
# wrk runs and their parsing.
# Prints: "<req/s> <p99 ms> <total requests> <errors>" where errors = socket errors + non-2xx/3xx.
parse_wrk() {
  awk '
    /Requests\/sec:/ { rps = $2 }
    /^ +99%/ { v = $2; unit = v; sub(/^[0-9.]+/, "", unit); num = v; sub(/[a-z]+$/, "", num);
               if (unit == "us") p99 = num / 1000; else if (unit == "ms") p99 = num;
               else if (unit == "s") p99 = num * 1000; else if (unit == "m") p99 = num * 60000; else p99 = num }
    / requests in / { total = $1 }
    /Socket errors:/ { gsub(/,/, ""); errs += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errs += $5 }
    END { printf "%s %.3f %s %d\n", (rps == "" ? 0 : rps), p99, (total == "" ? 0 : total), errs }'
}

WRK_BIN="$(command -v wrk)"
# run_wrk <outfile> <duration> <url> [cookie]
run_wrk() {
  local out="$1" dur="$2" url="$3" cookie="${4:-}" secs
  secs="$(seconds_of "$dur")"
  check_deadline
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$dur" --latency)
  [[ -n "$cookie" ]] && args+=(-H "Cookie: $cookie")
  if ! timeout $(( secs + 30 )) "${ON_LOAD_CPU[@]}" "$WRK_BIN" "${args[@]}" "$url" >"$out" 2>&1; then
    cat "$out" >&2
    die "wrk failed against $url"
  fi
}

median() { # numbers on stdin -> median (mean of the two middle ones for an even count)
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Results: NAME -> "rps p99 errors verdict"
declare -A RPS P99 ERRS STICKY
ORDER=()

# measure <key> <url> <cookie> <check-fn>
# Warm-up, then REPS runs; check-fn is called as: check-fn before|after <run> <wrk total>.
measure() {
  local key="$1" url="$2" cookie="$3" check="$4" r
  ORDER+=("$key")
  # Warm-up in rounds of WARMUP until two rounds in a row agree within WARMUP_TOLERANCE percent
  # (at most WARMUP_ROUNDS): a JVM pinned to one core needs a while for its JIT.
  if [[ "$WARMUP_S" -gt 0 ]]; then
    local w prev="" cur
    for w in $(seq 1 "$WARMUP_ROUNDS"); do
      run_wrk "$WORK/$key-warmup-$w.txt" "$WARMUP" "$url" "$cookie"
      cur="$(parse_wrk <"$WORK/$key-warmup-$w.txt" | awk '{print $1}')"
      log "$key: warm-up round $w ($WARMUP): $cur req/s"
      if [[ -n "$prev" ]] && python3 -c 'import sys; p, c, t = map(float, sys.argv[1:]); sys.exit(0 if p > 0 and abs(c - p) / p * 100 <= t else 1)' \
          "$prev" "$cur" "$WARMUP_TOLERANCE"; then
        break
      fi
      prev="$cur"
    done
  fi
  local rps_list=() p99_list=() errs=0
  for r in $(seq 1 "$REPS"); do
    [[ -n "$check" ]] && "$check" before "$r" 0
    run_wrk "$WORK/$key-$r.txt" "$DURATION" "$url" "$cookie"
    local parsed rps p99 total e
    parsed="$(parse_wrk <"$WORK/$key-$r.txt")"
    read -r rps p99 total e <<<"$parsed"
    [[ -n "$check" ]] && "$check" after "$r" "$total"
    log "$key run $r/$REPS: $rps req/s, p99 ${p99} ms, $total requests, $e errors"
    rps_list+=("$rps"); p99_list+=("$p99"); errs=$(( errs + e ))
  done
  RPS[$key]="$(printf '%s\n' "${rps_list[@]}" | median)"
  P99[$key]="$(printf '%s\n' "${p99_list[@]}" | median)"
  ERRS[$key]="$errs"
  if [[ "$errs" -gt 0 ]]; then
    log "WARN: $key had $errs socket errors or non-2xx/3xx responses (see $WORK/$key-*.txt)"
    KEEP_WORK=1
  fi
}

# Per-backend deltas between "before" and "after", checked against the wrk total.
# sticky=1: one backend must have taken >= 99% of the wrk requests and the others almost none.
# sticky=0: informational (round robin should spread them evenly).
BEFORE_COUNTS=""
STICKY_FAILS=0
check_backends() { # key sticky phase run total
  local key="$1" sticky="$2" phase="$3" run="$4" total="$5"
  if [[ "$phase" == before ]]; then BEFORE_COUNTS="$(backend_counts)"; return 0; fi
  local after verdict
  after="$(backend_counts)"
  verdict="$(python3 - "$sticky" "$total" "$BEFORE_COUNTS" "$after" <<'PY'
import sys
sticky, total = sys.argv[1] == "1", int(sys.argv[2])
before = [int(x) for x in sys.argv[3].split()]
after = [int(x) for x in sys.argv[4].split()]
d = [a - b for a, b in zip(after, before)]
shares = " ".join(f"t{i+1}={v}" for i, v in enumerate(d))
if sticky:
    top = max(d); rest = sum(d) - top
    ok = total > 0 and top >= 0.99 * total and rest <= max(10, 0.01 * total)
    print(("OK" if ok else "FAIL") + f" backends saw {shares} for {total} wrk requests")
else:
    print(f"INFO backends saw {shares} for {total} wrk requests")
PY
)"
  log "$key run $run: $verdict"
  if [[ "$verdict" == FAIL* ]]; then
    STICKY_FAILS=$(( STICKY_FAILS + 1 ))
    STICKY[$key]="FAIL"
  elif [[ -z "${STICKY[$key]:-}" ]]; then
    STICKY[$key]="${verdict%% *}"
  fi
}

# Affinity's own counters, from /affinity/status.json: one target's "requests" must grow by the
# wrk count (give or take the status requests), the others not at all.
AFF_BEFORE=""
affinity_requests() {
  curl -s --max-time 2 "http://127.0.0.1:$P_AFF/affinity/status.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join(f"{t['"'"'id'"'"']}={t['"'"'requests'"'"']}" for g in s["groups"] for t in g["targets"]))'
}
check_affinity() { # phase run total
  local phase="$1" run="$2" total="$3"
  if [[ "$phase" == before ]]; then
    AFF_BEFORE="$(affinity_requests)"
    check_backends affinity 1 before "$run" 0
    return 0
  fi
  check_backends affinity 1 after "$run" "$total"
  local after verdict
  after="$(affinity_requests)"
  verdict="$(python3 - "$total" "$AFF_BEFORE" "$after" <<'PY'
import sys
total = int(sys.argv[1])
parse = lambda s: dict(kv.split("=") for kv in s.split())
before, after = parse(sys.argv[2]), parse(sys.argv[3])
d = {k: int(after[k]) - int(before.get(k, 0)) for k in after}
shares = " ".join(f"{k}=+{v}" for k, v in d.items())
top = max(d.values()) if d else 0
rest = sum(d.values()) - top
ok = total > 0 and top >= 0.99 * total and rest <= max(10, 0.01 * total)
print(("OK" if ok else "FAIL") + f" status.json requests {shares} for {total} wrk requests")
PY
)"
  log "affinity run $run: $verdict"
  if [[ "$verdict" == FAIL* ]]; then
    STICKY_FAILS=$(( STICKY_FAILS + 1 ))
    STICKY[affinity]="FAIL"
  fi
}
check_haproxy() { check_backends haproxy 1 "$@"; }
check_jetty() { check_backends jetty 0 "$@"; }
check_direct() { :; }

# First response's cookies named like $2 (all shards), as "name=value; name2=value2".
sticky_cookie() { # url name-prefix
  curl -s --max-time 5 -D - -o /dev/null "$1" \
    | tr -d '\r' | awk -v p="$2" 'tolower($1) == "set-cookie:" { split($2, kv, ";"); if (index(kv[1], p) == 1) print kv[1] }' \
    | paste -sd ';' | sed 's/;/; /g'
}

# ---------------------------------------------------------------------------------------------
# 4./5. The runs, one proxy at a time (the others are not running), each on its own port.
log "pinning: proxies on CPU ${PROXY_CPU}, wrk and nginx on CPU ${LOAD_CPU} (PIN=$PIN)"
log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, $REPS runs after up to $WARMUP_ROUNDS warm-up rounds of $WARMUP"

# Reference: wrk straight at one nginx backend.
measure direct "http://127.0.0.1:$B1/" "" ""

# a. Affinity.
AFF_YAML="$WORK/balancer.yaml"
cat >"$AFF_YAML" <<EOF
listen: { host: 127.0.0.1, port: $P_AFF }
keys:
  - { id: bench1, secret: "YWZmaW5pdHktbG9hZC1iZW5jaC1maXhlZC1rZXktMDE=" }
targetGroups:
  - name: bench
    algorithm: round_robin
    # Fixed expiry: wrk replays one cookie and never takes a refreshed one, so with sliding expiry
    # every request after the refresh granularity (36 s for PT1H) would re-seal and measure the
    # new-pin path instead of the sticky hit. A browser takes the refresh: one re-seal per 36 s.
    stickiness: { type: duration, duration: PT1H, sliding: false }
    healthCheck: { path: /, interval: PT5S, timeout: PT2S }
    targets:
      - { id: t1, uri: "http://127.0.0.1:$B1" }
      - { id: t2, uri: "http://127.0.0.1:$B2" }
      - { id: t3, uri: "http://127.0.0.1:$B3" }
admin: { path: /affinity }
EOF
# shellcheck disable=SC2086
spawn "$WORK/affinity.out" "${ON_PROXY_CPU[@]}" java $JAVA_OPTS -jar "$AFFINITY_JAR" "$AFF_YAML"
AFF_PID=$LAST_PID
wait_http "http://127.0.0.1:$P_AFF/affinity/status.json" 60 "$AFF_PID" || { tail -40 "$WORK/affinity.out" >&2; die "the Affinity balancer did not start"; }
AFF_COOKIE="$(sticky_cookie "http://127.0.0.1:$P_AFF/" AFFINITY)"
[[ -n "$AFF_COOKIE" ]] || die "Affinity gave no AFFINITY cookie on the first response"
AFF_BODY1="$(curl -s --max-time 5 -H "Cookie: $AFF_COOKIE" "http://127.0.0.1:$P_AFF/")"
AFF_BODY2="$(curl -s --max-time 5 -H "Cookie: $AFF_COOKIE" "http://127.0.0.1:$P_AFF/")"
[[ -n "$AFF_BODY1" && "$AFF_BODY1" == "$AFF_BODY2" ]] || die "Affinity cookie did not stick: '$AFF_BODY1' then '$AFF_BODY2'"
log "affinity on $P_AFF, pinned to '$AFF_BODY1' with a ${#AFF_COOKIE}-byte cookie"
measure affinity "http://127.0.0.1:$P_AFF/" "$AFF_COOKIE" check_affinity
AFF_STATUS_END="$(curl -s --max-time 2 "http://127.0.0.1:$P_AFF/affinity/status.json" || true)"
printf '%s\n' "$AFF_STATUS_END" >"$WORK/affinity-status.json"
AFF_LOG_LINES=$(wc -l <"$WORK/affinity.out")
if [[ "$AFF_LOG_LINES" -gt 1000 ]]; then
  log "WARN: the Affinity balancer wrote $AFF_LOG_LINES log lines during the run (DEBUG logging?); that costs throughput"
  KEEP_WORK=1
fi
# Warnings and errors (logback and java.util.logging level names), and uncaught exceptions.
AFF_ERROR_PATTERN='[] ](WARN|WARNING|ERROR|SEVERE)[ :]|^Exception in thread'
if grep -qE "$AFF_ERROR_PATTERN" "$WORK/affinity.out"; then
  log "WARN: the Affinity log has warnings or errors (first lines below; whole log in $WORK/affinity.out)"
  grep -m 10 -E "$AFF_ERROR_PATTERN" "$WORK/affinity.out" >&2 || true
  AFF_LOG_ERRORS=1
  KEEP_WORK=1
else
  AFF_LOG_ERRORS=0
fi
stop_last "$AFF_PID"

# b. Plain Jetty ProxyHandler.Reverse, round robin, no stickiness.
# shellcheck disable=SC2086
spawn "$WORK/jetty.out" "${ON_PROXY_CPU[@]}" java $JAVA_OPTS -cp "$BENCH_JAR" dev.affinity.bench.PlainJettyProxy \
  "$P_JETTY" "http://127.0.0.1:$B1" "http://127.0.0.1:$B2" "http://127.0.0.1:$B3"
JETTY_PID=$LAST_PID
wait_http "http://127.0.0.1:$P_JETTY/" 60 "$JETTY_PID" || { tail -40 "$WORK/jetty.out" >&2; die "PlainJettyProxy did not start"; }
log "plain Jetty proxy on $P_JETTY"
measure jetty "http://127.0.0.1:$P_JETTY/" "" check_jetty
stop_last "$JETTY_PID"

# b'. The same plain proxy with all requests to one backend: the load shape a sticky balancer (and
# HAProxy above) produces when one client is pinned. With one busy nginx process instead of three
# sharing CPU 1 with wrk, the backend side gets less CPU; this row shows what that alone costs.
# shellcheck disable=SC2086
spawn "$WORK/jetty1.out" "${ON_PROXY_CPU[@]}" java $JAVA_OPTS -cp "$BENCH_JAR" dev.affinity.bench.PlainJettyProxy \
  "$P_JETTY1" "http://127.0.0.1:$B1"
JETTY1_PID=$LAST_PID
wait_http "http://127.0.0.1:$P_JETTY1/" 60 "$JETTY1_PID" || { tail -40 "$WORK/jetty1.out" >&2; die "PlainJettyProxy (one backend) did not start"; }
log "plain Jetty proxy, one backend, on $P_JETTY1"
measure jetty1 "http://127.0.0.1:$P_JETTY1/" "" ""
stop_last "$JETTY1_PID"

# c. HAProxy, cookie insert stickiness.
HAPROXY_BIN="$(command -v haproxy)"
cat >"$WORK/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$P_HAP
  default_backend be
backend be
  balance roundrobin
  cookie SRV insert indirect nocache
  option httpchk GET /
  server t1 127.0.0.1:$B1 cookie t1 check inter 5s
  server t2 127.0.0.1:$B2 cookie t2 check inter 5s
  server t3 127.0.0.1:$B3 cookie t3 check inter 5s
EOF
"$HAPROXY_BIN" -c -q -f "$WORK/haproxy.cfg" || die "haproxy rejected its config"
spawn "$WORK/haproxy.out" "${ON_PROXY_CPU[@]}" "$HAPROXY_BIN" -db -f "$WORK/haproxy.cfg"
HAP_PID=$LAST_PID
wait_http "http://127.0.0.1:$P_HAP/" 10 "$HAP_PID" || { cat "$WORK/haproxy.out" >&2; die "haproxy did not start"; }
HAP_COOKIE="$(sticky_cookie "http://127.0.0.1:$P_HAP/" SRV)"
[[ -n "$HAP_COOKIE" ]] || die "HAProxy gave no SRV cookie"
log "haproxy on $P_HAP, cookie $HAP_COOKIE"
measure haproxy "http://127.0.0.1:$P_HAP/" "$HAP_COOKIE" check_haproxy
stop_last "$HAP_PID"

# ---------------------------------------------------------------------------------------------
# 6. Report.
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.2f}' if b else 'n/a')" "$1" "$2"; }
R_JETTY="$(ratio "${RPS[affinity]}" "${RPS[jetty]}")"
R_HAP="$(ratio "${RPS[affinity]}" "${RPS[haproxy]}")"
P_JETTY_R="$(ratio "${P99[affinity]}" "${P99[jetty]}")"
P_HAP_R="$(ratio "${P99[affinity]}" "${P99[haproxy]}")"
GOAL="met"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 1.0 else 1)" "$R_JETTY" 2>/dev/null || GOAL="NOT met"

label() {
  case "$1" in
    direct) echo "nginx direct (reference, no proxy)" ;;
    affinity) echo "Affinity balancer (duration stickiness, fixed expiry, cookie sent)" ;;
    jetty) echo "Jetty 12 ProxyHandler.Reverse (round robin, no stickiness)" ;;
    jetty1) echo "Jetty 12 ProxyHandler.Reverse, every request to one backend (the pinned load shape)" ;;
    haproxy) echo "HAProxy $(haproxy -v 2>/dev/null | awk 'NR==1 {print $3}') (cookie insert, nbthread 1)" ;;
  esac
}
stick_note() {
  case "$1" in
    direct) echo "-" ;;
    jetty) echo "none (spread over 3)" ;;
    jetty1) echo "one backend by construction" ;;
    *) echo "${STICKY[$1]:-?}" ;;
  esac
}

SHORT=""
if [[ "$DURATION_S" -lt 10 || "$REPS" -lt 3 || "$WARMUP_S" -lt 10 ]]; then
  SHORT="**Short smoke run (DURATION=$DURATION, REPS=$REPS, WARMUP=$WARMUP): not a result, only proof that the script works.**"
fi
ENV_PREFIX="DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS REPS=$REPS WARMUP=$WARMUP"
[[ "$WARMUP_ROUNDS" != 4 ]] && ENV_PREFIX="$ENV_PREFIX WARMUP_ROUNDS=$WARMUP_ROUNDS"
[[ "$WARMUP_TOLERANCE" != 5 ]] && ENV_PREFIX="$ENV_PREFIX WARMUP_TOLERANCE=$WARMUP_TOLERANCE"
[[ "$JAVA_OPTS" != "-Xms256m -Xmx256m -XX:+UseParallelGC" ]] && ENV_PREFIX="$ENV_PREFIX JAVA_OPTS='$JAVA_OPTS'"
[[ "$PIN" != 1 ]] && ENV_PREFIX="$ENV_PREFIX PIN=0"
[[ "$AFFINITY_JAR" != "$REPO/jetty-handler/target/affinity-balancer.jar" ]] && ENV_PREFIX="$ENV_PREFIX AFFINITY_JAR=$AFFINITY_JAR"
[[ "$PIN" == 1 && ( "$PROXY_CPU" != 0 || "$LOAD_CPU" != 1 ) ]] && ENV_PREFIX="$ENV_PREFIX PROXY_CPU=$PROXY_CPU LOAD_CPU=$LOAD_CPU"
COMMAND="$ENV_PREFIX bench/load.sh${ORIGINAL_ARGS[*]:+ ${ORIGINAL_ARGS[*]}}"
CPU_MODEL="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)"
JAVA_VERSION="$(java -version 2>&1 | head -1)"
if [[ "$PIN" == 1 ]]; then
  PIN_NOTE="each proxy pinned to CPU $PROXY_CPU (\`taskset -c $PROXY_CPU\`; HAProxy with \`nbthread 1\`), wrk and the three nginx backends pinned to CPU $LOAD_CPU"
else
  PIN_NOTE="no CPU pinning"
fi

report() {
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Command: \`$COMMAND\`"
  echo
  echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr), $JAVA_VERSION, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); $PIN_NOTE. One proxy runs at a time, on 127.0.0.1, in front of the same three nginx backends (one worker each, fixed 200 body, access log off). Java proxies: \`$JAVA_OPTS\`. Load: \`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` (with the sticky cookie where there is one), median of $REPS runs, after warm-up rounds of $WARMUP until two rounds agree within $WARMUP_TOLERANCE % (at most $WARMUP_ROUNDS)."
  if [[ -n "$SHORT" ]]; then echo; echo "$SHORT"; fi
  if [[ -n "$NOTE" ]]; then echo; echo "$NOTE"; fi
  echo
  echo "| proxy | req/s (median) | p99 latency ms (median) | errors | stickiness held |"
  echo "| --- | ---: | ---: | ---: | --- |"
  local k
  for k in "${ORDER[@]}"; do
    printf '| %s | %.0f | %.2f | %s | %s |\n' "$(label "$k")" "${RPS[$k]}" "${P99[$k]}" "${ERRS[$k]}" "$(stick_note "$k")"
  done
  echo
  echo "Ratios (req/s): Affinity / Jetty ProxyHandler = **${R_JETTY}×** (goal ≥ 1.0×: $GOAL); Affinity / HAProxy = **${R_HAP}×**; Affinity / Jetty ProxyHandler on one backend = **$(ratio "${RPS[affinity]}" "${RPS[jetty1]}")×**."
  echo "Ratios (p99, lower is better): Affinity / Jetty ProxyHandler = ${P_JETTY_R}×; Affinity / HAProxy = ${P_HAP_R}×."
  if [[ "$STICKY_FAILS" -gt 0 ]]; then
    echo
    echo "**FAIL: stickiness did not hold in $STICKY_FAILS run(s); these numbers measure a non-sticky path.**"
  fi
  if [[ "${AFF_LOG_ERRORS:-0}" == 1 ]]; then
    echo
    echo "Note: the Affinity balancer logged warnings or errors during this run."
  fi
  if [[ "${AFF_LOG_LINES:-0}" -gt 1000 ]]; then
    echo
    echo "Note: the Affinity balancer wrote $AFF_LOG_LINES log lines during the run; logging that much lowers its numbers."
  fi
}

REPORT="$(report)"
echo
echo "$REPORT"
echo

if [[ "$WRITE" == 1 ]]; then
  REPORT="$REPORT" python3 - "$BENCHMARKS_FILE" <<'PY'
import os, sys, tempfile
path = sys.argv[1]
begin, end = "<!-- load:begin -->", "<!-- load:end -->"
heading = "## Load: balancer vs Jetty ProxyHandler vs HAProxy"
block = begin + "\n" + os.environ["REPORT"].strip() + "\n" + end
# Re-read right before writing: other sections of the file may have changed meanwhile.
text = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Benchmarks\n"
if begin in text and end in text and text.index(begin) < text.index(end):
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    if heading not in text:
        text = text.rstrip("\n") + "\n\n" + heading + "\n\n" + block + "\n"
    else:
        i = text.index(heading) + len(heading)
        text = text[:i] + "\n\n" + block + "\n\n" + text[i:].lstrip("\n")
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".bench-")
with os.fdopen(fd, "w", encoding="utf-8") as f:
    f.write(text)
os.chmod(tmp, 0o644)
os.replace(tmp, path)
PY
  log "wrote the load section of $BENCHMARKS_FILE"
fi

if [[ "$STICKY_FAILS" -gt 0 ]]; then
  die "stickiness did not hold in $STICKY_FAILS run(s) (see above)"
fi
