#!/usr/bin/env bash
# Footprint and steadiness of the standalone balancer as `java -jar affinity-balancer.jar` runs it
# (no JVM flags unless JAVA_OPTS says otherwise), beside HAProxy, under the load of issue 23:
#
#   bench/footprint.sh [--no-build]
#
# 1. Load: the balancer and HAProxy (nbthread 1, cookie insert), each pinned to PROXY_CPU, in front of
#    three nginx backends pinned to LOAD_CPU with wrk; ROUNDS rounds of `wrk -t1 -c50 -d$DURATION`
#    with the sticky cookie, the two proxies taking turns (each idles while the other is loaded, as in
#    bench/compare.sh). Per round and proxy: req/s, CPU time per request (utime + stime from /proc
#    over the round / requests), and RSS and thread count sampled near the end of the round. Then
#    the spread of each figure over the rounds (max / min) and the medians.
# 2. Idle connections: IDLE_CONNECTIONS kept-alive client connections to each proxy (one request
#    each, answered, then held idle for HOLD seconds by bench/footprint/IdleConnections.java); the
#    proxy's RSS and threads while they are held. Both proxies' idle timeouts are raised to
#    IDLE_TIMEOUT (the balancer's limits.idleTimeout default, 30 s, would close them) and their
#    connection limits to IDLE_CONNECTIONS + 2000 (the balancer's limits.maxConnections default is
#    10 000): everything else is the default configuration of compare.sh.
#
# Environment: JAR [balancer/target/affinity-balancer.jar] JAVA_OPTS [] ROUNDS [5] DURATION [10s]
#   WARMUP [20s] CONNECTIONS [50] IDLE_CONNECTIONS [10000] HOLD [20] IDLE_TIMEOUT [PT120S]
#   PROXY_CPU [0] LOAD_CPU [1] PIN [1]
#   BREAKDOWN [0]  (1: the balancer runs with -XX:NativeMemoryTracking=summary, and while the idle
#                  connections are held the script prints where its memory is: jcmd VM.native_memory
#                  summary and GC.heap_info, the thread names by count, and the same after a full GC;
#                  WORK, with breakdown.txt, is kept)
#   HEAP_DUMP [0]  (1, with BREAKDOWN=1: also a dump of the live heap, WORK/heap.hprof, for finding
#                  what keeps objects reachable)
# Needs wrk, nginx, haproxy, curl, python3, java 17 (installed from Debian when missing). Everything
# listens on 127.0.0.1 and stops by itself (the run is bounded by MAX_SECONDS [900]); figures on a
# shared machine are noisy: report the load average with them (printed at the end).
set -euo pipefail
BENCH_NAME=footprint.sh
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD=1
[[ "${1:-}" == "--no-build" ]] && BUILD=0
JAR=${JAR:-$ROOT/balancer/target/affinity-balancer.jar}
JAVA_OPTS=${JAVA_OPTS:-}
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-20s} CONNECTIONS=${CONNECTIONS:-50}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000} HOLD=${HOLD:-20} IDLE_TIMEOUT=${IDLE_TIMEOUT:-PT120S}
PROXY_CPU=${PROXY_CPU:-0} LOAD_CPU=${LOAD_CPU:-1} PIN=${PIN:-1} MAX_SECONDS=${MAX_SECONDS:-900}
# shellcheck source=compare-common.sh
source "$ROOT/bench/compare-common.sh"

install_missing wrk:wrk nginx:nginx haproxy:haproxy curl:curl taskset:util-linux
if [[ "$BUILD" == 1 ]]; then
  log "building the launcher jar"
  (cd "$ROOT" && mvn -B -ntp -q -pl balancer -am package -DskipTests) || die "the build failed"
fi
[[ -f "$JAR" ]] || die "no $JAR (build it, or set JAR)"
START_SECONDS=$SECONDS

# Both the client tool and the proxies need a descriptor per connection, and some spare; HAProxy
# counts two per connection (client and server side) against its limit, so it may hold fewer.
HARD_FDS=$(ulimit -Hn)
[[ "$HARD_FDS" == unlimited ]] && HARD_FDS=1048576
if (( IDLE_CONNECTIONS + 1000 > HARD_FDS )); then
  IDLE_CONNECTIONS=$(( HARD_FDS - 1000 ))
  log "open files are limited to $HARD_FDS here: holding $IDLE_CONNECTIONS idle connections instead"
fi
ulimit -Sn "$HARD_FDS"
HAP_MAXCONN=$(( IDLE_CONNECTIONS + 2000 ))
(( 2 * HAP_MAXCONN + 200 > HARD_FDS )) && HAP_MAXCONN=$(( (HARD_FDS - 200) / 2 ))
HAP_IDLE_CONNECTIONS=$(( IDLE_CONNECTIONS < HAP_MAXCONN - 100 ? IDLE_CONNECTIONS : HAP_MAXCONN - 100 ))

WORK=$(mktemp -d /tmp/affinity-footprint.XXXXXX)
chmod 755 "$WORK"
read -r B1 B2 B3 P_AFF P_HAP <<<"$(free_ports 5)"
BACKENDS=("$B1" "$B2" "$B3")
start_backends

{ affinity_bench_yaml false
  cat <<YAML
listen: { host: 127.0.0.1, port: $P_AFF }
limits: { idleTimeout: $IDLE_TIMEOUT, maxConnections: $(( IDLE_CONNECTIONS + 2000 )) }
YAML
} >"$WORK/affinity.yaml"
# shellcheck disable=SC2086
NMT_OPTS=""; [[ "${BREAKDOWN:-0}" == 1 ]] && NMT_OPTS="-XX:NativeMemoryTracking=summary"
# shellcheck disable=SC2086
spawn "$WORK/affinity.out" "${ON_PROXY_CPU[@]}" java $JAVA_OPTS $NMT_OPTS -jar "$JAR" "$WORK/affinity.yaml"
PID_AFF=$LAST_PID

IDLE_SECONDS=$(python3 -c "import re,sys; m=re.fullmatch(r'PT(\d+)S', sys.argv[1]); print(m.group(1) if m else 120)" "$IDLE_TIMEOUT")
start_haproxy "$P_HAP" "$HAP_MAXCONN" "$IDLE_SECONDS"
PID_HAP=$LAST_PID

wait_http "http://127.0.0.1:$P_AFF/affinity/status.json" 60 "$PID_AFF" || { tail -40 "$WORK/affinity.out" >&2; die "the balancer did not start"; }
wait_http "http://127.0.0.1:$P_HAP/" 10 "$PID_HAP" || { cat "$WORK/haproxy.out" >&2; die "haproxy did not start"; }
AFF_COOKIE="$(sticky_cookie "http://127.0.0.1:$P_AFF/" AFFINITY)"
HAP_COOKIE="$(sticky_cookie "http://127.0.0.1:$P_HAP/" SRV)"
[[ -n "$AFF_COOKIE" && -n "$HAP_COOKIE" ]] || die "no sticky cookie from one of the proxies"
log "balancer pid $PID_AFF on $P_AFF (JAVA_OPTS='${JAVA_OPTS}'), haproxy pid $PID_HAP on $P_HAP"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_of() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)

# One wrk run against a proxy; prints "req/s cpu_us_per_request rss_kb threads errors".
measure() { # pid port cookie duration
  local pid="$1" port="$2" cookie="$3" duration="$4" seconds t0 t1 rss threads out
  seconds=$(seconds_of "$duration")
  t0=$(cpu_ticks "$pid")
  "${ON_LOAD_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"$duration" --timeout 5s -H "Cookie: $cookie" "http://127.0.0.1:$port/" >"$WORK/wrk.txt" &
  local wrk_pid=$!
  # RSS and threads under load: a second before the end of the run.
  sleep $(( seconds > 2 ? seconds - 1 : 1 ))
  rss=$(status_of "$pid" VmRSS); threads=$(status_of "$pid" Threads)
  wait "$wrk_pid" || die "wrk failed against port $port"
  t1=$(cpu_ticks "$pid")
  read -r rps _ total errors <<<"$(parse_wrk <"$WORK/wrk.txt")"
  [[ "$total" -gt 0 ]] || die "wrk completed no request against port $port"
  python3 -c "import sys; r,t0,t1,tick,n,rss,th,e=sys.argv[1:]; print(r, '%.1f' % ((int(t1)-int(t0))*1e6/int(tick)/int(n)), rss, th, e)" \
    "$rps" "$t0" "$t1" "$TICK" "$total" "$rss" "$threads" "$errors"
}

log "warm-up: $WARMUP on each"
measure "$PID_AFF" "$P_AFF" "$AFF_COOKIE" "$WARMUP" >/dev/null
measure "$PID_HAP" "$P_HAP" "$HAP_COOKIE" "$WARMUP" >/dev/null

: >"$WORK/rounds.txt"
for round in $(seq 1 "$ROUNDS"); do
  check_deadline
  # Alternate which goes first, so that neither always follows the other's idle.
  if (( round % 2 )); then order=(affinity haproxy); else order=(haproxy affinity); fi
  for proxy in "${order[@]}"; do
    if [[ "$proxy" == affinity ]]; then line=$(measure "$PID_AFF" "$P_AFF" "$AFF_COOKIE" "$DURATION")
    else line=$(measure "$PID_HAP" "$P_HAP" "$HAP_COOKIE" "$DURATION"); fi
    echo "$round $proxy $line" >>"$WORK/rounds.txt"
    log "round $round $proxy: $line (req/s, CPU µs/request, RSS kB, threads, errors)"
  done
done

# The idle connections: one proxy at a time.
idle_footprint() { # name pid port cookie connections
  check_deadline
  local name="$1" pid="$2" port="$3" cookie="$4" n="$5" rss threads
  log "$name: opening $n kept-alive connections, then holding them idle for ${HOLD}s"
  "${ON_LOAD_CPU[@]}" java "$ROOT/bench/footprint/IdleConnections.java" "$port" "$n" "$HOLD" "$cookie" \
    >"$WORK/idle-$name.txt" 2>&1 &
  local tool=$!
  local end=$(( SECONDS + 600 ))
  until grep -q '^holding' "$WORK/idle-$name.txt" 2>/dev/null; do
    kill -0 "$tool" 2>/dev/null || break
    [[ $SECONDS -lt $end ]] || { kill "$tool"; die "$name: the idle connections took more than 600 s to open"; }
    sleep 1
  done
  # Half-way through the hold: every connection open and idle.
  sleep $(( HOLD / 2 ))
  rss=$(status_of "$pid" VmRSS); threads=$(status_of "$pid" Threads)
  if [[ "$name" == affinity && "${BREAKDOWN:-0}" == 1 ]]; then
    { jcmd "$pid" VM.native_memory summary; jcmd "$pid" GC.heap_info
      echo "threads by name:"; for t in /proc/"$pid"/task/*/comm; do sed -E 's/[-#]?[0-9]+$//' "$t"; done | sort | uniq -c | sort -rn
      echo "- the balancer's connections to the backends (peer, count):"
      ss -tnpH state established 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | grep -E ":(${B1}|${B2}|${B3})$" | sort | uniq -c
      # What is garbage waiting for a collection (direct buffers are freed only when their object is collected).
      jcmd "$pid" GC.run >/dev/null; sleep 1
      echo "- after a full GC: RSS $(status_of "$pid" VmRSS) kB"; jcmd "$pid" VM.native_memory summary | grep -E "Total|Java Heap|Other"
      # NIO's direct buffers (most of "Other"): JFR's statistics event, every 5 s in the default settings.
      jcmd "$pid" JFR.start name=footprint filename="$WORK/footprint.jfr" >/dev/null; sleep 6
      jcmd "$pid" JFR.stop name=footprint >/dev/null
      echo "- the largest classes by live instances' bytes, and the connection and buffer classes:"
      jcmd "$pid" GC.class_histogram >"$WORK/histogram.txt"
      sed -n '1,25p' "$WORK/histogram.txt"; grep -E "Connection|EndPoint|ByteBuffer|Pool" "$WORK/histogram.txt" | head -30
      echo "- direct buffers (JFR jdk.DirectBufferStatistics, last):"
      jfr print --events jdk.DirectBufferStatistics "$WORK/footprint.jfr" | grep -E "^ +(count|totalCapacity|memoryUsed|maxCapacity)" | tail -4
      if [[ "${HEAP_DUMP:-0}" == 1 ]]; then
        jcmd "$pid" GC.heap_dump "$WORK/heap.hprof" >/dev/null && echo "- heap dump of the live objects: $WORK/heap.hprof"
      fi
    } >"$WORK/breakdown.txt" 2>&1 || true
    KEEP_WORK=1  # the breakdown stays in WORK
    grep -E "^-|^ +(committed|reserved)|Total|def new|tenured|eden|from|to |threads by|^ +[0-9]+ " "$WORK/breakdown.txt" | grep -v "^ *$" | head -80 >&2 || true
  fi
  local ok=ok
  wait "$tool" || ok="FAILED ($(tr '\n' ' ' <"$WORK/idle-$name.txt"))"
  echo "$name $n $rss $threads $ok" >>"$WORK/idle.txt"
  log "$name with $n idle connections: RSS ${rss} kB, $threads threads, $ok"
}
: >"$WORK/idle.txt"
idle_footprint affinity "$PID_AFF" "$P_AFF" "$AFF_COOKIE" "$IDLE_CONNECTIONS"
idle_footprint haproxy "$PID_HAP" "$P_HAP" "$HAP_COOKIE" "$HAP_IDLE_CONNECTIONS"

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$WORK/rounds.txt" "$WORK/idle.txt" "$LOAD" "$JAVA_OPTS" <<'PY'
import statistics, sys
rounds, idle, load, opts = sys.argv[1:]
rows = [l.split() for l in open(rounds)]
def col(proxy, i): return [float(r[i]) for r in rows if r[1] == proxy]
print(f"\nbalancer JVM flags: '{opts}' (empty: the JVM's defaults, as `java -jar` runs it)")
print("| proxy | req/s median (min–max) | spread | CPU µs/request median (min–max) | spread | RSS MB under load (max) | threads under load (max) | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for proxy in ("affinity", "haproxy"):
    rps, cpu, rss, th, err = col(proxy, 2), col(proxy, 3), col(proxy, 4), col(proxy, 5), col(proxy, 6)
    print(f"| {proxy} | {statistics.median(rps):.0f} ({min(rps):.0f}–{max(rps):.0f}) | {max(rps)/min(rps):.2f}× "
          f"| {statistics.median(cpu):.1f} ({min(cpu):.1f}–{max(cpu):.1f}) | {max(cpu)/min(cpu):.2f}× "
          f"| {max(rss)/1024:.0f} | {max(th):.0f} | {sum(err):.0f} |")
print("\n| proxy | idle kept-alive connections held | RSS MB while held | threads | |")
print("|---|---:|---:|---:|---|")
for l in open(idle):
    name, n, rss, th, *ok = l.split()
    print(f"| {name} | {n} | {int(rss)/1024:.0f} | {th} | {' '.join(ok)} |")
print(f"\nload average at the end: {load}")
PY
