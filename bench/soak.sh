#!/usr/bin/env bash
# The soak: the real balancer (launcher jar, child JVM, GC log) in front of three Jetty targets, under
# a fixed-rate mix of normal clients (sticky GETs with cookie jars, new clients, POSTs with 1-16 KB
# bodies, WebSocket echo sessions) and hostile ones (junk and forged cookies, 1000 shard cookies,
# 40 KB headers, pipelining floods, slowloris), with one target killed and restarted every minute.
# Every interval it records the balancer's heap after a forced full GC (jcmd GC.run + GC.heap_info),
# threads, open descriptors, RSS, the machine's idle share, latency and errors per kind of client,
# and re-pins; at the end it checks that heap, threads and descriptors are flat (last interval
# within 5 % of the baseline one). Driver: dev.affinity.bench.soak.Soak (bench module).
#
#   bench/soak.sh [--minutes 20] [--rate R|auto] [--out DIR] [--no-build] [-- DRIVER OPTIONS...]
#
#   --minutes N   length of the run (default 20); one interval a minute, baseline interval 5
#   --rate R      scheduled requests per second (default auto: a 30 s probe measures the soak's own CPU
#                 per request and picks the rate at which its JVMs use half the machine)
#   --out DIR     results directory (default bench/results/soak-YYYYMMDD-HHMM)
#   --no-build    use balancer/target/affinity-balancer.jar and bench/target/benchmarks.jar as they are
#   after --, driver options: --interval-seconds, --baseline, --clients (300), --websockets (8),
#   --ws-rate (4 per session per s), --ws-session-seconds (30), --slowloris (8), --targets (3),
#   --churn-every-seconds (60), --down-seconds (15), --head-timeout-ms (2000), --balancer-jvm "OPTS"
#   (default "-Xms64m -Xmx256m -XX:+UseG1GC")
#
# Writes intervals.csv, latency.csv, errors.txt, summary.txt and soak.png (Java2D, no extra package)
# beside the generated balancer.yaml, balancer.log and gc.log. Exit status 0 when the run passed
# (0 idempotent errors, no hostile request answered 5xx, every re-pin accounted for, flat), 1 if not.
# Needs a JDK (jcmd) and Linux (/proc). The CI version is SoakSmokeTest (60 s, in mvn verify).
set -euo pipefail
COMMAND="bench/soak.sh $*"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MINUTES=20
RATE=auto
OUT=""
BUILD=1
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument: $1 (try --help)" >&2; exit 64 ;;
  esac
done

cd "$REPO"
if [ -z "$OUT" ]; then
  OUT="bench/results/soak-$(date +%Y%m%d-%H%M)"
fi
if [ "$BUILD" = 1 ]; then
  mvn -B -ntp -q -P bench -pl balancer,bench -am package -DskipTests
fi
for jar in balancer/target/affinity-balancer.jar bench/target/benchmarks.jar; do
  [ -f "$jar" ] || { echo "soak.sh: $jar is missing (run without --no-build)" >&2; exit 1; }
done
command -v jcmd >/dev/null || [ -x "$(dirname "$(readlink -f "$(command -v java)")")/jcmd" ] \
  || { echo "soak.sh: jcmd not found (a JDK is needed, not a JRE)" >&2; exit 1; }

mkdir -p "$OUT"
{
  echo "command: $COMMAND"
  echo "started: $(date -Is)"
  echo "uptime before: $(uptime)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpus: $(nproc)"
} > "$OUT/run.txt"
cat "$OUT/run.txt"

set +e
java -Xms256m -Xmx512m -cp bench/target/benchmarks.jar dev.affinity.bench.soak.Soak \
  --balancer-jar balancer/target/affinity-balancer.jar --minutes "$MINUTES" --rate "$RATE" --out "$OUT" \
  "${EXTRA[@]}"
status=$?
set -e
echo "uptime after: $(uptime)" >> "$OUT/run.txt"
echo "exit status: $status" >> "$OUT/run.txt"
echo "soak.sh: results in $OUT"
exit "$status"
