#!/usr/bin/env bash
# Side by side, in one run: the Affinity balancer vs plain Jetty 12 ProxyHandler.Reverse vs Jetty
# ee10 BalancerServlet (stickySessions=true) vs HAProxy (cookie insert), in front of the same three
# nginx backends, all on 127.0.0.1, measured with the same wrk settings. See bench/README.md.
#
#   bench/compare.sh [--no-build] [--write] [--help]
#
# All proxies run at once (idle while another is measured), pinned to the same CPU; after each has
# warmed up, the measured runs go round robin over the proxies, REPS rounds, so that a slow spell of
# the machine hits every proxy alike. Ratios are taken within a round, and the median is reported.
#
# Environment (defaults in brackets):
#   DURATION [10s]  CONNECTIONS [50]  THREADS [1]  REPS [5]   (REPS rounds of one wrk run per proxy)
#   WARMUP [10s] WARMUP_ROUNDS [6] WARMUP_TOLERANCE [5]   (per Java proxy: rounds of WARMUP until
#                   two agree within WARMUP_TOLERANCE %, at most WARMUP_ROUNDS; WARMUP=0 skips it)
#   PROXY_CPU [0]   LOAD_CPU [1]      (taskset CPU lists; PIN=0 disables pinning)
#   JAVA_OPTS [-Xms256m -Xmx256m -XX:+UseParallelGC]   (the same for the three Java proxies)
#   JIT_PRIORITY [1]  (as root: the Java proxies' JIT compiler threads run at nice -10, see README)
#   ONE_BACKEND [1]   (also measure plain Jetty with every request to one backend; 0 skips it)
#   BENCHMARKS_FILE [<repo>/BENCHMARKS.md]   (what --write edits)
#   NOTE []         (an extra line written with the results)
#   MAX_SECONDS [1800]  (no new step starts after this long; each step has its own limit)
#   BUILD_MAX_SECONDS [900]  (limit for each of the two Maven builds)
#   AFFINITY_JAR [<repo>/balancer/target/affinity-balancer.jar]
#   COOKIE_ROWS [1]   (also measure issue 23's cookie-issuing cases: a second Affinity balancer with
#                   sliding expiry sent a stale cookie, and new clients without a cookie at Affinity and
#                   at HAProxy; 0 skips them)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIGINAL_ARGS=("$@")

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-50}"
THREADS="${THREADS:-1}"
REPS="${REPS:-5}"
WARMUP="${WARMUP:-10s}"
WARMUP_ROUNDS="${WARMUP_ROUNDS:-6}"
WARMUP_TOLERANCE="${WARMUP_TOLERANCE:-5}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
PIN="${PIN:-1}"
JAVA_OPTS="${JAVA_OPTS:--Xms256m -Xmx256m -XX:+UseParallelGC}"
BENCHMARKS_FILE="${BENCHMARKS_FILE:-$REPO/BENCHMARKS.md}"
NOTE="${NOTE:-}"
MAX_SECONDS="${MAX_SECONDS:-1800}"
JIT_PRIORITY="${JIT_PRIORITY:-1}"
ONE_BACKEND="${ONE_BACKEND:-1}"
BUILD_MAX_SECONDS="${BUILD_MAX_SECONDS:-900}"
COOKIE_ROWS="${COOKIE_ROWS:-1}"

BUILD=1
WRITE=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --write) WRITE=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

AFFINITY_JAR="${AFFINITY_JAR:-$REPO/balancer/target/affinity-balancer.jar}"
BENCH_JAR="$REPO/bench/target/benchmarks.jar"

BENCH_NAME=compare.sh
# shellcheck source=compare-common.sh
source "$REPO/bench/compare-common.sh"

DURATION_S="$(seconds_of "$DURATION")"
WARMUP_S="$(seconds_of "$WARMUP")"
[[ "$DURATION_S" =~ ^[0-9]+$ && "$DURATION_S" -gt 0 ]] || die "DURATION must be like 10s, got $DURATION"
[[ "$WARMUP_S" =~ ^[0-9]+$ ]] || die "WARMUP must be like 10s, got $WARMUP"
[[ "$WARMUP_ROUNDS" =~ ^[0-9]+$ && "$WARMUP_ROUNDS" -gt 0 ]] || die "WARMUP_ROUNDS must be a positive integer"
[[ "$REPS" =~ ^[0-9]+$ && "$REPS" -gt 0 ]] || die "REPS must be a positive integer, got $REPS"
[[ "$CONNECTIONS" =~ ^[0-9]+$ && "$CONNECTIONS" -gt 0 ]] || die "CONNECTIONS must be a positive integer"

# ---------------------------------------------------------------------------------------------
# 1. Tools.
install_missing wrk:wrk nginx:nginx haproxy:haproxy curl:curl taskset:util-linux

# ---------------------------------------------------------------------------------------------
# 2. Build.
if [[ "$BUILD" == 1 ]]; then
  log "building bench (shaded benchmarks.jar) and the launcher jar"
  (cd "$REPO" && timeout "$BUILD_MAX_SECONDS" mvn -B -ntp -q -P bench -pl bench -am package -DskipTests) \
    || die "the bench build failed"
  (cd "$REPO" && timeout "$BUILD_MAX_SECONDS" mvn -B -ntp -q -pl balancer -am package -Dmaven.test.skip=true) \
    || die "the launcher build failed"
fi
START_SECONDS=$SECONDS
[[ -f "$BENCH_JAR" ]] || die "$BENCH_JAR is missing (run without --no-build)"
[[ -f "$AFFINITY_JAR" ]] || die "$AFFINITY_JAR is missing (run without --no-build)"

WORK="$(mktemp -d /tmp/affinity-compare.XXXXXX)"
chmod 755 "$WORK"

read -r B1 B2 B3 P_AFF P_JETTY P_HAP P_JETTY1 P_SERVLET P_AFF_SLIDING <<<"$(free_ports 9)"
BACKENDS=("$B1" "$B2" "$B3")

# ---------------------------------------------------------------------------------------------
# 3. Three nginx backends, one process each (one worker), so that each counts its own requests.
start_backends

# ---------------------------------------------------------------------------------------------
# wrk runs and their parsing.
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

# Per proxy (key): URL, the cookie wrk sends, and the stickiness check after each run.
declare -A URL COOKIE CHECK PID_OF
KEYS=()
# Per run: RUN_RPS[key,round], RUN_P99[key,round]; totals of errors per key.
declare -A RUN_RPS RUN_P99 ERRS STICKY
STICKY_FAILS=0

# Affinity's own counters, from /affinity/status.json ("t1=123 t2=4 ..."), of the balancer on port $1 (default P_AFF).
affinity_requests() {
  curl -s --max-time 2 "http://127.0.0.1:${1:-$P_AFF}/affinity/status.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join(f"{t['"'"'id'"'"']}={t['"'"'requests'"'"']}" for g in s["groups"] for t in g["targets"]))'
}
affinity_verdict() { # total before after
  python3 - "$1" "$2" "$3" <<'PY'
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
}

record_verdict() { # key verdict
  log "$1: $2"
  if [[ "$2" == FAIL* ]]; then
    STICKY_FAILS=$(( STICKY_FAILS + 1 ))
    STICKY[$1]="FAIL"
  elif [[ "$2" == OK* && -z "${STICKY[$1]:-}" ]]; then
    STICKY[$1]="OK"
  fi
}

# One measured wrk run of <key> in round <r>, with its stickiness checks.
measure_run() { # key round
  local key="$1" r="$2" before after aff_before="" aff_after parsed rps p99 total e
  before="$(backend_counts)"
  [[ "$key" == affinity ]] && aff_before="$(affinity_requests)"
  [[ "$key" == affinity_sliding ]] && aff_before="$(affinity_requests "$P_AFF_SLIDING")"
  run_wrk "$WORK/$key-$r.txt" "$DURATION" "${URL[$key]}" "${COOKIE[$key]}"
  parsed="$(parse_wrk <"$WORK/$key-$r.txt")"
  read -r rps p99 total e <<<"$parsed"
  after="$(backend_counts)"
  case "${CHECK[$key]}" in
    sticky) record_verdict "$key" "$(backend_verdict 1 "$total" "$before" "$after")" ;;
    spread) log "$key: $(backend_verdict 0 "$total" "$before" "$after")" ;;
  esac
  if [[ "$key" == affinity ]]; then
    aff_after="$(affinity_requests)"
    record_verdict affinity "$(affinity_verdict "$total" "$aff_before" "$aff_after")"
  fi
  if [[ "$key" == affinity_sliding ]]; then
    aff_after="$(affinity_requests "$P_AFF_SLIDING")"
    record_verdict affinity_sliding "$(affinity_verdict "$total" "$aff_before" "$aff_after")"
  fi
  log "$key round $r/$REPS: $rps req/s, p99 ${p99} ms, $total requests, $e errors"
  RUN_RPS[$key,$r]="$rps"
  RUN_P99[$key,$r]="$p99"
  ERRS[$key]=$(( ${ERRS[$key]:-0} + e ))
  if [[ "$e" -gt 0 ]]; then
    log "WARN: $key had $e socket errors or non-2xx/3xx responses (see $WORK/$key-$r.txt)"
    KEEP_WORK=1
  fi
}

# Warm-up rounds of WARMUP until two in a row agree within WARMUP_TOLERANCE % (at most WARMUP_ROUNDS).
warm_up() { # key
  local key="$1" w prev="" cur
  [[ "$WARMUP_S" -gt 0 ]] || return 0
  for w in $(seq 1 "$WARMUP_ROUNDS"); do
    run_wrk "$WORK/$key-warmup-$w.txt" "$WARMUP" "${URL[$key]}" "${COOKIE[$key]}"
    cur="$(parse_wrk <"$WORK/$key-warmup-$w.txt" | awk '{print $1}')"
    log "$key: warm-up round $w ($WARMUP): $cur req/s"
    if [[ -n "$prev" ]] && python3 -c 'import sys; p, c, t = map(float, sys.argv[1:]); sys.exit(0 if p > 0 and abs(c - p) / p * 100 <= t else 1)' \
        "$prev" "$cur" "$WARMUP_TOLERANCE"; then
      return 0
    fi
    prev="$cur"
  done
}


# ---------------------------------------------------------------------------------------------
# 4. Start every proxy, each on its own port, all pinned to PROXY_CPU.
log "pinning: proxies on CPU ${PROXY_CPU}, wrk and nginx on CPU ${LOAD_CPU} (PIN=$PIN)"
# A JVM pinned to one core runs its JIT compiler threads against ~100 busy request threads: C2 got
# about 13 % of the core and needed minutes to finish (the proxies' numbers kept climbing for two
# minutes). At nice -10 the JIT is done in about 20 s. Same for all three Java proxies; root only
# (a raised priority needs CAP_SYS_NICE), elsewhere the warm-up is simply longer.
JIT_OPTS="$(jit_opts)"
JVM=(java $JAVA_OPTS $JIT_OPTS)

add_proxy() { # key url cookie check
  KEYS+=("$1"); URL[$1]="$2"; COOKIE[$1]="$3"; CHECK[$1]="$4"
}
add_proxy direct "http://127.0.0.1:$B1/" "" none

# a. Affinity.
AFF_YAML="$WORK/balancer.yaml"
{ echo "listen: { host: 127.0.0.1, port: $P_AFF }"; affinity_bench_yaml; } >"$AFF_YAML"
spawn "$WORK/affinity.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -jar "$AFFINITY_JAR" "$AFF_YAML"
PID_OF[affinity]=$LAST_PID
# a'. Affinity again, with sliding expiry (the product's default), for the stale-cookie row.
if [[ "$COOKIE_ROWS" == 1 ]]; then
  { echo "listen: { host: 127.0.0.1, port: $P_AFF_SLIDING }"; affinity_bench_yaml true; } >"$WORK/balancer-sliding.yaml"
  spawn "$WORK/affinity_sliding.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -jar "$AFFINITY_JAR" "$WORK/balancer-sliding.yaml"
  PID_OF[affinity_sliding]=$LAST_PID
fi
# b. Plain Jetty ProxyHandler.Reverse, round robin, no stickiness.
spawn "$WORK/jetty.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -cp "$BENCH_JAR" dev.affinity.bench.PlainJettyProxy \
  "$P_JETTY" "http://127.0.0.1:$B1" "http://127.0.0.1:$B2" "http://127.0.0.1:$B3"
PID_OF[jetty]=$LAST_PID
# b'. The same plain proxy with every request to one backend: the load shape a sticky balancer
# produces when one client is pinned (one busy nginx instead of three sharing CPU 1 with wrk).
if [[ "$ONE_BACKEND" == 1 ]]; then
  spawn "$WORK/jetty1.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -cp "$BENCH_JAR" dev.affinity.bench.PlainJettyProxy \
    "$P_JETTY1" "http://127.0.0.1:$B1"
  PID_OF[jetty1]=$LAST_PID
fi
# c. Jetty ee10 BalancerServlet, stickySessions=true: members t1..t3; JSESSIONID=<id>.t1 pins to t1.
spawn "$WORK/servlet.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -cp "$BENCH_JAR" dev.affinity.bench.BalancerServletProxy \
  "$P_SERVLET" "http://127.0.0.1:$B1" "http://127.0.0.1:$B2" "http://127.0.0.1:$B3"
PID_OF[servlet]=$LAST_PID
# d. HAProxy, cookie insert stickiness, one thread.
HAPROXY_BIN="$(command -v haproxy)"
cat >"$WORK/haproxy.cfg" <<CFG
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
CFG
"$HAPROXY_BIN" -c -q -f "$WORK/haproxy.cfg" || die "haproxy rejected its config"
spawn "$WORK/haproxy.out" "${ON_PROXY_CPU[@]}" "$HAPROXY_BIN" -db -f "$WORK/haproxy.cfg"
PID_OF[haproxy]=$LAST_PID

wait_http "http://127.0.0.1:$P_AFF/affinity/status.json" 60 "${PID_OF[affinity]}" || { tail -40 "$WORK/affinity.out" >&2; die "the Affinity balancer did not start"; }
if [[ "$COOKIE_ROWS" == 1 ]]; then
  wait_http "http://127.0.0.1:$P_AFF_SLIDING/affinity/status.json" 60 "${PID_OF[affinity_sliding]}" || { tail -40 "$WORK/affinity_sliding.out" >&2; die "the sliding Affinity balancer did not start"; }
fi
wait_http "http://127.0.0.1:$P_JETTY/" 60 "${PID_OF[jetty]}" || { tail -40 "$WORK/jetty.out" >&2; die "PlainJettyProxy did not start"; }
if [[ "$ONE_BACKEND" == 1 ]]; then
  wait_http "http://127.0.0.1:$P_JETTY1/" 60 "${PID_OF[jetty1]}" || { tail -40 "$WORK/jetty1.out" >&2; die "PlainJettyProxy (one backend) did not start"; }
fi
wait_http "http://127.0.0.1:$P_SERVLET/" 60 "${PID_OF[servlet]}" || { tail -40 "$WORK/servlet.out" >&2; die "BalancerServletProxy did not start"; }
wait_http "http://127.0.0.1:$P_HAP/" 10 "${PID_OF[haproxy]}" || { cat "$WORK/haproxy.out" >&2; die "haproxy did not start"; }

# The cookies each sticky client sends, and a check that they stick before any load.
AFF_COOKIE="$(sticky_cookie "http://127.0.0.1:$P_AFF/" AFFINITY)"
[[ -n "$AFF_COOKIE" ]] || die "Affinity gave no AFFINITY cookie on the first response"
HAP_COOKIE="$(sticky_cookie "http://127.0.0.1:$P_HAP/" SRV)"
[[ -n "$HAP_COOKIE" ]] || die "HAProxy gave no SRV cookie"
SERVLET_COOKIE="JSESSIONID=bench.t2"
same_twice() { # url cookie
  local a b
  a="$(curl -s --max-time 5 -H "Cookie: $2" "$1")"; b="$(curl -s --max-time 5 -H "Cookie: $2" "$1")"
  [[ -n "$a" && "$a" == "$b" ]] && echo "$a"
}
AFF_BODY="$(same_twice "http://127.0.0.1:$P_AFF/" "$AFF_COOKIE")" || die "the Affinity cookie did not stick"
SERVLET_BODY="$(same_twice "http://127.0.0.1:$P_SERVLET/" "$SERVLET_COOKIE")" || die "BalancerServlet did not stick to t2"
[[ "$SERVLET_BODY" == t2* ]] || die "BalancerServlet sent JSESSIONID=bench.t2 to '$SERVLET_BODY'"
log "affinity on $P_AFF pinned to '$AFF_BODY' (${#AFF_COOKIE}-byte cookie); plain Jetty on $P_JETTY; BalancerServlet on $P_SERVLET ($SERVLET_COOKIE -> '$SERVLET_BODY'); haproxy on $P_HAP ($HAP_COOKIE)"

add_proxy affinity "http://127.0.0.1:$P_AFF/" "$AFF_COOKIE" sticky
add_proxy jetty "http://127.0.0.1:$P_JETTY/" "" spread
[[ "$ONE_BACKEND" == 1 ]] && add_proxy jetty1 "http://127.0.0.1:$P_JETTY1/" "" none
add_proxy servlet "http://127.0.0.1:$P_SERVLET/" "$SERVLET_COOKIE" sticky
add_proxy haproxy "http://127.0.0.1:$P_HAP/" "$HAP_COOKIE" sticky

# Issue 23's cookie-issuing cases. A stale sliding cookie: the first cookie of the sliding balancer,
# replayed once its refresh granularity (36 s for PT1H) has passed, so every answer carries a refreshed
# cookie, as for a client that ignores Set-Cookie. New clients: no cookie at all, so every answer pins
# and sets a cookie (Affinity's fixed-expiry balancer, and HAProxy's cookie insert).
if [[ "$COOKIE_ROWS" == 1 ]]; then
  SLIDING_COOKIE="$(sticky_cookie "http://127.0.0.1:$P_AFF_SLIDING/" AFFINITY)"
  [[ -n "$SLIDING_COOKIE" ]] || die "the sliding Affinity balancer gave no AFFINITY cookie"
  same_twice "http://127.0.0.1:$P_AFF_SLIDING/" "$SLIDING_COOKIE" >/dev/null || die "the sliding Affinity cookie did not stick"
  log "waiting for the sliding cookie to be older than its refresh granularity (36 s)"
  STALE_DEADLINE=$(( SECONDS + 60 ))
  until [[ -n "$(sticky_cookie_with "http://127.0.0.1:$P_AFF_SLIDING/" AFFINITY "$SLIDING_COOKIE")" ]]; do
    [[ $SECONDS -lt $STALE_DEADLINE ]] || die "the sliding Affinity balancer never refreshed the cookie it issued"
    sleep 2
  done
  REFRESHED_1="$(sticky_cookie_with "http://127.0.0.1:$P_AFF_SLIDING/" AFFINITY "$SLIDING_COOKIE")"
  REFRESHED_2="$(sticky_cookie_with "http://127.0.0.1:$P_AFF_SLIDING/" AFFINITY "$SLIDING_COOKIE")"
  log "the stale sliding cookie is now refreshed on every answer ($( [[ "$REFRESHED_1" == "$REFRESHED_2" ]] && echo "one reused value" || echo "a new value each time"))"
  add_proxy affinity_sliding "http://127.0.0.1:$P_AFF_SLIDING/" "$SLIDING_COOKIE" sticky
  add_proxy affinity_new "http://127.0.0.1:$P_AFF/" "" spread
  add_proxy haproxy_new "http://127.0.0.1:$P_HAP/" "" spread
fi

# ---------------------------------------------------------------------------------------------
# 5. Warm-up, one proxy after the other, then REPS rounds; each round measures every proxy once, in
# an order that shifts by one each round.
log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency; $REPS rounds over ${#KEYS[@]} proxies; JIT priority: ${JIT_OPTS:-off}"
# nginx and HAProxy have no JIT to warm.
for key in "${KEYS[@]}"; do [[ "$key" == direct || "$key" == haproxy* ]] || warm_up "$key"; done
for r in $(seq 1 "$REPS"); do
  n=${#KEYS[@]}
  for i in $(seq 0 $(( n - 1 ))); do
    measure_run "${KEYS[$(( (i + r - 1) % n ))]}" "$r"
  done
done

for key in "${KEYS[@]}"; do
  [[ -n "${PID_OF[$key]:-}" ]] && ! kill -0 "${PID_OF[$key]}" 2>/dev/null && die "$key exited during the run (see $WORK/$key.out)"
done
AFF_LOG_LINES=$(wc -l <"$WORK/affinity.out")
if [[ "$AFF_LOG_LINES" -gt 1000 ]]; then
  log "WARN: the Affinity balancer wrote $AFF_LOG_LINES log lines during the run (DEBUG logging?); that costs throughput"
  KEEP_WORK=1
fi
AFF_ERROR_PATTERN='[] ](WARN|WARNING|ERROR|SEVERE)[ :]|^Exception in thread'
AFF_LOG_ERRORS=0
if grep -qE "$AFF_ERROR_PATTERN" "$WORK/affinity.out"; then
  log "WARN: the Affinity log has warnings or errors (first lines below; whole log in $WORK/affinity.out)"
  grep -m 10 -E "$AFF_ERROR_PATTERN" "$WORK/affinity.out" >&2 || true
  AFF_LOG_ERRORS=1
  KEEP_WORK=1
fi
if [[ -f "$WORK/affinity_sliding.out" ]] && grep -qE "$AFF_ERROR_PATTERN" "$WORK/affinity_sliding.out"; then
  log "WARN: the sliding Affinity balancer's log has warnings or errors (first lines below; whole log in $WORK/affinity_sliding.out)"
  grep -m 10 -E "$AFF_ERROR_PATTERN" "$WORK/affinity_sliding.out" >&2 || true
  AFF_LOG_ERRORS=1
  KEEP_WORK=1
fi

# ---------------------------------------------------------------------------------------------
# 6. Report.
runs_of() { # key array(RUN_RPS|RUN_P99) -> one value per line
  local key="$1" r
  for r in $(seq 1 "$REPS"); do
    if [[ "$2" == RUN_RPS ]]; then echo "${RUN_RPS[$key,$r]}"; else echo "${RUN_P99[$key,$r]}"; fi
  done
}
# Median (and min-max) of the per-round ratios a/b: both measured within minutes of each other.
ratio_stats() { # a b -> "median min max"
  local r list=()
  for r in $(seq 1 "$REPS"); do list+=("${RUN_RPS[$1,$r]}" "${RUN_RPS[$2,$r]}"); done
  python3 - "${list[@]}" <<'PY'
import statistics, sys
v = [float(x) for x in sys.argv[1:]]
q = [a / b for a, b in zip(v[0::2], v[1::2]) if b > 0]
print(f"{statistics.median(q):.2f} {min(q):.2f} {max(q):.2f}" if q else "n/a n/a n/a")
PY
}
goal() { # value goal -> met / NOT met
  python3 -c "import sys; print('met' if float(sys.argv[1]) >= float(sys.argv[2]) else 'NOT met')" "$1" "$2" 2>/dev/null || echo "n/a"
}

label() {
  case "$1" in
    direct) echo "nginx direct (reference, no proxy)" ;;
    affinity) echo "**Affinity balancer** (duration stickiness, fixed expiry, cookie sent)" ;;
    affinity_sliding) echo "Affinity balancer, sliding expiry, a stale cookie sent (every answer refreshes it)" ;;
    affinity_new) echo "Affinity balancer, new clients (no cookie: every answer pins and sets one)" ;;
    haproxy_new) echo "HAProxy, new clients (no cookie: every answer inserts one)" ;;
    jetty) echo "Jetty 12 ProxyHandler.Reverse (round robin, no stickiness)" ;;
    jetty1) echo "Jetty 12 ProxyHandler.Reverse, every request to one backend (the pinned load shape)" ;;
    servlet) echo "Jetty 12 ee10 BalancerServlet (stickySessions=true, JSESSIONID=….t2 sent)" ;;
    haproxy) echo "HAProxy $(haproxy -v 2>/dev/null | awk 'NR==1 {print $3}') (cookie insert, nbthread 1)" ;;
  esac
}
stick_note() {
  case "$1" in
    direct) echo "-" ;;
    jetty) echo "none (spread over 3)" ;;
    jetty1) echo "one backend by construction" ;;
    affinity_new|haproxy_new) echo "none (new clients, spread over 3)" ;;
    *) echo "${STICKY[$1]:-?}" ;;
  esac
}

SHORT=""
if [[ "$DURATION_S" -lt 10 || "$REPS" -lt 3 ]]; then
  SHORT="**Short smoke run (DURATION=$DURATION, REPS=$REPS, WARMUP=$WARMUP): not a result, only proof that the script works.**"
fi
ENV_PREFIX="DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS REPS=$REPS WARMUP=$WARMUP"
[[ "$WARMUP_ROUNDS" != 6 ]] && ENV_PREFIX="$ENV_PREFIX WARMUP_ROUNDS=$WARMUP_ROUNDS"
[[ "$WARMUP_TOLERANCE" != 5 ]] && ENV_PREFIX="$ENV_PREFIX WARMUP_TOLERANCE=$WARMUP_TOLERANCE"
[[ "$JAVA_OPTS" != "-Xms256m -Xmx256m -XX:+UseParallelGC" ]] && ENV_PREFIX="$ENV_PREFIX JAVA_OPTS='$JAVA_OPTS'"
[[ "$JIT_PRIORITY" != 1 ]] && ENV_PREFIX="$ENV_PREFIX JIT_PRIORITY=$JIT_PRIORITY"
[[ "$ONE_BACKEND" != 1 ]] && ENV_PREFIX="$ENV_PREFIX ONE_BACKEND=$ONE_BACKEND"
[[ "$COOKIE_ROWS" != 1 ]] && ENV_PREFIX="$ENV_PREFIX COOKIE_ROWS=$COOKIE_ROWS"
[[ "$PIN" != 1 ]] && ENV_PREFIX="$ENV_PREFIX PIN=0"
[[ "$AFFINITY_JAR" != "$REPO/balancer/target/affinity-balancer.jar" ]] && ENV_PREFIX="$ENV_PREFIX AFFINITY_JAR=$AFFINITY_JAR"
[[ "$PIN" == 1 && ( "$PROXY_CPU" != 0 || "$LOAD_CPU" != 1 ) ]] && ENV_PREFIX="$ENV_PREFIX PROXY_CPU=$PROXY_CPU LOAD_CPU=$LOAD_CPU"
COMMAND="$ENV_PREFIX bench/compare.sh${ORIGINAL_ARGS[*]:+ ${ORIGINAL_ARGS[*]}}"
CPU_MODEL="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)"
JAVA_VERSION="$(java -version 2>&1 | head -1)"
if [[ "$PIN" == 1 ]]; then
  PIN_NOTE="every proxy pinned to CPU $PROXY_CPU (\`taskset -c $PROXY_CPU\`; HAProxy with \`nbthread 1\`), wrk and the three nginx backends pinned to CPU $LOAD_CPU"
else
  PIN_NOTE="no CPU pinning"
fi

read -r R_JETTY R_JETTY_MIN R_JETTY_MAX <<<"$(ratio_stats affinity jetty)"
read -r R_SERVLET R_SERVLET_MIN R_SERVLET_MAX <<<"$(ratio_stats affinity servlet)"
read -r R_HAP R_HAP_MIN R_HAP_MAX <<<"$(ratio_stats affinity haproxy)"

report() {
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Command: \`$COMMAND\`"
  echo
  echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr), $JAVA_VERSION, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); $PIN_NOTE. All proxies run at once on 127.0.0.1 (idle while another is measured) in front of the same three nginx backends (one worker each, fixed 200 body, access log off). Java proxies: \`$JAVA_OPTS${JIT_OPTS:+ $JIT_OPTS}\`, 200 server threads, the same upstream \`HttpClient\` buffer and connection limits. Load: \`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` (with the sticky cookie where there is one). Each Java proxy warmed up in rounds of $WARMUP until two agreed within $WARMUP_TOLERANCE % (at most $WARMUP_ROUNDS); then $REPS rounds, each measuring every proxy once in a shifting order. Table: median of the $REPS runs (min–max); ratios: median of the per-round ratios (min–max)."
  if [[ -n "$SHORT" ]]; then echo; echo "$SHORT"; fi
  if [[ -n "$NOTE" ]]; then echo; echo "$NOTE"; fi
  echo
  echo "| proxy | req/s median (min–max) | p99 ms median | errors | stickiness held |"
  echo "| --- | ---: | ---: | ---: | --- |"
  local k rps min max p99
  for k in "${KEYS[@]}"; do
    rps="$(runs_of "$k" RUN_RPS | median)"
    min="$(runs_of "$k" RUN_RPS | sort -g | head -1)"
    max="$(runs_of "$k" RUN_RPS | sort -g | tail -1)"
    p99="$(runs_of "$k" RUN_P99 | median)"
    printf '| %s | %.0f (%.0f–%.0f) | %.2f | %s | %s |\n' "$(label "$k")" "$rps" "$min" "$max" "$p99" "${ERRS[$k]:-0}" "$(stick_note "$k")"
  done
  echo
  echo "| ratio (req/s, per round) | median | min–max | goal |"
  echo "| --- | ---: | ---: | --- |"
  echo "| Affinity / plain Jetty ProxyHandler | **${R_JETTY}×** | ${R_JETTY_MIN}–${R_JETTY_MAX} | ≥ 1.0×: $(goal "$R_JETTY" 1.0) |"
  echo "| Affinity / Jetty BalancerServlet (sticky) | **${R_SERVLET}×** | ${R_SERVLET_MIN}–${R_SERVLET_MAX} | ≥ 1.3×: $(goal "$R_SERVLET" 1.3) |"
  echo "| Affinity / HAProxy | **${R_HAP}×** | ${R_HAP_MIN}–${R_HAP_MAX} | ≥ 0.6×: $(goal "$R_HAP" 0.6) |"
  if [[ "$ONE_BACKEND" == 1 ]]; then
    read -r a b c <<<"$(ratio_stats affinity jetty1)"
    echo "| Affinity / plain Jetty on one backend | ${a}× | ${b}–${c} | (same load shape) |"
  fi
  if [[ "$COOKIE_ROWS" == 1 ]]; then
    read -r a b c <<<"$(ratio_stats affinity_sliding affinity)"
    echo "| Affinity sliding, stale cookie / Affinity fixed expiry | ${a}× | ${b}–${c} | (what refreshing costs) |"
    read -r a b c <<<"$(ratio_stats affinity_sliding haproxy)"
    echo "| Affinity sliding, stale cookie / HAProxy | ${a}× | ${b}–${c} | |"
    read -r a b c <<<"$(ratio_stats affinity_new haproxy_new)"
    echo "| Affinity new clients / HAProxy new clients | **${a}×** | ${b}–${c} | ≥ 0.7×: $(goal "$a" 0.7) |"
  fi
  if [[ "$STICKY_FAILS" -gt 0 ]]; then
    echo
    echo "**FAIL: stickiness did not hold in $STICKY_FAILS run(s); these numbers measure a non-sticky path.**"
  fi
  if [[ "$AFF_LOG_ERRORS" == 1 ]]; then
    echo
    echo "Note: the Affinity balancer logged warnings or errors during this run."
  fi
  if [[ "$AFF_LOG_LINES" -gt 1000 ]]; then
    echo
    echo "Note: the Affinity balancer wrote $AFF_LOG_LINES log lines during the run; logging that much lowers its numbers."
  fi
}

REPORT="$(report)"
echo
echo "$REPORT"
echo

if [[ "$WRITE" == 1 ]]; then
  write_section "$BENCHMARKS_FILE" "<!-- compare:begin -->" "<!-- compare:end -->" \
    "## Load: Affinity vs Jetty ProxyHandler vs Jetty BalancerServlet vs HAProxy"  log "wrote the comparison section of $BENCHMARKS_FILE"
fi

if [[ "$STICKY_FAILS" -gt 0 ]]; then
  die "stickiness did not hold in $STICKY_FAILS run(s) (see above)"
fi
