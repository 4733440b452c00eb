#!/usr/bin/env bash
# A/B of the Spring Boot cart sample with the Affinity starter on and off: the same jar, the same JVM
# flags, two processes pinned to the same core, B started with --affinity.enabled=false. Each round
# loads A alone, then B alone (the order swaps every round: AB, BA, AB, ...), one wrk each. Per round
# and variant: requests per second, and CPU time of the app's process (utime + stime from /proc)
# divided by the requests wrk completed. Prints every round, each variant's median and spread
# (min-max across rounds), and the median and range of the per-round A/B ratios.
#
#   bench/spring-ab.sh [--no-build] [--write]
#
# What is loaded: GET URL_PATH (default /api/products: the filter opens the route cookie, the
# controller touches no session, so the difference is the starter's filter and nothing else) with
# the Cookie header of a client that added one product on A (AFFINITYROUTE and AFFINITYSESSION),
# sent to both. --write replaces what is between <!-- spring-ab:begin --> and <!-- spring-ab:end -->
# in BENCHMARKS.md with the report.
#
# Environment: ROUNDS [6] DURATION [10s] WARMUP [60s: 20 s left both JVMs warming up for minutes] CONNECTIONS [50] SERVER [tomcat|jetty]
#   SEND [route+session | route: the cookies sent] URL_PATH [/api/products] APP_CPU [0] LOAD_CPU [1]
#   JAVA_OPTS [-Xms256m -Xmx256m -XX:+UseParallelGC]   (both variants)
#   JAR [samples/spring-boot-cart/target/spring-boot-cart.jar]  BENCHMARKS_FILE [BENCHMARKS.md]
# Needs wrk, curl, python3, taskset, java 17. Everything listens on 127.0.0.1 and stops by itself.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=1 WRITE=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --write) WRITE=1 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "spring-ab.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
ROUNDS=${ROUNDS:-6} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-60s} CONNECTIONS=${CONNECTIONS:-50}
SERVER=${SERVER:-tomcat} URL_PATH=${URL_PATH:-/api/products} APP_CPU=${APP_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
JAVA_OPTS=${JAVA_OPTS:--Xms256m -Xmx256m -XX:+UseParallelGC}
JAR=${JAR:-$REPO/samples/spring-boot-cart/target/spring-boot-cart.jar}
BENCHMARKS_FILE=${BENCHMARKS_FILE:-$REPO/BENCHMARKS.md}
case "$SERVER" in tomcat|jetty) ;; *) echo "spring-ab.sh: SERVER must be tomcat or jetty, got \"$SERVER\"" >&2; exit 2 ;; esac
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "spring-ab.sh: ROUNDS must be a positive number, got \"$ROUNDS\"" >&2; exit 2; }
[[ "$DURATION" =~ ^[1-9][0-9]*s$ && "$WARMUP" =~ ^[0-9]+s$ ]] \
  || { echo "spring-ab.sh: DURATION and WARMUP are seconds such as 10s, got \"$DURATION\" and \"$WARMUP\"" >&2; exit 2; }
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; }
for tool in wrk curl python3 java taskset; do
  command -v "$tool" >/dev/null || { echo "spring-ab.sh: $tool is needed" >&2; exit 1; }
done
if [[ "$BUILD" == 1 ]]; then
  (cd "$REPO" && timeout 900 mvn -B -ntp -q -pl samples/spring-boot-cart -am package -Dmaven.test.skip=true)
fi
[[ -f "$JAR" ]] || { echo "spring-ab.sh: $JAR is missing (build without --no-build)" >&2; exit 1; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d /tmp/affinity-spring-ab.XXXXXX)
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
  if [[ $rc -eq 0 ]]; then rm -rf "$WORK"; else echo "spring-ab.sh: logs kept in $WORK" >&2; fi
}
trap cleanup EXIT

read -r PORT_A PORT_B <<<"$(python3 -c '
import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"
KEYS="bench:$(head -c 32 /dev/urandom | base64)"

start_app() { # name port extra-args...
  local name=$1 port=$2; shift 2
  # shellcheck disable=SC2086
  taskset -c "$APP_CPU" java $JAVA_OPTS -jar "$JAR" --cart.server="$SERVER" --server.address=127.0.0.1 \
    --server.port="$port" --affinity.target-id="bench-$name" --affinity.keys="$KEYS" \
    --logging.level.root=WARN "$@" >"$WORK/$name.out" 2>&1 </dev/null &
  PIDS+=("$!")
  eval "PID_$name=$!"
}
start_app A "$PORT_A"
start_app B "$PORT_B" --affinity.enabled=false
for name in A B; do
  port_var="PORT_$name"
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:${!port_var}/actuator/health" && continue 2
    sleep 0.2
  done
  echo "spring-ab.sh: FAIL: variant $name did not start" >&2; cat "$WORK/$name.out" >&2; exit 1
done

# A client of A adds a product to its cart (A pins it and seals its session into AFFINITYSESSION) and
# sends the cookies it got with every request, to A and to B alike: the same bytes reach both, and
# only A has a filter that reads them. (B cannot serve the cart itself: without the starter there is
# no Affinity argument for its controller; /api/products needs none.)
curl -s -c "$WORK/jar" -o /dev/null -d 'action=add&sku=espresso' "http://127.0.0.1:$PORT_A/api/cart"
COOKIE=$(awk -F'\t' 'NF == 7 && $1 !~ /^# / {printf "%s%s=%s", (n++ ? "; " : ""), $6, $7}' "$WORK/jar")
[[ "$COOKIE" == *AFFINITYROUTE=*AFFINITYSESSION=* || "$COOKIE" == *AFFINITYSESSION=*AFFINITYROUTE=* ]] \
  || { echo "spring-ab.sh: FAIL: A (starter on) gave no route and session cookies: \"$COOKIE\"" >&2; exit 1; }
# SEND=route: the route cookie only, so that the filter opens no session (see BENCHMARKS.md: with the
# session cookie, Spring MVC's SessionFlashMapManager asks getSession(false) on every request).
SEND=${SEND:-route+session}
case "$SEND" in
  route+session) SENT="route and session cookies" ;;
  route) COOKIE=$(tr ';' '\n' <<<"$COOKIE" | sed 's/^ *//' | grep '^AFFINITYROUTE=' | paste -sd ';' | sed 's/;/; /g'); SENT="route cookie only" ;;
  *) echo "spring-ab.sh: SEND must be route+session or route, got \"$SEND\"" >&2; exit 2 ;;
esac
status_of() { curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "http://127.0.0.1:$1$2"; }
[[ "$(status_of "$PORT_A" /actuator/affinity)" == 200 && "$(status_of "$PORT_B" /actuator/affinity)" == 404 ]] \
  || { echo "spring-ab.sh: FAIL: /actuator/affinity should answer on A only (is the starter off in B?)" >&2; exit 1; }
for port in "$PORT_A" "$PORT_B"; do
  status=$(status_of "$port" "$URL_PATH")
  [[ "$status" == 200 ]] || { echo "spring-ab.sh: FAIL: 127.0.0.1:$port answered $status to $URL_PATH" >&2; exit 1; }
done

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # name duration -> "req/s cpu-µs/req"; fails on socket errors or non-2xx answers
  local name=$1 port_var="PORT_$1" pid_var="PID_$1" t0 t1
  t0=$(cpu_ticks "${!pid_var}")
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$2" -H "Cookie: $COOKIE" \
    "http://127.0.0.1:${!port_var}$URL_PATH" >"$WORK/wrk-$name.txt"
  t1=$(cpu_ticks "${!pid_var}")
  if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk-$name.txt"; then
    echo "spring-ab.sh: FAIL: wrk against $name:" >&2; cat "$WORK/wrk-$name.txt" >&2; exit 1
  fi
  python3 - "$WORK/wrk-$name.txt" "$t0" "$t1" "$TICK" "${2%s}" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
t0, t1, tick, seconds = (float(x) for x in sys.argv[2:])
n = int(re.search(r"(\d+) requests in", text).group(1))
print(f"{n / seconds:.0f} {(t1 - t0) / tick / n * 1e6:.1f}")
PY
}

if [[ "${WARMUP%s}" != 0 ]]; then
  echo "warming up A and B, $WARMUP each" >&2
  run A "$WARMUP" >/dev/null; run B "$WARMUP" >/dev/null
fi
: >"$WORK/results.txt"
printf '%-6s %-22s %10s %12s\n' round variant "req/s" "CPU µs/req" >&2
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order="A B"; else order="B A"; fi
  for name in $order; do
    read -r rps cpu <<<"$(run "$name" "$DURATION")"
    echo "$r $name $rps $cpu" >>"$WORK/results.txt"
    label=$([[ $name == A ]] && echo "A starter on" || echo "B affinity.enabled=false")
    printf '%-6s %-22s %10s %12s\n' "$r" "$label" "$rps" "$cpu" >&2
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

REPORT=$(python3 - "$WORK/results.txt" <<PY
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def col(v, i): return [float(r[i]) for r in rows if r[1] == v]
def ratios(i):
    a = {r[0]: float(r[i]) for r in rows if r[1] == "A"}
    b = {r[0]: float(r[i]) for r in rows if r[1] == "B"}
    return [a[k] / b[k] for k in a]
def spread(xs): return f"{min(xs):.0f}–{max(xs):.0f} (±{(max(xs) - min(xs)) / 2 / statistics.median(xs) * 100:.0f} %)"
def spread1(xs): return f"{min(xs):.1f}–{max(xs):.1f} (±{(max(xs) - min(xs)) / 2 / statistics.median(xs) * 100:.0f} %)"
print("Command: \`ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP SERVER=$SERVER SEND=$SEND bench/spring-ab.sh\`"
      " (wrk -t1 -c$CONNECTIONS -d$DURATION, GET $URL_PATH with a pinned client's $SENT, to both; both apps on CPU $APP_CPU,"
      " wrk on CPU $LOAD_CPU, rounds alternate AB/BA; JAVA_OPTS \`$JAVA_OPTS\`; $SERVER)."
      " Run $(date -u +%Y-%m-%dT%H:%MZ), load average $LOAD_BEFORE before and $LOAD_AFTER after.")
print()
print("| round | A: starter on, req/s | B: affinity.enabled=false, req/s | A/B | A: CPU µs/req | B: CPU µs/req | A/B |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for k in sorted({r[0] for r in rows}, key=int):
    a = next(r for r in rows if r[0] == k and r[1] == "A"); b = next(r for r in rows if r[0] == k and r[1] == "B")
    print(f"| {k} | {a[2]} | {b[2]} | {float(a[2]) / float(b[2]):.3f} | {a[3]} | {b[3]} | {float(a[3]) / float(b[3]):.3f} |")
rq, cp = ratios(2), ratios(3)
print(f"| **median** | **{statistics.median(col('A', 2)):.0f}** | **{statistics.median(col('B', 2)):.0f}** | **{statistics.median(rq):.3f}** "
      f"| **{statistics.median(col('A', 3)):.1f}** | **{statistics.median(col('B', 3)):.1f}** | **{statistics.median(cp):.3f}** |")
print(f"| spread (min–max) | {spread(col('A', 2))} | {spread(col('B', 2))} | {min(rq):.3f}–{max(rq):.3f} "
      f"| {spread1(col('A', 3))} | {spread1(col('B', 3))} | {min(cp):.3f}–{max(cp):.3f} |")
PY
)
echo "$REPORT"
if [[ "$WRITE" == 1 ]]; then
  python3 - "$BENCHMARKS_FILE" "$REPORT" <<'PY'
import sys
path, report = sys.argv[1], sys.argv[2]
s = open(path).read()
begin, end = "<!-- spring-ab:begin -->", "<!-- spring-ab:end -->"
block = begin + "\n" + report + "\n" + end
if begin in s and end in s:
    s = s[:s.index(begin)] + block + s[s.index(end) + len(end):]
else:
    s = s.rstrip() + "\n\n## Spring Boot sample: filter on vs off\n\n" + block + "\n"
open(path, "w").write(s)
PY
  echo "spring-ab.sh: wrote the report into $BENCHMARKS_FILE" >&2
fi
