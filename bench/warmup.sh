#!/usr/bin/env bash
# Warm-up under load (issue 23, item 2d): how long a balancer started into full load on one core (a
# scale-out event, a restart) takes to reach 90 % of its warm throughput. See bench/README.md.
#
#   bench/warmup.sh [--no-build] [--help]
#
# Three nginx backends and wrk run on LOAD_CPU; wrk hammers the balancer's port (sticky hits: every
# request sends the cookie a first request got) from the moment it accepts (a wrapper waits for it,
# since wrk gives up on a refused first connection); the balancer is started on PROXY_CPU with taskset.
# What the backends answer is sampled every second (nginx stub_status, on LOAD_CPU), counted from the
# moment the balancer's JVM is launched. Warm throughput: the median of the last WARM_WINDOW seconds.
# Reported per variant: when the port first accepted ("listening"), when the balancer served its first
# request, the first second at >= 90 % of warm ("first 90 %"), and the first second from which every
# later second stays at >= 90 % ("stays 90 %"); and, since other processes on a shared machine take the
# core too, the balancer's CPU seconds from listening to 90 % of its warm requests per
# CPU second (its /proc/PID/stat, JIT threads included).
#
# Environment (defaults in brackets):
#   VARIANTS ["off warmup"]   the variants to run, in order, each REPS times (median reported):
#       off            the built-in warm-up off (warmup: { enabled: false })
#       warmup         the built-in warm-up at its defaults
#       jitprio        off, with the JIT compiler threads at nice -10 (root: -XX:ThreadPriorityPolicy=1
#                      -XX:CompilerThreadPriority=-10)
#       jitprio-warmup both
#       ci4            off, -XX:CICompilerCount=4 (the JVM picks 2 on one CPU)
#       c1only         off, -XX:TieredStopAtLevel=1 (C1 only: warm sooner, but a lower warm figure)
#       jdk25          off, on JDK 25 (JDK25 below)
#       jdk25-aot      off, on JDK 25 with -XX:AOTCache= from a training run under the same load
#                      (-XX:AOTCacheOutput=, JEP 483/514/515: classes loaded and linked, and method profiles)
#       jdk25-aot-warmup   both
#   SECONDS_PER_RUN [75]  WARM_WINDOW [20]   CONNECTIONS [50]  THREADS [1]  REPS [1]
#   TRAIN_SECONDS [30]    (the JDK 25 training run's load)
#   PROXY_CPU [0]  LOAD_CPU [1]  PIN [1]
#   JAVA_OPTS [-XX:+ExitOnOutOfMemoryError]   (the shipped systemd unit's; every variant gets them)
#   WARMUP_YAML []   (the warmup: map for the variants with the warm-up on; empty: its defaults)
#   JAVA17 [java]  JDK25 [/usr/lib/jvm/temurin-25-jdk-amd64/bin/java]
#   AFFINITY_JAR [<repo>/balancer/target/affinity-balancer.jar]
#   MAX_SECONDS [1800]   (no new run starts after this long)
# Output: one line per run, then a Markdown table on stdout; per-second figures in $WORK (kept with KEEP_WORK=1).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

VARIANTS="${VARIANTS:-off warmup}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-75}"
WARM_WINDOW="${WARM_WINDOW:-20}"
CONNECTIONS="${CONNECTIONS:-50}"
THREADS="${THREADS:-1}"
REPS="${REPS:-1}"
TRAIN_SECONDS="${TRAIN_SECONDS:-30}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
PIN="${PIN:-1}"
JAVA_OPTS="${JAVA_OPTS:--XX:+ExitOnOutOfMemoryError}"
WARMUP_YAML="${WARMUP_YAML:-}"
JAVA17="${JAVA17:-java}"
JDK25="${JDK25:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
AFFINITY_JAR="${AFFINITY_JAR:-$REPO/balancer/target/affinity-balancer.jar}"
MAX_SECONDS="${MAX_SECONDS:-1800}"
WANT_KEEP_WORK="${KEEP_WORK:-0}"

BUILD=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "warmup.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

BENCH_NAME=warmup.sh
# shellcheck source=compare-common.sh
source "$REPO/bench/compare-common.sh"
KEEP_WORK="$WANT_KEEP_WORK"

[[ "$SECONDS_PER_RUN" =~ ^[0-9]+$ && "$SECONDS_PER_RUN" -gt $(( WARM_WINDOW + 5 )) ]] \
  || die "SECONDS_PER_RUN must be a whole number above WARM_WINDOW + 5"
[[ "$REPS" =~ ^[0-9]+$ && "$REPS" -gt 0 ]] || die "REPS must be a positive integer"
for v in $VARIANTS; do
  case "$v" in
    off|warmup|jitprio|jitprio-warmup|ci4|c1only|jdk25|jdk25-aot|jdk25-aot-warmup) ;;
    *) die "unknown variant $v (try --help)" ;;
  esac
done

install_missing wrk:wrk nginx:nginx curl:curl taskset:util-linux
if [[ "$VARIANTS" == *jitprio* && "$(id -u)" != 0 ]]; then
  die "the jitprio variants need root (-XX:ThreadPriorityPolicy=1 lowers a nice value)"
fi
if [[ "$VARIANTS" == *jdk25* && ! -x "$JDK25" ]]; then
  die "JDK 25 not found at $JDK25 (set JDK25)"
fi

if [[ "$BUILD" == 1 ]]; then
  log "building the balancer jar"
  (cd "$REPO" && timeout 900 mvn -B -ntp -q -pl balancer -am package -DskipTests) || die "the build failed"
fi
[[ -f "$AFFINITY_JAR" ]] || die "no $AFFINITY_JAR (build it, or drop --no-build)"

START_SECONDS=$SECONDS
WORK="$(mktemp -d /tmp/affinity-warmup.XXXXXX)"
read -r B1 B2 B3 P_AFF <<<"$(free_ports 4)"
BACKENDS=("$B1" "$B2" "$B3")
start_backends

# The balancer's file: the benchmarks' fixed key (so that one cookie stays good across the restarts),
# fixed expiry, and the warm-up settings of the variant.
write_yaml() { # file warmup-map
  {
    echo "listen: { host: 127.0.0.1, port: $P_AFF }"
    affinity_bench_yaml false
    echo "warmup: $2"
  } >"$1"
}
YAML_OFF="$WORK/balancer-off.yaml"
YAML_ON="$WORK/balancer-on.yaml"
[[ -n "$WARMUP_YAML" ]] || WARMUP_YAML="{ enabled: true }"
write_yaml "$YAML_OFF" "{ enabled: false }"
write_yaml "$YAML_ON" "$WARMUP_YAML"
if ! "$JAVA17" -jar "$AFFINITY_JAR" --check "$YAML_OFF" >"$WORK/check.out" 2>&1; then
  # A balancer from before the warm-up (to compare with): it has none, and no key to turn it off.
  [[ "$VARIANTS" != *warmup* ]] || die "this balancer does not take warmup: ($(cat "$WORK/check.out"))"
  log "this balancer has no warmup: key; measuring it as it is"
  grep -v '^warmup:' "$YAML_OFF" >"$YAML_OFF.tmp" && mv "$YAML_OFF.tmp" "$YAML_OFF"
fi

# variant -> java binary, extra flags, yaml, aot
variant_java() { case "$1" in jdk25*) echo "$JDK25" ;; *) echo "$JAVA17" ;; esac; }
variant_flags() {
  case "$1" in
    jitprio|jitprio-warmup) echo "-XX:ThreadPriorityPolicy=1 -XX:CompilerThreadPriority=-10" ;;
    ci4) echo "-XX:CICompilerCount=4" ;;
    c1only) echo "-XX:TieredStopAtLevel=1" ;;
    jdk25-aot|jdk25-aot-warmup) echo "-XX:AOTCache=$WORK/app.aot" ;;
    *) echo "" ;;
  esac
}
variant_yaml() { case "$1" in *warmup) echo "$YAML_ON" ;; *) echo "$YAML_OFF" ;; esac; }

# One cookie for every run: from a balancer started once (same key, same target ids), checked to stick.
log "getting the sticky cookie"
spawn "$WORK/cookie-balancer.out" "${ON_PROXY_CPU[@]}" "$JAVA17" $JAVA_OPTS -jar "$AFFINITY_JAR" "$YAML_OFF"
COOKIE_PID=$LAST_PID
wait_http "http://127.0.0.1:$P_AFF/" 60 "$COOKIE_PID" || die "the balancer did not start (see $WORK/cookie-balancer.out)"
COOKIE="$(sticky_cookie "http://127.0.0.1:$P_AFF/" AFFINITY)"
[[ -n "$COOKIE" ]] || die "the balancer gave no AFFINITY cookie"
BODY1="$(curl -s --max-time 5 -H "Cookie: $COOKIE" "http://127.0.0.1:$P_AFF/")"
BODY2="$(curl -s --max-time 5 -H "Cookie: $COOKIE" "http://127.0.0.1:$P_AFF/")"
[[ -n "$BODY1" && "$BODY1" == "$BODY2" ]] || die "the cookie did not stick ('$BODY1' then '$BODY2')"
stop_last "$COOKIE_PID"
log "cookie pins to '$BODY1'"

# Per-second sampler: the backends' request counters, from t0 (the balancer's launch) on, one line per
# second "second requests listening" (listening: 1 once the balancer's log says it balances).
cat >"$WORK/sampler.py" <<'PY'
import os, sys, time, urllib.request
t0 = float(sys.argv[1]); seconds = int(sys.argv[2]); log = sys.argv[3]; pid = sys.argv[4]; ports = sys.argv[5:]
tick = os.sysconf("SC_CLK_TCK")
def total():
    n = 0
    for p in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{p}/nginx_status", timeout=2) as r:
            n += int(r.read().decode().splitlines()[2].split()[2])
    return n
def listening():
    try:
        with open(log, errors="replace") as f:
            return 1 if "balancing on" in f.read() else 0
    except OSError:
        return 0
def cpu_ms():  # the balancer's CPU time (every thread, the JIT's included)
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 // tick
    except (OSError, IndexError, ValueError):
        return 0
last, last_cpu = total(), cpu_ms()
for k in range(1, seconds + 1):
    delay = t0 + k - time.time()
    if delay > 0:
        time.sleep(delay)
    now, now_cpu = total(), cpu_ms()
    # Each poll is one request per backend: not the balancer's.
    print(k, max(0, now - last - len(ports)), listening(), now_cpu - last_cpu, flush=True)
    last, last_cpu = now, now_cpu
PY

# Analysis of one run's samples: "listening first first90 stays90 warm cpu90 warm_per_cpu_s". cpu90: the
# balancer's CPU seconds from listening to the first second at >= 90 % of its warm requests per CPU second:
# unlike the wall-clock figures it does not grow when other processes take the core.
cat >"$WORK/analyse.py" <<'PY'
import math, statistics, sys
window = int(sys.argv[2])
rows = [tuple(int(x) for x in l.split()) for l in open(sys.argv[1]) if l.strip()]
rates = [r[1] for r in rows]
warm = statistics.median(rates[-window:])
# Listening: the second in which the port first accepted (wrk's wait), else the first sample whose log had "balancing on".
try:
    listening = max(1, math.ceil(float(open(sys.argv[4]).read()) - float(sys.argv[3])))
except (OSError, ValueError, IndexError):
    listening = next((r[0] for r in rows if r[2]), -1)
first = next((r[0] for r in rows if r[1] > 0), -1)
first90 = next((r[0] for r in rows if r[1] >= 0.9 * warm), -1)
stays90 = -1
for i in range(len(rows) - 1, -1, -1):
    if rows[i][1] < 0.9 * warm:
        break
    stays90 = rows[i][0]
per_cpu = [r[1] * 1000 / r[3] if r[3] > 0 else 0 for r in rows]
warm_per_cpu = statistics.median(per_cpu[-window:])
cpu90, used = -1, 0
for r, e in zip(rows, per_cpu):
    if listening < 0 or r[0] < listening:
        continue
    used += r[3]
    if e >= 0.9 * warm_per_cpu:
        cpu90 = used / 1000
        break
print(listening, first, first90, stays90, int(warm), f"{cpu90:.1f}", int(warm_per_cpu))
PY

WRK_BIN="$(command -v wrk)"
# wrk gives up at once when its first connection is refused: this waits (every 20 ms) until the port
# accepts, then becomes wrk (exec: the pid stays the one to stop) for what is left of the run.
cat >"$WORK/wrk-when-open.sh" <<'SH'
seconds="$1"; opened="$2"; shift 2; url="${*: -1}"; hostport="${url#http://}"; hostport="${hostport%%/*}"
end=$(( SECONDS + seconds ))
until (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null; do
  [[ $SECONDS -lt $end ]] || exit 1
  sleep 0.02
done
date +%s.%N >"$opened"   # when the port first accepted: "listening" in the report
exec "$1" -d"$(( end - SECONDS ))s" "${@:2}"
SH

# One measured run: wrk starts first, then the sampler's t0 and the balancer.
run_one() { # variant rep
  local v="$1" r="$2" java flags yaml out t0 wrk_pid sampler_pid bal_pid
  java="$(variant_java "$v")"; flags="$(variant_flags "$v")"; yaml="$(variant_yaml "$v")"
  out="$WORK/$v-$r"
  spawn "$out.wrk" "${ON_LOAD_CPU[@]}" bash "$WORK/wrk-when-open.sh" "$(( SECONDS_PER_RUN + 10 ))" "$out.open" "$WRK_BIN" -t"$THREADS" \
    -c"$CONNECTIONS" -H "Cookie: $COOKIE" "http://127.0.0.1:$P_AFF/"
  wrk_pid=$LAST_PID
  sleep 1
  t0="$(python3 -c 'import time; print(time.time())')"
  # shellcheck disable=SC2086
  spawn "$out.balancer" "${ON_PROXY_CPU[@]}" "$java" $JAVA_OPTS $flags -jar "$AFFINITY_JAR" "$yaml"
  bal_pid=$LAST_PID
  spawn "$out.samples" "${ON_LOAD_CPU[@]}" python3 "$WORK/sampler.py" "$t0" "$SECONDS_PER_RUN" "$out.balancer" "$bal_pid" "${BACKENDS[@]}"
  sampler_pid=$LAST_PID
  local end=$(( SECONDS + SECONDS_PER_RUN + 30 ))
  while kill -0 "$sampler_pid" 2>/dev/null && [[ $SECONDS -lt $end ]]; do sleep 1; done
  stop_last "$sampler_pid"
  stop_last "$bal_pid"
  stop_last "$wrk_pid"
  kill -0 "$bal_pid" 2>/dev/null && die "the balancer of $v did not stop"
  [[ $(wc -l <"$out.samples") -ge "$SECONDS_PER_RUN" ]] || die "the sampler of $v stopped early (see $out.samples)"
  python3 "$WORK/analyse.py" "$out.samples" "$WARM_WINDOW" "$t0" "$out.open"
}

# JDK 25's AOT cache: one training run under the same load, written when the JVM exits.
if [[ "$VARIANTS" == *jdk25-aot* ]]; then
  log "JDK 25 training run (${TRAIN_SECONDS}s under load) for the AOT cache"
  spawn "$WORK/train.wrk" "${ON_LOAD_CPU[@]}" "$WRK_BIN" -t"$THREADS" -c"$CONNECTIONS" -d"$(( TRAIN_SECONDS + 30 ))s" \
    -H "Cookie: $COOKIE" "http://127.0.0.1:$P_AFF/"
  TRAIN_WRK=$LAST_PID
  # shellcheck disable=SC2086
  spawn "$WORK/train.balancer" "${ON_PROXY_CPU[@]}" "$JDK25" $JAVA_OPTS -XX:AOTCacheOutput="$WORK/app.aot" -jar "$AFFINITY_JAR" "$YAML_OFF"
  TRAIN_PID=$LAST_PID
  wait_http "http://127.0.0.1:$P_AFF/" 60 "$TRAIN_PID" || die "the training balancer did not start (see $WORK/train.balancer)"
  sleep "$TRAIN_SECONDS"
  stop_last "$TRAIN_WRK"
  # SIGTERM: the JVM exits normally and assembles the cache (in a child JVM) before it is gone.
  kill -TERM "$TRAIN_PID"
  for _ in $(seq 1 300); do kill -0 "$TRAIN_PID" 2>/dev/null || break; sleep 0.5; done
  stop_last "$TRAIN_PID"
  [[ -s "$WORK/app.aot" ]] || die "the training run wrote no AOT cache (see $WORK/train.balancer)"
  log "AOT cache: $(du -h "$WORK/app.aot" | cut -f1)"
fi

RESULTS="$WORK/results.txt"
: >"$RESULTS"
for r in $(seq 1 "$REPS"); do
  for v in $VARIANTS; do
    check_deadline
    line="$(run_one "$v" "$r")"
    echo "$v $r $line" >>"$RESULTS"
    read -r listening first f90 s90 warm cpu90 warm_cpu <<<"$line"
    log "$v #$r: listening at ${listening}s, first request at ${first}s, first 90 % at ${f90}s, stays at 90 % from ${s90}s, warm ${warm}/s;" \
      "${cpu90} CPU s from listening to 90 % of warm requests per CPU s (${warm_cpu})"
  done
done

LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Seconds from the balancer's launch; warm: median requests/s of the last $WARM_WINDOW of $SECONDS_PER_RUN s;"
echo "$REPS run(s) per variant (median); load average at the end: $LOAD."
echo
echo "CPU s to 90 %: the balancer's CPU seconds from listening to the first second at >= 90 % of its warm requests"
echo "per CPU second (not inflated when other processes take the core; -1: never)."
echo
echo "| variant | listening | first request | first 90 % | stays ≥ 90 % | warm req/s | CPU s to 90 % | warm req per CPU s |"
echo "|---|---|---|---|---|---|---|---|"
for v in $VARIANTS; do
  python3 - "$RESULTS" "$v" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
med = lambda i: statistics.median(float(r[i]) for r in rows)
print(f"| {sys.argv[2]} | {med(2):g} s | {med(3):g} s | {med(4):g} s | {med(5):g} s | {med(6):,.0f} | {med(7):.1f} | {med(8):,.0f} |")
PY
done
