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
#   AFFINITY_JAVA_OPTS []  (JVM flags for the Affinity balancer: none, as the README's
#                   `java -jar affinity-balancer.jar balancer.yaml`; the launcher's defaults apply)
#   JAVA_OPTS []    (JVM flags for the two Jetty peers: none, the JVM's defaults, like Affinity's)
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
#   FIXED_RATE [1]  (then latency at a fixed rate: Affinity, HAProxy and with FLOOR MinimalRelay --policy
#                   at FIXED_FRACTION [50] % of HAProxy's median req/s, FIXED_REPS [3] runs each of
#                   FIXED_DURATION [DURATION] after FIXED_WARMUP [3s], with bench's FixedRateLoad on
#                   CONNECTIONS connections; 0 skips it)
#   FLOOR [1]       (also measure dev.affinity.bench.MinimalRelay: the least a Java process does to relay a
#                   sticky hit, no HTTP parser, nothing added; the JVM's floor beside HAProxy; 0 skips it)
# Every row also gives the proxy process's CPU time per request (utime + stime of all its threads,
# JIT and GC included, over each run: bench/cpu-common.sh), and the CPU ratio Affinity / HAProxy.
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
# What a user gets: no JVM flags (no heap, no GC choice) unless asked for.
AFFINITY_JAVA_OPTS="${AFFINITY_JAVA_OPTS:-}"
JAVA_OPTS="${JAVA_OPTS:-}"
BENCHMARKS_FILE="${BENCHMARKS_FILE:-$REPO/BENCHMARKS.md}"
NOTE="${NOTE:-}"
MAX_SECONDS="${MAX_SECONDS:-1800}"
JIT_PRIORITY="${JIT_PRIORITY:-1}"
ONE_BACKEND="${ONE_BACKEND:-1}"
BUILD_MAX_SECONDS="${BUILD_MAX_SECONDS:-900}"
COOKIE_ROWS="${COOKIE_ROWS:-1}"
FIXED_RATE="${FIXED_RATE:-1}"
FLOOR="${FLOOR:-1}"
FIXED_FRACTION="${FIXED_FRACTION:-50}"
FIXED_DURATION="${FIXED_DURATION:-$DURATION}"
FIXED_WARMUP="${FIXED_WARMUP:-3s}"
FIXED_REPS="${FIXED_REPS:-3}"

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
FIXED_DURATION_S="$(seconds_of "$FIXED_DURATION")"
FIXED_WARMUP_S="$(seconds_of "$FIXED_WARMUP")"
[[ "$FIXED_DURATION_S" =~ ^[0-9]+$ && "$FIXED_DURATION_S" -gt 0 ]] || die "FIXED_DURATION must be like 10s, got $FIXED_DURATION"
[[ "$FIXED_WARMUP_S" =~ ^[0-9]+$ ]] || die "FIXED_WARMUP must be like 3s, got $FIXED_WARMUP"
[[ "$FIXED_REPS" =~ ^[0-9]+$ && "$FIXED_REPS" -gt 0 ]] || die "FIXED_REPS must be a positive integer, got $FIXED_REPS"
[[ "$FIXED_FRACTION" =~ ^[0-9]+$ && "$FIXED_FRACTION" -gt 0 && "$FIXED_FRACTION" -le 100 ]] || die "FIXED_FRACTION must be a percentage (1-100), got $FIXED_FRACTION"

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

read -r B1 B2 B3 P_AFF P_JETTY P_HAP P_JETTY1 P_SERVLET P_AFF_SLIDING P_FLOOR P_FLOOR_POLICY <<<"$(free_ports 11)"
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

# Per proxy (key): URL, the cookie wrk sends, the stickiness check after each run, and which process
# serves it (PROC: a key of PID_OF; the new-client rows are served by the fixed-expiry balancer and HAProxy).
declare -A URL COOKIE CHECK PID_OF PROC
KEYS=()
# Per run: RUN_RPS[key,round], RUN_P99[key,round], RUN_CPU[key,round] (CPU µs per request of the
# proxy process over the run); totals of errors per key.
# RUN_SYS[key,round]: of RUN_CPU, the part spent in the kernel; RUN_USR: the rest (the proxy's own code).
declare -A RUN_RPS RUN_P99 RUN_CPU RUN_SYS RUN_USR ERRS STICKY
STICKY_FAILS=0

# GC pauses of the fixed-expiry Affinity balancer (the process behind the keys affinity and affinity_new)
# during measured runs: gc_lines before a run, then gc_pauses_since <n> <load> after it appends each
# pause of the run (ms) to $WORK/gc-<load>.txt and the run's seconds to GC_SECONDS[load].
declare -A GC_SECONDS
gc_lines() { [[ -f "$AFF_GC_LOG" ]] && wc -l <"$AFF_GC_LOG" || echo 0; }
gc_pauses_since() { # lines-before load seconds
  touch "$WORK/gc-$2.txt"
  [[ -f "$AFF_GC_LOG" ]] && tail -n +"$(( $1 + 1 ))" "$AFF_GC_LOG" \
    | awk '/ Pause / { v = $NF; if (sub(/ms$/, "", v)) print v }' >>"$WORK/gc-$2.txt"
  GC_SECONDS[$2]=$(( ${GC_SECONDS[$2]:-0} + $3 ))
}

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
  local key="$1" r="$2" before after aff_before="" aff_after parsed rps p99 total e pid="" user0=0 sys0=0 user1=0 sys1=0
  before="$(backend_counts)"
  [[ "$key" == affinity ]] && aff_before="$(affinity_requests)"
  [[ "$key" == affinity_sliding ]] && aff_before="$(affinity_requests "$P_AFF_SLIDING")"
  [[ -n "${PROC[$key]:-}" ]] && pid="${PID_OF[${PROC[$key]}]}"
  [[ -n "$pid" ]] && read -r user0 sys0 <<<"$(proc_ticks "$pid")"
  local gc0; gc0="$(gc_lines)"
  run_wrk "$WORK/$key-$r.txt" "$DURATION" "${URL[$key]}" "${COOKIE[$key]}"
  [[ -n "$pid" ]] && read -r user1 sys1 <<<"$(proc_ticks "$pid")"
  [[ "${PROC[$key]:-}" == affinity ]] && gc_pauses_since "$gc0" "$key" "$DURATION_S"
  parsed="$(parse_wrk <"$WORK/$key-$r.txt")"
  read -r rps p99 total e <<<"$parsed"
  RUN_CPU[$key,$r]="$( [[ -n "$pid" ]] && cpu_us_per_request $(( user1 - user0 + sys1 - sys0 )) "$total" || echo n/a)"
  RUN_SYS[$key,$r]="$( [[ -n "$pid" ]] && cpu_us_per_request $(( sys1 - sys0 )) "$total" || echo n/a)"
  RUN_USR[$key,$r]="$( [[ -n "$pid" ]] && cpu_us_per_request $(( user1 - user0 )) "$total" || echo n/a)"
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
  log "$key round $r/$REPS: $rps req/s, p99 ${p99} ms, CPU ${RUN_CPU[$key,$r]} µs/request, $total requests, $e errors"
  RUN_RPS[$key,$r]="$rps"
  RUN_P99[$key,$r]="$p99"
  ERRS[$key]=$(( ${ERRS[$key]:-0} + e ))
  if [[ "$e" -gt 0 ]]; then
    log "WARN: $key had $e socket errors or non-2xx/3xx responses (see $WORK/$key-$r.txt)"
    KEEP_WORK=1
  fi
}

runs_of_rps() { # key -> its measured req/s, one per line
  local r
  for r in $(seq 1 "$REPS"); do echo "${RUN_RPS[$1,$r]}"; done
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
AFF_JVM=(java $AFFINITY_JAVA_OPTS $JIT_OPTS)

add_proxy() { # key url cookie check [process: a key of PID_OF, default the key itself]
  KEYS+=("$1"); URL[$1]="$2"; COOKIE[$1]="$3"; CHECK[$1]="$4"; PROC[$1]="${5-$1}"
}
add_proxy direct "http://127.0.0.1:$B1/" "" none ""

# a. Affinity.
AFF_YAML="$WORK/balancer.yaml"
{ echo "listen: { host: 127.0.0.1, port: $P_AFF }"; affinity_bench_yaml; } >"$AFF_YAML"
# Its GC pauses go to a log of their own (one more output; the user's flags stay as they are), so that
# the pauses during each measured run can be counted (the issue's "GC pause p99 under load").
AFF_GC_LOG="$WORK/affinity-gc.log"
spawn "$WORK/affinity.out" "${ON_PROXY_CPU[@]}" "${AFF_JVM[@]}" "-Xlog:gc:file=$AFF_GC_LOG:uptime" -jar "$AFFINITY_JAR" "$AFF_YAML"
PID_OF[affinity]=$LAST_PID
# a'. Affinity again, with sliding expiry (the product's default), for the stale-cookie row.
if [[ "$COOKIE_ROWS" == 1 ]]; then
  { echo "listen: { host: 127.0.0.1, port: $P_AFF_SLIDING }"; affinity_bench_yaml true; } >"$WORK/balancer-sliding.yaml"
  spawn "$WORK/affinity_sliding.out" "${ON_PROXY_CPU[@]}" "${AFF_JVM[@]}" -jar "$AFFINITY_JAR" "$WORK/balancer-sliding.yaml"
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
# c'. The JVM's floor: a relay with no HTTP parser that forwards by the AFFINITY cookie's hash.
if [[ "$FLOOR" == 1 ]]; then
  spawn "$WORK/floor.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -cp "$BENCH_JAR" dev.affinity.bench.MinimalRelay \
    "$P_FLOOR" "http://127.0.0.1:$B1" "http://127.0.0.1:$B2" "http://127.0.0.1:$B3"
  PID_OF[floor]=$LAST_PID
  # The same with core's exchange on every request (route the real cookie, answered, finished).
  spawn "$WORK/floor_policy.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -cp "$BENCH_JAR" dev.affinity.bench.MinimalRelay \
    "$P_FLOOR_POLICY" "http://127.0.0.1:$B1" "http://127.0.0.1:$B2" "http://127.0.0.1:$B3" \
    --policy "$(affinity_bench_yaml | awk -F'"' '/secret:/ {print $2; exit}')"
  PID_OF[floor_policy]=$LAST_PID
fi
# d. HAProxy, cookie insert stickiness, one thread.
start_haproxy "$P_HAP"
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
if [[ "$FLOOR" == 1 ]]; then
  wait_http "http://127.0.0.1:$P_FLOOR/" 30 "${PID_OF[floor]}" || { tail -40 "$WORK/floor.out" >&2; die "MinimalRelay did not start"; }
  wait_http "http://127.0.0.1:$P_FLOOR_POLICY/" 30 "${PID_OF[floor_policy]}" || { tail -40 "$WORK/floor_policy.out" >&2; die "MinimalRelay --policy did not start"; }
fi

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
# The floor relay is sent Affinity's cookie: it picks a backend by the value's hash, so it sticks too.
[[ "$FLOOR" == 1 ]] && add_proxy floor "http://127.0.0.1:$P_FLOOR/" "$AFF_COOKIE" sticky
[[ "$FLOOR" == 1 ]] && add_proxy floor_policy "http://127.0.0.1:$P_FLOOR_POLICY/" "$AFF_COOKIE" sticky

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
  add_proxy affinity_new "http://127.0.0.1:$P_AFF/" "" spread affinity
  add_proxy haproxy_new "http://127.0.0.1:$P_HAP/" "" spread haproxy
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

# ---------------------------------------------------------------------------------------------
# 5b. Latency at a fixed rate, below saturation (at saturation p99 is mostly queueing in front of a
# full core): Affinity and HAProxy at FIXED_FRACTION % of HAProxy's median rate above, with a
# generator that counts latency from each request's intended send time (bench FixedRateLoad: open
# model, no coordinated omission), FIXED_REPS runs each in alternating order.
declare -A FIX FIX_CPU
FIXED_RPS=""
# One fixed-rate run of <key> in round <r>: FIX[key,r,<field>] from the generator's FIXED_RATE line.
fixed_run() { # key round
  local key="$1" r="$2" out="$WORK/fixed-$1-$2.txt" pid ticks0 ticks1 rc=0 line field
  check_deadline
  pid="${PID_OF[${PROC[$key]}]}"
  local args=(--rate "$FIXED_RPS" --connections "$CONNECTIONS" --duration "$FIXED_DURATION" --warmup "$FIXED_WARMUP")
  [[ -n "${COOKIE[$key]}" ]] && args+=(--header "Cookie: ${COOKIE[$key]}")
  ticks0="$(proc_cpu_ticks "$pid")"
  local gc0; gc0="$(gc_lines)"
  timeout $(( FIXED_DURATION_S + FIXED_WARMUP_S + 60 )) "${ON_LOAD_CPU[@]}" java -cp "$BENCH_JAR" \
    dev.affinity.bench.FixedRateLoad "${args[@]}" "${URL[$key]}" >"$out" 2>&1 || rc=$?
  ticks1="$(proc_cpu_ticks "$pid")"
  # Warm-up included, like the CPU figure: the pauses of the whole generator run.
  [[ "$key" == affinity ]] && gc_pauses_since "$gc0" fixed $(( FIXED_DURATION_S + FIXED_WARMUP_S ))
  line="$(grep -m1 '^FIXED_RATE ' "$out" || true)"
  if [[ -z "$line" ]]; then
    cat "$out" >&2
    die "FixedRateLoad failed against ${URL[$key]} (exit $rc)"
  fi
  for field in $line; do
    [[ "$field" == *=* ]] && FIX[$key,$r,${field%%=*}]="${field#*=}"
  done
  # CPU over the whole generator run (its warm-up included) over every answer of it.
  FIX_CPU[$key,$r]="$(cpu_us_per_request $(( ticks1 - ticks0 )) "${FIX[$key,$r,answered_all]}")"
  log "$key fixed rate $r/$FIXED_REPS: ${FIX[$key,$r,completed]}/${FIX[$key,$r,scheduled]} answered at $FIXED_RPS req/s, p50 ${FIX[$key,$r,p50_us]} µs, p99 ${FIX[$key,$r,p99_us]} µs, p99.9 ${FIX[$key,$r,p999_us]} µs, CPU ${FIX_CPU[$key,$r]} µs/request, errors ${FIX[$key,$r,errors]}, rate held: ${FIX[$key,$r,held]}"
  if [[ "${FIX[$key,$r,errors]}" != 0 || "${FIX[$key,$r,non2xx]}" != 0 || "${FIX[$key,$r,held]}" != true ]]; then
    log "WARN: $key at a fixed rate had errors or did not keep up (see $out)"
    KEEP_WORK=1
  fi
}
if [[ "$FIXED_RATE" == 1 ]]; then
  HAP_MAX="$(runs_of_rps haproxy | median)"
  FIXED_RPS="$(python3 -c 'import sys; print(max(1, round(float(sys.argv[1]) * int(sys.argv[2]) / 100)))' "$HAP_MAX" "$FIXED_FRACTION")"
  log "fixed rate: $FIXED_RPS req/s ($FIXED_FRACTION % of HAProxy's median $HAP_MAX req/s), $FIXED_REPS runs of $FIXED_DURATION after $FIXED_WARMUP per proxy"
  # With the floor, MinimalRelay --policy runs too: what a Java relay with core's exchange, one selector
  # thread and nothing of Jetty's does to the tail at the same rate (the JVM's share of the p99).
  FIXED_KEYS=(affinity haproxy)
  [[ "$FLOOR" == 1 ]] && FIXED_KEYS+=(floor_policy)
  for r in $(seq 1 "$FIXED_REPS"); do
    # Each round starts one later in the list, so no proxy always follows the same one.
    order=("${FIXED_KEYS[@]:$(( (r - 1) % ${#FIXED_KEYS[@]} ))}" "${FIXED_KEYS[@]:0:$(( (r - 1) % ${#FIXED_KEYS[@]} ))}")
    for key in "${order[@]}"; do fixed_run "$key" "$r"; done
  done
fi

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
runs_of() { # key array(RUN_RPS|RUN_P99|RUN_CPU) -> one value per line
  local key="$1" r
  local -n runs="$2"
  for r in $(seq 1 "$REPS"); do echo "${runs[$key,$r]}"; done
}
# Median (and min-max) of the per-round ratios a/b: both measured within minutes of each other.
ratio_stats() { # a b [array, default RUN_RPS] -> "median min max"
  local r list=()
  local -n runs="${3:-RUN_RPS}"
  for r in $(seq 1 "$REPS"); do list+=("${runs[$1,$r]}" "${runs[$2,$r]}"); done
  python3 - "${list[@]}" <<'PY'
import statistics, sys
def num(x):
    try: return float(x)
    except ValueError: return None
v = [num(x) for x in sys.argv[1:]]
q = [a / b for a, b in zip(v[0::2], v[1::2]) if a is not None and b]
print(f"{statistics.median(q):.2f} {min(q):.2f} {max(q):.2f}" if q else "n/a n/a n/a")
PY
}
# One row of a ratio table, "| label | median× | min–max | note |", from ratio_stats a b array; with a
# goal (">= 0.8" or "<= 1.25") the median is in bold and the note is the goal and whether it is met.
ratio_row() { # label a b [array (RUN_RPS)] [note] [goal]
  local m lo hi med="" note="${5:-}"
  read -r m lo hi <<<"$(ratio_stats "$2" "$3" "${4:-RUN_RPS}")"
  med="${m}×"
  case "${6:-}" in
    ">= "*) med="**${m}×**"; note="≥ ${6#>= }×: $(goal "$m" "${6#>= }")" ;;
    "<= "*) med="**${m}×**"; note="≤ ${6#<= }×: $(goal_at_most "$m" "${6#<= }")" ;;
  esac
  echo "| $1 | $med | ${lo}–${hi} |${note:+ $note} |"
}
goal() { # value goal -> met / NOT met (value >= goal)
  python3 -c "import sys; print('met' if float(sys.argv[1]) >= float(sys.argv[2]) else 'NOT met')" "$1" "$2" 2>/dev/null || echo "n/a"
}
goal_at_most() { # value goal -> met / NOT met (value <= goal)
  python3 -c "import sys; print('met' if float(sys.argv[1]) <= float(sys.argv[2]) else 'NOT met')" "$1" "$2" 2>/dev/null || echo "n/a"
}
# Median (min-max) over the fixed-rate runs of FIX[key,r,field] / 1000 (µs to ms), or of FIX_CPU (µs).
fixed_stats() { # key field|cpu -> "median min max"
  local r vals=()
  for r in $(seq 1 "$FIXED_REPS"); do
    if [[ "$2" == cpu ]]; then vals+=("${FIX_CPU[$1,$r]}"); else vals+=("${FIX[$1,$r,$2]}"); fi
  done
  python3 - "$2" "${vals[@]}" <<'PY'
import statistics, sys
scale = 1 if sys.argv[1] == "cpu" else 1000
v = [float(x) / scale for x in sys.argv[2:] if x not in ("", "n/a")]
print(f"{statistics.median(v):.3f} {min(v):.3f} {max(v):.3f}" if v else "n/a n/a n/a")
PY
}
# Median (min-max) over the fixed-rate rounds of FIX[a,r,field] / FIX[b,r,field].
fixed_ratio() { # a b field -> "median min max"
  local r list=()
  for r in $(seq 1 "$FIXED_REPS"); do list+=("${FIX[$1,$r,$3]}" "${FIX[$2,$r,$3]}"); done
  python3 - "${list[@]}" <<'PY'
import statistics, sys
v = [float(x) for x in sys.argv[1:]]
q = [a / b for a, b in zip(v[0::2], v[1::2]) if b > 0]
print(f"{statistics.median(q):.2f} {min(q):.2f} {max(q):.2f}" if q else "n/a n/a n/a")
PY
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
    floor) echo "MinimalRelay: the JVM's floor (one selector thread, no HTTP parser, cookie hash, nothing added)" ;;
    floor_policy) echo "MinimalRelay --policy: the floor plus core's exchange (the cookie opened and routed, answered, finished)" ;;
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
[[ -n "$AFFINITY_JAVA_OPTS" ]] && ENV_PREFIX="$ENV_PREFIX AFFINITY_JAVA_OPTS='$AFFINITY_JAVA_OPTS'"
[[ -n "$JAVA_OPTS" ]] && ENV_PREFIX="$ENV_PREFIX JAVA_OPTS='$JAVA_OPTS'"
[[ "$FIXED_RATE" != 1 ]] && ENV_PREFIX="$ENV_PREFIX FIXED_RATE=$FIXED_RATE"
[[ "$FIXED_RATE" == 1 && "$FIXED_FRACTION" != 50 ]] && ENV_PREFIX="$ENV_PREFIX FIXED_FRACTION=$FIXED_FRACTION"
[[ "$FIXED_RATE" == 1 && "$FIXED_DURATION" != "$DURATION" ]] && ENV_PREFIX="$ENV_PREFIX FIXED_DURATION=$FIXED_DURATION"
[[ "$FIXED_RATE" == 1 && "$FIXED_WARMUP" != 3s ]] && ENV_PREFIX="$ENV_PREFIX FIXED_WARMUP=$FIXED_WARMUP"
[[ "$FIXED_RATE" == 1 && "$FIXED_REPS" != 3 ]] && ENV_PREFIX="$ENV_PREFIX FIXED_REPS=$FIXED_REPS"
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
  echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr), $JAVA_VERSION, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); $PIN_NOTE. All proxies run at once on 127.0.0.1 (idle while another is measured) in front of the same three nginx backends (one worker each, fixed 200 body, access log off). JVM flags: Affinity \`${AFFINITY_JAVA_OPTS:-none}\` (\`none\` is plain \`java -jar affinity-balancer.jar\`; the launcher's own defaults apply either way), the Jetty peers \`${JAVA_OPTS:-none}\`${JIT_OPTS:+; all three also \`$JIT_OPTS\` (JIT compiler threads at nice -10: when code is compiled, not what it compiles to)}; Affinity's server pool at the launcher's default (8 threads per CPU, 32 to 200), the Jetty peers' at 200 threads; the same upstream \`HttpClient\` buffer and connection limits. Load: \`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` (with the sticky cookie where there is one). Each Java proxy warmed up in rounds of $WARMUP until two agreed within $WARMUP_TOLERANCE % (at most $WARMUP_ROUNDS); then $REPS rounds, each measuring every proxy once in a shifting order. Table: median of the $REPS runs (min–max); ratios: median of the per-round ratios (min–max). CPU µs/request: the proxy process's CPU time (utime + stime from \`/proc/PID/stat\`, every thread, JIT and GC included) over each wrk run, divided by the requests wrk completed; of which in the kernel: stime alone (system calls, and on loopback the TCP work of the receiving side), the rest is the proxy's own code."
  if [[ -n "$SHORT" ]]; then echo; echo "$SHORT"; fi
  if [[ -n "$NOTE" ]]; then echo; echo "$NOTE"; fi
  echo
  echo "| proxy | req/s median (min–max) | p99 ms median | CPU µs/request median (min–max) | of which in the kernel | errors | stickiness held |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
  local k rps min max p99 cpu sys
  for k in "${KEYS[@]}"; do
    rps="$(runs_of "$k" RUN_RPS | median)"
    min="$(runs_of "$k" RUN_RPS | sort -g | head -1)"
    max="$(runs_of "$k" RUN_RPS | sort -g | tail -1)"
    p99="$(runs_of "$k" RUN_P99 | median)"
    if [[ -n "${PROC[$k]}" ]]; then
      cpu="$(printf '%.1f (%.1f–%.1f)' "$(runs_of "$k" RUN_CPU | median)" "$(runs_of "$k" RUN_CPU | sort -g | head -1)" "$(runs_of "$k" RUN_CPU | sort -g | tail -1)")"
      sys="$(printf '%.1f' "$(runs_of "$k" RUN_SYS | median)")"
    else
      cpu="-"
      sys="-"
    fi
    printf '| %s | %.0f (%.0f–%.0f) | %.2f | %s | %s | %s | %s |\n' "$(label "$k")" "$rps" "$min" "$max" "$p99" "$cpu" "$sys" "${ERRS[$k]:-0}" "$(stick_note "$k")"
  done
  echo
  echo "| ratio (req/s, per round) | median | min–max | goal |"
  echo "| --- | ---: | ---: | --- |"
  echo "| Affinity / plain Jetty ProxyHandler | **${R_JETTY}×** | ${R_JETTY_MIN}–${R_JETTY_MAX} | ≥ 1.5×: $(goal "$R_JETTY" 1.5) |"
  echo "| Affinity / Jetty BalancerServlet (sticky) | **${R_SERVLET}×** | ${R_SERVLET_MIN}–${R_SERVLET_MAX} | ≥ 1.5×: $(goal "$R_SERVLET" 1.5) |"
  echo "| Affinity / HAProxy | **${R_HAP}×** | ${R_HAP_MIN}–${R_HAP_MAX} | ≥ 0.8×: $(goal "$R_HAP" 0.8) |"
  if [[ "$FLOOR" == 1 ]]; then
    ratio_row "MinimalRelay (the JVM's floor) / HAProxy" floor haproxy RUN_RPS "(what any Java relay starts from)"
    ratio_row "MinimalRelay --policy (floor + core's exchange) / HAProxy" floor_policy haproxy RUN_RPS "(the balancer without Jetty)"
  fi
  if [[ "$ONE_BACKEND" == 1 ]]; then
    ratio_row "Affinity / plain Jetty on one backend" affinity jetty1 RUN_RPS "(same load shape)"
  fi
  if [[ "$COOKIE_ROWS" == 1 ]]; then
    ratio_row "Affinity sliding, stale cookie / Affinity fixed expiry" affinity_sliding affinity RUN_RPS "(what refreshing costs)"
    ratio_row "Affinity sliding, stale cookie / HAProxy" affinity_sliding haproxy RUN_RPS "" ">= 0.8"
    ratio_row "Affinity new clients / HAProxy new clients" affinity_new haproxy_new RUN_RPS "" ">= 0.7"
  fi
  echo
  echo "| ratio (CPU µs per request, per round) | median | min–max | goal |"
  echo "| --- | ---: | ---: | --- |"
  ratio_row "Affinity / HAProxy" affinity haproxy RUN_CPU "" "<= 1.25"
  if [[ "$COOKIE_ROWS" == 1 ]]; then
    ratio_row "Affinity sliding, stale cookie / HAProxy" affinity_sliding haproxy RUN_CPU "" "<= 1.25"
    ratio_row "Affinity new clients / HAProxy new clients" affinity_new haproxy_new RUN_CPU
  fi
  ratio_row "Affinity / HAProxy, in the kernel only" affinity haproxy RUN_SYS
  ratio_row "Affinity / HAProxy, outside the kernel only" affinity haproxy RUN_USR
  if [[ "$FLOOR" == 1 ]]; then
    ratio_row "MinimalRelay (the JVM's floor) / HAProxy" floor haproxy RUN_CPU "(what any Java relay starts from)"
    ratio_row "MinimalRelay / HAProxy, outside the kernel only" floor haproxy RUN_USR
    ratio_row "MinimalRelay --policy (floor + core's exchange) / HAProxy" floor_policy haproxy RUN_CPU "(the balancer without Jetty)"
    ratio_row "Affinity / MinimalRelay --policy" affinity floor_policy RUN_CPU "(what Jetty and the adapter add)"
    ratio_row "Affinity / MinimalRelay" affinity floor RUN_CPU "(what Jetty and the balancer add)"
  fi
  ratio_row "Affinity / plain Jetty ProxyHandler" affinity jetty RUN_CPU
  ratio_row "Affinity / Jetty BalancerServlet" affinity servlet RUN_CPU
  if [[ "$FIXED_RATE" == 1 ]]; then
    echo
    echo "Latency at a fixed rate: $FIXED_RPS requests/s ($FIXED_FRACTION % of HAProxy's median $(printf '%.0f' "$HAP_MAX") req/s above) on $CONNECTIONS kept-alive connections, sticky cookie sent, from \`dev.affinity.bench.FixedRateLoad\` (bench): each request is due at a fixed time and its latency counts from then, not from when it could be sent (no coordinated omission). $FIXED_REPS runs per proxy of $FIXED_DURATION after $FIXED_WARMUP unmeasured, in an order that shifts each round; median (min–max) over the runs. CPU µs/request here: over the whole run, warm-up included."
    echo
    echo "| proxy at $FIXED_RPS req/s | p50 ms | p99 ms | p99.9 ms | max ms | CPU µs/request | errors | rate held |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    local f held errs r
    for k in "${FIXED_KEYS[@]}"; do
      held=yes; errs=0
      for r in $(seq 1 "$FIXED_REPS"); do
        [[ "${FIX[$k,$r,held]}" == true ]] || held="NO (see the log)"
        errs=$(( errs + ${FIX[$k,$r,errors]} + ${FIX[$k,$r,non2xx]} ))
      done
      printf '| %s' "$(label "$k")"
      for f in p50_us p99_us p999_us max_us cpu; do
        read -r a b c <<<"$(fixed_stats "$k" "$f")"
        if [[ "$f" == cpu ]]; then printf ' | %.1f (%.1f–%.1f)' "$a" "$b" "$c"; else printf ' | %.3f (%.3f–%.3f)' "$a" "$b" "$c"; fi
      done
      printf ' | %s | %s |\n' "$errs" "$held"
    done
    echo
    read -r a b c <<<"$(fixed_ratio affinity haproxy p99_us)"
    read -r p _ _ <<<"$(fixed_stats affinity p99_us)"
    echo "| at a fixed rate | value | min–max | goal |"
    echo "| --- | ---: | ---: | --- |"
    echo "| p99 Affinity / HAProxy (per round) | **${a}×** | ${b}–${c} | ≤ 1.5×: $(goal_at_most "$a" 1.5) |"
    read -r a b c <<<"$(fixed_stats affinity p99_us)"
    echo "| Affinity p99 | **${a} ms** | ${b}–${c} | ≤ 2 ms: $(goal_at_most "$a" 2) |"
    read -r a b c <<<"$(fixed_ratio affinity haproxy p999_us)"
    echo "| p99.9 Affinity / HAProxy (per round) | ${a}× | ${b}–${c} | |"
    if [[ "$FLOOR" == 1 ]]; then
      read -r a b c <<<"$(fixed_ratio floor_policy haproxy p99_us)"
      echo "| p99 MinimalRelay --policy / HAProxy (per round) | ${a}× | ${b}–${c} | (the JVM's share) |"
      read -r a b c <<<"$(fixed_ratio affinity floor_policy p99_us)"
      echo "| p99 Affinity / MinimalRelay --policy (per round) | ${a}× | ${b}–${c} | (what Jetty and the adapter add) |"
    fi
    local lag=0
    for k in "${FIXED_KEYS[@]}"; do for r in $(seq 1 "$FIXED_REPS"); do
      lag="$(python3 -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))' "$lag" "${FIX[$k,$r,send_lag_p99_us]}")"
    done; done
    echo
    echo "The generator's own scheduling error (a request sent late although its connection was free), p99, worst run: $(printf '%.0f' "$lag") µs."
  fi
  echo
  echo "GC pauses of the fixed-expiry Affinity balancer during the measured runs (its JVM flags above, plus \`-Xlog:gc:file=...\` to count them; every pause the log has between the start and the end of each run; at the fixed rate the generator's warm-up is included):"
  echo
  echo "| load | pauses | per second | p50 ms | p99 ms | max ms | share of the time |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  local load
  for load in affinity affinity_new fixed; do
    [[ -f "$WORK/gc-$load.txt" ]] || continue
    case "$load" in
      affinity) printf '| sticky hits, wrk at saturation' ;;
      affinity_new) printf '| new clients, wrk at saturation' ;;
      fixed) printf '| sticky hits at the fixed rate (%s req/s)' "$FIXED_RPS" ;;
    esac
    python3 - "${GC_SECONDS[$load]}" "$WORK/gc-$load.txt" <<'PY2'
import sys
seconds = float(sys.argv[1])
v = sorted(float(x) for x in open(sys.argv[2]) if x.strip())
def q(p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else 0.0
if v:
    print(f" | {len(v)} | {len(v) / seconds:.1f} | {q(0.5):.2f} | {q(0.99):.2f} | {v[-1]:.2f} | {sum(v) / 1000 / seconds * 100:.2f} % |")
else:
    print(" | 0 | 0 | | | | 0 % |")
PY2
  done
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
