#!/usr/bin/env bash
# What AffinityFilter costs per request: the same hello-world servlet with and without the filter,
# in one Jetty ee10 server (CPU 0), loaded alternately by wrk (CPU 1) with a valid route cookie.
#
#   bench/filter-overhead.sh [--no-build] [--write]
#
# Environment: DURATION [10s] CONNECTIONS [50] REPS [3] WARMUP [10s]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10s}"; CONNECTIONS="${CONNECTIONS:-50}"; REPS="${REPS:-3}"; WARMUP="${WARMUP:-10s}"
BUILD=1; WRITE=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --write) WRITE=1 ;;
    *) echo "filter-overhead.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; }
if [ "$BUILD" = 1 ]; then
  (cd "$REPO" && timeout 900 mvn -B -ntp -q -P bench -pl bench -am package -Dmaven.test.skip=true)
fi
JAR="$REPO/bench/target/benchmarks.jar"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PLAIN=$(free_port); FILTERED=$(free_port)
KEYS="k1:$(head -c 32 /dev/urandom | base64)"
LOG=$(mktemp)
taskset -c 0 java -Xms256m -Xmx256m -XX:+UseParallelGC -cp "$JAR" dev.affinity.bench.FilterOverhead "$PLAIN" "$FILTERED" "$KEYS" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$FILTERED/" >/dev/null 2>&1 && break; sleep 0.5; done
COOKIE=$(curl -s -D - -o /dev/null "http://127.0.0.1:$FILTERED/?pin" | tr -d '\r' | awk -F': ' 'tolower($1)=="set-cookie" && $2 ~ /^AFFINITYROUTE=/ {split($2,a,";"); print a[1]}')
[ -n "$COOKIE" ] || { echo "filter-overhead.sh: FAIL: no AFFINITYROUTE cookie from the filtered servlet" >&2; cat "$LOG" >&2; exit 1; }
run() { taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$2" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$1/" ; }
rps() { awk '/Requests\/sec/ {print $2}'; }
echo "warming up both ($WARMUP each)" >&2
run "$PLAIN" "$WARMUP" >/dev/null; run "$FILTERED" "$WARMUP" >/dev/null
P=(); F=()
for i in $(seq 1 "$REPS"); do
  P+=("$(run "$PLAIN" "$DURATION" | rps)")
  F+=("$(run "$FILTERED" "$DURATION" | rps)")
  echo "rep $i: without ${P[-1]} req/s, with ${F[-1]} req/s" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
MP=$(median "${P[@]}"); MF=$(median "${F[@]}")
OVER=$(awk -v p="$MP" -v f="$MF" 'BEGIN {printf "%.1f", (p - f) / p * 100}')
TABLE=$(cat <<T
Command: \`bench/filter-overhead.sh --write\` (wrk -t1 -c$CONNECTIONS -d$DURATION, $REPS alternating reps, median; server pinned to CPU 0, wrk to CPU 1; every request carries a valid route cookie, which the filter opens). Run $(date -u +%Y-%m-%dT%H:%MZ).

| hello-world servlet | req/s (median) |
|---|---:|
| without AffinityFilter | $MP |
| with AffinityFilter | $MF |
| **overhead** | **$OVER %** (goal ≤ 3 %) |
T
)
echo "$TABLE"
if [ "$WRITE" = 1 ]; then
  F_MD="$REPO/BENCHMARKS.md"
  touch "$F_MD"
  python3 - "$F_MD" "$TABLE" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
s = open(path).read()
begin, end = "<!-- filter:begin -->", "<!-- filter:end -->"
block = begin + "\n" + table + "\n" + end
if begin in s and end in s:
    s = s[:s.index(begin)] + block + s[s.index(end) + len(end):]
else:
    s = s.rstrip() + "\n\n## Filter overhead\n\n" + block + "\n"
open(path, "w").write(s)
PY
fi
