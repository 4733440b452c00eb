#!/usr/bin/env bash
# CPU flame graphs of the standalone balancer under compare.sh's load: the launcher jar with the same
# YAML (three nginx backends, fixed-expiry duration stickiness), pinned to PROXY_CPU, wrk and nginx on
# LOAD_CPU; after a warm-up, async-profiler samples the whole process (every thread, JIT and GC
# included, kernel frames too) while wrk runs. See bench/README.md.
#
#   bench/profile.sh [--no-build] [--help]
#
# Per mode, in bench/results/profile-YYYYMMDD-HHMM/ (OUT):
#   cpu-<mode>.html        the flame graph (open in a browser; search, zoom)
#   cpu-<mode>.collapsed.gz  the same stacks as text (one stack a line, with its sample count), to diff
#   cpu-<mode>-top.txt     the hottest methods (self time)
#   wrk-<mode>.txt         the profiled wrk run, and run.txt: command, machine, flags, load average
# Modes (MODES, default "sticky new"): sticky = wrk replays one AFFINITY cookie (the sticky hit);
# new = no cookie, every answer pins a new client and seals its cookie; sliding = a stale cookie of a
# sliding-expiry balancer (every answer refreshes it; waits 36 s for the cookie to age first).
#
# Environment (defaults in brackets):
#   DURATION [20s]  WARMUP [30s]  CONNECTIONS [50]  THREADS [1]   (wrk; the profile spans DURATION)
#   INTERVAL [1ms]  EVENT [cpu]   (async-profiler sampling; EVENT=itimer where perf_events are not allowed)
#   AFFINITY_JAVA_OPTS []   (as compare.sh: none, what a user gets; the script adds only
#                            -XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints so that inlined
#                            frames are attributed right)
#   JIT_PRIORITY [1]  PROXY_CPU [0]  LOAD_CPU [1]  PIN [1]  (as compare.sh)
#   ASYNC_PROFILER_VERSION [4.2]  (Maven Central tools.profiler:async-profiler, which ships the native
#                            library; resolved with mvn dependency:get when not in ~/.m2)
#   OUT [bench/results/profile-<date>]  AFFINITY_JAR [balancer/target/affinity-balancer.jar]
#   MAX_SECONDS [900]
# If async-profiler cannot attach, the script records JFR instead (profile-<mode>.jfr; open it in JDK
# Mission Control): no flame graph then.
# Needs wrk, nginx, curl, python3, java (and root for the JIT priority and kernel frames).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIGINAL_ARGS=("$@")
DURATION="${DURATION:-20s}"
WARMUP="${WARMUP:-30s}"
CONNECTIONS="${CONNECTIONS:-50}"
THREADS="${THREADS:-1}"
INTERVAL="${INTERVAL:-1ms}"
EVENT="${EVENT:-cpu}"
MODES="${MODES:-sticky new}"
AFFINITY_JAVA_OPTS="${AFFINITY_JAVA_OPTS:-}"
JIT_PRIORITY="${JIT_PRIORITY:-1}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
PIN="${PIN:-1}"
ASYNC_PROFILER_VERSION="${ASYNC_PROFILER_VERSION:-4.2}"
MAX_SECONDS="${MAX_SECONDS:-900}"
AFFINITY_JAR="${AFFINITY_JAR:-$REPO/balancer/target/affinity-balancer.jar}"
OUT="${OUT:-$REPO/bench/results/profile-$(date -u +%Y%m%d-%H%M)}"

BUILD=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "profile.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

BENCH_NAME=profile.sh
# shellcheck source=compare-common.sh
source "$REPO/bench/compare-common.sh"
START_SECONDS=$SECONDS

for mode in $MODES; do
  case "$mode" in sticky|new|sliding) ;; *) die "MODES: unknown mode $mode (sticky, new, sliding)" ;; esac
done
install_missing wrk:wrk nginx:nginx curl:curl taskset:util-linux

if [[ "$BUILD" == 1 ]]; then
  log "building the launcher jar"
  (cd "$REPO" && timeout 900 mvn -B -ntp -q -pl balancer -am package -Dmaven.test.skip=true) || die "the launcher build failed"
fi
[[ -f "$AFFINITY_JAR" ]] || die "$AFFINITY_JAR is missing (run without --no-build)"

# async-profiler's native library, from its Maven Central jar.
case "$(uname -m)" in
  x86_64) AP_ARCH=linux-x64 ;;
  aarch64) AP_ARCH=linux-arm64 ;;
  *) AP_ARCH="" ;;
esac
AP_JAR="$HOME/.m2/repository/tools/profiler/async-profiler/$ASYNC_PROFILER_VERSION/async-profiler-$ASYNC_PROFILER_VERSION.jar"
if [[ -n "$AP_ARCH" && ! -f "$AP_JAR" ]]; then
  log "resolving tools.profiler:async-profiler:$ASYNC_PROFILER_VERSION from Maven Central"
  (cd "$REPO" && timeout 300 mvn -B -ntp -q dependency:get -Dartifact="tools.profiler:async-profiler:$ASYNC_PROFILER_VERSION") \
    || log "WARN: could not resolve async-profiler; JFR instead"
fi

WORK="$(mktemp -d /tmp/affinity-profile.XXXXXX)"
chmod 755 "$WORK"
AP_LIB=""
if [[ -n "$AP_ARCH" && -f "$AP_JAR" ]]; then
  (cd "$WORK" && unzip -q -o "$AP_JAR" "$AP_ARCH/libasyncProfiler.so") && AP_LIB="$WORK/$AP_ARCH/libasyncProfiler.so"
fi
mkdir -p "$OUT"

read -r B1 B2 B3 P_AFF <<<"$(free_ports 4)"
BACKENDS=("$B1" "$B2" "$B3")
start_backends

JIT_OPTS="$(jit_opts)"
# DebugNonSafepoints: without it, samples in inlined code are charged to the enclosing method.
PROFILE_OPTS="-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints"
start_balancer() { # sliding
  { echo "listen: { host: 127.0.0.1, port: $P_AFF }"; affinity_bench_yaml "$1"; } >"$WORK/balancer.yaml"
  # shellcheck disable=SC2086
  spawn "$WORK/affinity.out" "${ON_PROXY_CPU[@]}" java $AFFINITY_JAVA_OPTS $JIT_OPTS $PROFILE_OPTS -jar "$AFFINITY_JAR" "$WORK/balancer.yaml"
  AFF_PID=$LAST_PID
  wait_http "http://127.0.0.1:$P_AFF/affinity/status.json" 60 "$AFF_PID" || { tail -40 "$WORK/affinity.out" >&2; die "the balancer did not start"; }
}

wrk_run() { # outfile duration cookie
  local secs
  secs="$(seconds_of "$2")"
  check_deadline
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$2" --latency)
  [[ -n "$3" ]] && args+=(-H "Cookie: $3")
  timeout $(( secs + 30 )) "${ON_LOAD_CPU[@]}" wrk "${args[@]}" "http://127.0.0.1:$P_AFF/" >"$1" 2>&1 || { cat "$1" >&2; die "wrk failed"; }
}

# jcmd JVMTI.agent_load: async-profiler runs its argument as a command (start, dump, stop) in the JVM.
# The quotes keep jcmd from reading "start,event=cpu" as an argument named "start,event"; the agent
# reports its own errors on the balancer's output, so success is "return code: 0" and no new [ERROR].
profiler() { # command
  local errors_before
  errors_before="$(grep -c '^\[ERROR\]' "$WORK/affinity.out" || true)"
  jcmd "$AFF_PID" JVMTI.agent_load "$AP_LIB" "\"$1\"" >"$WORK/jcmd.out" 2>&1 || return 1
  grep -q 'return code: 0' "$WORK/jcmd.out" || return 1
  [[ "$(grep -c '^\[ERROR\]' "$WORK/affinity.out" || true)" == "$errors_before" ]] \
    || { grep '^\[ERROR\]' "$WORK/affinity.out" | tail -3 >"$WORK/jcmd.out"; return 1; }
}

profile_mode() { # mode cookie
  local mode="$1" cookie="$2" ticks0 ticks1 parsed rps p99 total errs how
  log "$mode: warm-up $WARMUP"
  wrk_run "$WORK/warmup-$mode.txt" "$WARMUP" "$cookie"
  how=""
  if [[ -n "$AP_LIB" ]]; then
    if profiler "start,event=$EVENT,interval=$INTERVAL"; then
      how="async-profiler $ASYNC_PROFILER_VERSION, event=$EVENT, interval=$INTERVAL"
    elif [[ "$EVENT" == cpu ]] && profiler "start,event=itimer,interval=$INTERVAL"; then
      how="async-profiler $ASYNC_PROFILER_VERSION, event=itimer (perf_events refused), interval=$INTERVAL"
    else
      log "WARN: async-profiler did not start: $(cat "$WORK/jcmd.out")"
    fi
  fi
  if [[ -z "$how" ]]; then
    jcmd "$AFF_PID" JFR.start name=profile settings=profile filename="$OUT/profile-$mode.jfr" >/dev/null || die "JFR did not start either"
    how="JFR (settings=profile)"
  fi
  log "$mode: profiling for $DURATION with $how"
  ticks0="$(proc_cpu_ticks "$AFF_PID")"
  wrk_run "$OUT/wrk-$mode.txt" "$DURATION" "$cookie"
  ticks1="$(proc_cpu_ticks "$AFF_PID")"
  if [[ "$how" == JFR* ]]; then
    jcmd "$AFF_PID" JFR.stop name=profile >/dev/null || die "JFR.stop failed"
  else
    profiler "dump,collapsed,file=$OUT/cpu-$mode.collapsed" && gzip -9 -f "$OUT/cpu-$mode.collapsed" \
      || log "WARN: no collapsed stacks: $(cat "$WORK/jcmd.out")"
    profiler "dump,flat=40,traces=0,file=$OUT/cpu-$mode-top.txt" || log "WARN: no top list: $(cat "$WORK/jcmd.out")"
    profiler "stop,file=$OUT/cpu-$mode.html,title=Affinity_balancer_$mode" || die "async-profiler stop failed: $(cat "$WORK/jcmd.out")"
  fi
  read -r rps p99 total errs <<<"$(parse_wrk <"$OUT/wrk-$mode.txt")"
  SUMMARY+="- $mode: $how; wrk $rps req/s, p99 $p99 ms, $errs errors; CPU $(cpu_us_per_request $(( ticks1 - ticks0 )) "$total") µs/request while profiled (the profiler's own cost included)"$'\n'
  log "$mode: $rps req/s while profiled; files in $OUT"
}

SUMMARY=""
start_balancer false
for mode in $MODES; do
  case "$mode" in
    sticky) profile_mode sticky "$(sticky_cookie "http://127.0.0.1:$P_AFF/" AFFINITY)" ;;
    new) profile_mode new "" ;;
    sliding)
      stop_last "$AFF_PID"
      start_balancer true
      cookie="$(sticky_cookie "http://127.0.0.1:$P_AFF/" AFFINITY)"
      log "sliding: waiting for the cookie to be older than its refresh granularity (36 s)"
      deadline=$(( SECONDS + 60 ))
      until [[ -n "$(sticky_cookie_with "http://127.0.0.1:$P_AFF/" AFFINITY "$cookie")" ]]; do
        [[ $SECONDS -lt $deadline ]] || die "the sliding balancer never refreshed its cookie"
        sleep 2
      done
      profile_mode sliding "$cookie" ;;
  esac
done

{
  echo "Command: \`DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS MODES='$MODES' bench/profile.sh${ORIGINAL_ARGS[*]:+ ${ORIGINAL_ARGS[*]}}\`"
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "Machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -sr), $(java -version 2>&1 | head -1)"
  echo "Balancer: \`java ${AFFINITY_JAVA_OPTS:+$AFFINITY_JAVA_OPTS }${JIT_OPTS:+$JIT_OPTS }$PROFILE_OPTS -jar affinity-balancer.jar\`, pinned to CPU $PROXY_CPU (PIN=$PIN); wrk -t$THREADS -c$CONNECTIONS and three nginx backends on CPU $LOAD_CPU"
  echo
  printf '%s' "$SUMMARY"
} >"$OUT/run.txt"
cat "$OUT/run.txt"
