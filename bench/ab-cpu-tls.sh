#!/usr/bin/env bash
# A/B of two builds of the standalone balancer behind its TLS listener (TLS 1.3, h2 and http/1.1 by
# ALPN): CPU time per request and requests per second, for HTTP/2 clients (h2load) and for keep-alive
# HTTPS clients (wrk). The sibling of bench/ab-cpu.sh (plain HTTP/1 sticky hits), built the same way:
# both balancers run at once, pinned to the same core, in front of one nginx backend, and each round
# loads both over the same seconds, so that the machine's noise weighs on both alike.
#
#   bench/ab-cpu-tls.sh JAR_A JAR_B
#
# Per round, mode and balancer: CPU seconds the balancer process used (utime + stime from /proc)
# while its load ran for DURATION, divided by the requests completed. Prints each round, the medians
# and the median of the per-round B/A ratios, per mode.
#
# Environment: MODES [h2 ka]  ROUNDS [6] DURATION [8s] WARMUP [30s]
#   TOGETHER [1]  (1: A and B loaded over the same seconds; 0: one after the other, in turns)
#   H2_CLIENTS [50] H2_STREAMS [10] (h2load -c, -m)   CONNECTIONS [50] (wrk -c, mode ka)
#   PROXY_CPU [0] LOAD_CPU [1]   JAVA_OPTS [-Xms256m -Xmx256m -XX:+UseParallelGC]
#   JAVA_OPTS_A, JAVA_OPTS_B [JAVA_OPTS]  (one side's JVM flags, as in bench/ab-cpu.sh)
#   EXTRA_A, EXTRA_B []  (YAML appended to A's or B's file, @WORK@ standing for the run's directory)
# Needs wrk, h2load, nginx, openssl, curl, python3. Everything listens on 127.0.0.1 and stops by itself.
set -euo pipefail
if [[ $# -ne 2 ]]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
JAR_A=$(realpath "$1") JAR_B=$(realpath "$2")
EXTRA_A=${EXTRA_A:-} EXTRA_B=${EXTRA_B:-}
MODES=${MODES:-h2 ka}
ROUNDS=${ROUNDS:-6} DURATION=${DURATION:-8s} WARMUP=${WARMUP:-30s}
H2_CLIENTS=${H2_CLIENTS:-50} H2_STREAMS=${H2_STREAMS:-10} CONNECTIONS=${CONNECTIONS:-50} TOGETHER=${TOGETHER:-1}
PROXY_CPU=${PROXY_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
JAVA_OPTS=${JAVA_OPTS:--Xms256m -Xmx256m -XX:+UseParallelGC}
export PATH="$PATH:/usr/sbin:/sbin"
for tool in wrk h2load nginx openssl curl python3 java taskset; do
  command -v "$tool" >/dev/null || { echo "ab-cpu-tls: $tool is needed" >&2; exit 1; }
done
for mode in $MODES; do
  [[ "$mode" == h2 || "$mode" == ka ]] || { echo "ab-cpu-tls: MODES takes h2 and ka, got $mode" >&2; exit 2; }
done

AB_NAME=ab-cpu-tls AB_SCHEME=https AB_NGINX_CONNECTIONS=4096 AB_NGINX_LISTEN_OPTIONS=backlog=4096
AB_LISTEN='listen:
  host: 127.0.0.1
  port: @PORT@
  http2: true
  tls:
    certificates: [ { cert: @WORK@/site.crt, key: @WORK@/site.key } ]
    protocols: [ TLSv1.3 ]'
make_certificate() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=bench.test" \
    -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" -keyout "$WORK/site.key" -out "$WORK/site.crt" 2>"$WORK/openssl.out"
}
AB_BEFORE_START=make_certificate
# shellcheck source=ab-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/ab-common.sh"
TICK="$CPU_TICKS_PER_SECOND"

load_run() { # mode port cookie duration out -> writes "requests failed" to out
  local seconds=${4%s}
  if [[ "$1" == h2 ]]; then
    # h2load waits for the streams in flight when the time is up; a balancer that stops answering must
    # not hang the run, so it gets a minute more, and then the round counts it as failed.
    timeout $((seconds + 60)) taskset -c "$LOAD_CPU" h2load -t1 -c"$H2_CLIENTS" -m"$H2_STREAMS" -D"$seconds" \
      -H "cookie: $3" "https://127.0.0.1:$2/" >"$5.raw" 2>&1 || true
    grep -q '^Application protocol: h2$' "$5.raw" || { echo "ab-cpu-tls: h2load did not speak h2" >&2; cat "$5.raw" >&2; exit 1; }
    awk '/^requests:/ {n = $8; e = $10 + $12} END {if (n == "") print 0, "hung"; else print n, e}' "$5.raw" >"$5"
  else
    timeout $((seconds + 60)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$4" -H "Cookie: $3" \
      "https://127.0.0.1:$2/" >"$5.raw" 2>&1 || true
    awk '/requests in/ {n=$1} /Non-2xx|Socket errors/ {e++} END {print (n == "" ? 0 : n), e+0}' "$5.raw" >"$5"
  fi
}

# Both balancers over the same seconds, each with its own load generator (TOGETHER=1); or one after
# the other, A first in odd rounds and B first in even ones (TOGETHER=0). Loaded together, the two
# share the core by the kernel's scheduler, which gives more of it to the process with more runnable
# threads at a time: requests per second then say as much about thread counts as about cost.
measure_both() { # mode round -> prints "cpuA rpsA cpuB rpsB errorsA errorsB"
  local mode=$1 seconds=${DURATION%s} a0 b0 a1 b1
  if [[ "$TOGETHER" == 1 ]]; then
    a0=$(proc_cpu_ticks "$PID_A"); b0=$(proc_cpu_ticks "$PID_B")
    load_run "$mode" "$PORT_A" "$COOKIE_A" "$DURATION" "$WORK/n-A" & local w1=$!
    load_run "$mode" "$PORT_B" "$COOKIE_B" "$DURATION" "$WORK/n-B" & local w2=$!
    wait "$w1" "$w2"
    a1=$(proc_cpu_ticks "$PID_A"); b1=$(proc_cpu_ticks "$PID_B")
  else
    local first=A
    (( $2 % 2 == 0 )) && first=B
    for jar in $first $([[ $first == A ]] && echo B || echo A); do
      local pid port cookie t0
      pid=$(eval echo "\$PID_$jar"); port=$(eval echo "\$PORT_$jar"); cookie=$(eval echo "\$COOKIE_$jar")
      t0=$(proc_cpu_ticks "$pid")
      load_run "$mode" "$port" "$cookie" "$DURATION" "$WORK/n-$jar"
      eval "${jar,,}0=$t0; ${jar,,}1=$(proc_cpu_ticks "$pid")"
    done
  fi
  python3 - "$WORK" "$a1" "$a0" "$b1" "$b0" "$TICK" "$seconds" <<'PY'
import sys
work, a1, a0, b1, b0, tick, seconds = sys.argv[1], *map(float, sys.argv[2:])
out, errors = [], []
for jar, ticks in (("A", a1 - a0), ("B", b1 - b0)):
    n, e = open(f"{work}/n-{jar}").read().split()
    n = int(n or 0)
    out += [f"{ticks / tick / n * 1e6:.2f}" if n else "nan", f"{n / seconds:.0f}"]
    errors.append(e)
print(" ".join(out + errors))
PY
}

echo "ab-cpu-tls: load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for mode in $MODES; do
  echo "warming up both ($mode) for $WARMUP"
  load_run "$mode" "$PORT_A" "$COOKIE_A" "$WARMUP" "$WORK/w-A" & w1=$!
  load_run "$mode" "$PORT_B" "$COOKIE_B" "$WARMUP" "$WORK/w-B" & w2=$!
  wait "$w1" "$w2"
done

printf '%-6s %-4s %-2s %14s %10s %8s\n' round mode jar "CPU µs/req" "req/s" errors
: >"$WORK/results.txt"
for r in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    read -r ca ra cb rb ea eb <<<"$(measure_both "$mode" "$r")"
    printf '%-6s %-4s %-2s %14s %10s %8s\n' "$r" "$mode" A "$ca" "$ra" "$ea"
    printf '%-6s %-4s %-2s %14s %10s %8s\n' "$r" "$mode" B "$cb" "$rb" "$eb"
    echo "$r $mode A $ca $ra" >>"$WORK/results.txt"
    echo "$r $mode B $cb $rb" >>"$WORK/results.txt"
  done
done
echo "ab-cpu-tls: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
python3 - "$WORK/results.txt" "$MODES" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for mode in sys.argv[2].split():
    def col(jar, i): return [float(r[i]) for r in rows if r[1] == mode and r[2] == jar and r[3] != "nan"]
    for name, i in (("CPU µs/request", 3), ("requests/s", 4)):
        a, b = statistics.median(col("A", i)), statistics.median(col("B", i))
        ratios = [float(rb[i]) / float(ra[i]) for ra in rows if ra[1] == mode and ra[2] == "A" and ra[3] != "nan"
                  for rb in rows if rb[1] == mode and rb[2] == "B" and rb[0] == ra[0] and rb[3] != "nan"]
        if not ratios:
            print(f"{mode:3s} {name:16s} no round where both answered"); continue
        print(f"{mode:3s} {name:16s} A {a:9.2f}  B {b:9.2f}  B/A median {statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})")
PY
