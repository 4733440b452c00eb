#!/usr/bin/env bash
# A/B of two builds of the standalone balancer on the sticky-hit path: CPU time and system calls
# per request, the two figures that move little between runs (requests per second moves a lot on a
# shared 2-core machine). Both balancers run at once, pinned to the same core, in front of one nginx
# backend, and each round loads both over the same seconds (one wrk each), so that the machine's
# noise weighs on both alike.
#
#   bench/ab-cpu.sh JAR_A JAR_B
#
# Per round and balancer: CPU seconds the balancer process used (utime + stime from /proc) while
# its wrk -t1 -c50 ran for DURATION, divided by the requests that wrk completed; then the system
# calls per request over a second pair of wrk runs (perf stat on the syscall tracepoints, as
# bench/syscalls.sh). Prints each round, the medians, and the median of the per-round B/A ratios.
#
# Environment: ROUNDS [10] DURATION [8s] WARMUP [20s] CONNECTIONS [50] PROXY_CPU [0] LOAD_CPU [1]
#   JAVA_OPTS [-Xms256m -Xmx256m -XX:+UseParallelGC]
#   JAVA_OPTS_A, JAVA_OPTS_B [JAVA_OPTS]  (one side's JVM flags: the same jar twice with different
#                         JAVA_OPTS_B prices a JVM flag)
#   EXTRA_A, EXTRA_B []  (YAML appended to A's or B's file, @WORK@ standing for the run's directory: the
#                         same jar twice with EXTRA_B="accessLog: { to: @WORK@/access.log }" prices a setting)
# Needs wrk, nginx, perf, curl, python3 (apt-get install wrk nginx linux-perf curl python3) and root
# (or kernel.perf_event_paranoid <= 1). Everything listens on 127.0.0.1 and stops by itself.
set -euo pipefail
if [[ $# -ne 2 ]]; then
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
JAR_A=$(realpath "$1") JAR_B=$(realpath "$2")
EXTRA_A=${EXTRA_A:-} EXTRA_B=${EXTRA_B:-}
ROUNDS=${ROUNDS:-10} DURATION=${DURATION:-8s} WARMUP=${WARMUP:-20s} CONNECTIONS=${CONNECTIONS:-50}
PROXY_CPU=${PROXY_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
JAVA_OPTS=${JAVA_OPTS:--Xms256m -Xmx256m -XX:+UseParallelGC}
export PATH="$PATH:/usr/sbin:/sbin"
for tool in wrk nginx perf curl python3 java taskset; do
  command -v "$tool" >/dev/null || { echo "ab-cpu: $tool is needed" >&2; exit 1; }
done

AB_NAME=ab-cpu AB_SCHEME=http AB_LISTEN='listen: { host: 127.0.0.1, port: @PORT@ }'
# shellcheck source=ab-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/ab-common.sh"
wrk_run() { # port cookie duration -> requests
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$3" -H "Cookie: $2" "http://127.0.0.1:$1/" | awk '/requests in/ {print $1}'
}
TICK=$CPU_TICKS_PER_SECOND
EVENTS=""
for call in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait epoll_ctl futex sched_yield poll; do
  EVENTS+="${EVENTS:+,}syscalls:sys_enter_$call"
done

# Both balancers are measured over the same seconds, each with its own wrk: whatever else the machine
# does then (a noisy neighbour, frequency changes) weighs on both alike. Measured one after the
# other, the same build's CPU per request moved by up to 50 % between runs on the 2-core VM.
measure_both() { # -> prints "cpuA sysA rpsA cpuB sysB rpsB"
  local seconds=${DURATION%s} a0 b0 a1 b1
  a0=$(proc_cpu_ticks "$PID_A"); b0=$(proc_cpu_ticks "$PID_B")
  wrk_run "$PORT_A" "$COOKIE_A" "$DURATION" >"$WORK/n-A.txt" & local w1=$!
  wrk_run "$PORT_B" "$COOKIE_B" "$DURATION" >"$WORK/n-B.txt" & local w2=$!
  wait "$w1" "$w2"
  a1=$(proc_cpu_ticks "$PID_A"); b1=$(proc_cpu_ticks "$PID_B")
  local waits=()
  for jar in A B; do
    perf stat -x, -e "$EVENTS" -p "$(eval echo "\$PID_$jar")" -o "$WORK/perf-$jar.txt" -- \
      taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "Cookie: $(eval echo "\$COOKIE_$jar")" \
      "http://127.0.0.1:$(eval echo "\$PORT_$jar")/" >"$WORK/perf-wrk-$jar.txt" &
    waits+=("$!")
  done
  wait "${waits[@]}"
  python3 - "$WORK" "$a1" "$a0" "$b1" "$b0" "$TICK" "$seconds" <<'PY'
import sys
work, a1, a0, b1, b0, tick, seconds = sys.argv[1], *map(float, sys.argv[2:])
out = []
for jar, ticks in (("A", a1 - a0), ("B", b1 - b0)):
    n = int(open(f"{work}/n-{jar}.txt").read())
    m = int(open(f"{work}/perf-wrk-{jar}.txt").read().split(" requests in")[0].split()[-1])
    calls = sum(int(l.split(",")[0]) for l in open(f"{work}/perf-{jar}.txt") if l.split(",")[0].isdigit())
    out += [f"{ticks / tick / n * 1e6:.2f}", f"{calls / m:.2f}", f"{n / seconds:.0f}"]
print(" ".join(out))
PY
}

echo "warming up both for $WARMUP"
wrk_run "$PORT_A" "$COOKIE_A" "$WARMUP" >/dev/null & w1=$!
wrk_run "$PORT_B" "$COOKIE_B" "$WARMUP" >/dev/null & w2=$!
wait "$w1" "$w2"

printf '%-6s %-2s %14s %14s %10s\n' round jar "CPU µs/req" "syscalls/req" "req/s"
: >"$WORK/results.txt"
for r in $(seq 1 "$ROUNDS"); do
  read -r ca sa ra cb sb rb <<<"$(measure_both)"
  printf '%-6s %-2s %14s %14s %10s\n' "$r" A "$ca" "$sa" "$ra"
  printf '%-6s %-2s %14s %14s %10s\n' "$r" B "$cb" "$sb" "$rb"
  echo "$r A $ca $sa $ra" >>"$WORK/results.txt"
  echo "$r B $cb $sb $rb" >>"$WORK/results.txt"
done
python3 - "$WORK/results.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def col(jar, i): return [float(r[i]) for r in rows if r[1] == jar]
for name, i in (("CPU µs/request", 2), ("system calls/request", 3), ("requests/s", 4)):
    a, b = statistics.median(col("A", i)), statistics.median(col("B", i))
    ratios = [float(rb[i]) / float(ra[i]) for ra in rows if ra[1] == "A" for rb in rows if rb[1] == "B" and rb[0] == ra[0]]
    print(f"{name:22s} A {a:9.2f}  B {b:9.2f}  B/A median {statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})")
PY
