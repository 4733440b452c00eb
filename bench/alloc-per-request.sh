#!/usr/bin/env bash
# Heap allocated per request by a whole proxy process under load, from JFR (issue 23, item 3): the
# Affinity balancer (sticky hits with a fixed-expiry cookie, and new clients without one) against
# plain Jetty 12 ProxyHandler.Reverse, in front of the same nginx backends as compare.sh.
#
#   bench/alloc-per-request.sh [--no-build]
#
# For each case: warm up with wrk, then record JFR (settings=profile) over one wrk run and divide by
# wrk's request count the growth of each thread's allocation counter between the recording's first and
# last jdk.ThreadAllocationStatistics (exact, for the threads alive throughout), and as a check eden's
# turnover from jstat -gc over the same run. The weights of the jdk.ObjectAllocationSample events say
# where (the heaviest sites are printed), not how much: their sum came out 2-15 times the two figures
# above, varying from run to run, so it is logged but not reported. Allocation per request does not depend on
# how fast the machine is, so a busy machine gives about the same figure, only slower.
#
# Environment (defaults in brackets): DURATION [10s]  WARMUP [20s]  CONNECTIONS [50]
#   JAVA_OPTS [-Xms256m -Xmx256m -XX:+UseParallelGC]  PIN [1] PROXY_CPU [0] LOAD_CPU [1]
#   AFFINITY_JAR [<repo>/balancer/target/affinity-balancer.jar]   MAX_SECONDS [900]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-20s}"
CONNECTIONS="${CONNECTIONS:-50}"
JAVA_OPTS="${JAVA_OPTS:--Xms256m -Xmx256m -XX:+UseParallelGC}"
PIN="${PIN:-1}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
MAX_SECONDS="${MAX_SECONDS:-900}"
JIT_PRIORITY="${JIT_PRIORITY:-1}"
AFFINITY_JAR="${AFFINITY_JAR:-$REPO/balancer/target/affinity-balancer.jar}"
BENCH_JAR="$REPO/bench/target/benchmarks.jar"
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "alloc-per-request.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

BENCH_NAME=alloc-per-request.sh
# shellcheck source=compare-common.sh
source "$REPO/bench/compare-common.sh"
install_missing wrk:wrk nginx:nginx curl:curl taskset:util-linux
command -v jcmd >/dev/null && command -v jfr >/dev/null || die "jcmd and jfr (JDK 17) are needed"

if [[ "$BUILD" == 1 ]]; then
  (cd "$REPO" && mvn -B -ntp -q -P bench -pl bench -am package -DskipTests) || die "the bench build failed"
  (cd "$REPO" && mvn -B -ntp -q -pl balancer -am package -Dmaven.test.skip=true) || die "the launcher build failed"
fi
START_SECONDS=$SECONDS
[[ -f "$BENCH_JAR" && -f "$AFFINITY_JAR" ]] || die "build the jars first (run without --no-build)"

WORK="$(mktemp -d /tmp/affinity-alloc.XXXXXX)"
chmod 755 "$WORK"
read -r B1 B2 B3 P_AFF P_JETTY <<<"$(free_ports 5)"
BACKENDS=("$B1" "$B2" "$B3")
start_backends

JVM=(java $JAVA_OPTS $(jit_opts))
{ echo "listen: { host: 127.0.0.1, port: $P_AFF }"; affinity_bench_yaml; } >"$WORK/balancer.yaml"
spawn "$WORK/affinity.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -jar "$AFFINITY_JAR" "$WORK/balancer.yaml"
AFF_PID=$LAST_PID
spawn "$WORK/jetty.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -cp "$BENCH_JAR" dev.affinity.bench.PlainJettyProxy \
  "$P_JETTY" "http://127.0.0.1:$B1" "http://127.0.0.1:$B2" "http://127.0.0.1:$B3"
JETTY_PID=$LAST_PID
wait_http "http://127.0.0.1:$P_AFF/affinity/status.json" 60 "$AFF_PID" || die "the Affinity balancer did not start"
wait_http "http://127.0.0.1:$P_JETTY/" 60 "$JETTY_PID" || die "PlainJettyProxy did not start"
AFF_COOKIE="$(sticky_cookie "http://127.0.0.1:$P_AFF/" AFFINITY)"
[[ -n "$AFF_COOKIE" ]] || die "Affinity gave no AFFINITY cookie"

wrk_run() { # out duration url [cookie]
  local args=(-t1 -c"$CONNECTIONS" -d"$2")
  [[ -n "${4:-}" ]] && args+=(-H "Cookie: $4")
  check_deadline
  timeout $(( $(seconds_of "$2") + 30 )) "${ON_LOAD_CPU[@]}" wrk "${args[@]}" "$3" >"$1" 2>&1 || { cat "$1" >&2; die "wrk failed against $3"; }
}

# Bytes per request and the heaviest sites from a recording: "bytes_per_request total_mb sites...".
summarise() { # jfr-file requests
  jfr print --json --events jdk.ObjectAllocationSample,jdk.ThreadAllocationStatistics "$1" >"$1.json"
  python3 - "$1.json" "$2" <<'PY'
import json, sys, collections
events = json.load(open(sys.argv[1]))["recording"]["events"]
requests = int(sys.argv[2])
total = 0
sites = collections.Counter()
# Exact for threads alive at both ends: each thread's allocated bytes at the recording's start and end.
first, last = {}, {}
for e in events:
    if e["type"] != "jdk.ThreadAllocationStatistics":
        continue
    v = e["values"]
    tid = (v.get("thread") or {}).get("javaThreadId")
    first.setdefault(tid, v["allocated"])
    last[tid] = v["allocated"]
exact = sum(last[t] - first[t] for t in last)
for e in events:
    if e["type"] != "jdk.ObjectAllocationSample":
        continue
    v = e["values"]
    w = v["weight"]
    total += w
    frames = (v.get("stackTrace") or {}).get("frames") or []
    top = "?"
    for f in frames:
        m = f["method"]
        name = m["type"]["name"] + "." + m["name"]
        top = name
        break
    sites[(v["objectClass"]["name"], top)] += w
print(f"{total / max(requests, 1):.0f} {total / 1e6:.1f} {exact / max(requests, 1):.0f}")
for (cls, site), w in sites.most_common(8):
    print(f"    {w / max(requests, 1):7.0f} B/request  {cls}  at {site}")
PY
}

declare -a REPORT
measure() { # key name pid url cookie
  local key="$1" name="$2" pid="$3" url="$4" cookie="${5:-}" rec="$WORK/$1.jfr" rps total
  log "$name: warm-up $WARMUP"
  wrk_run "$WORK/$key-warmup.txt" "$WARMUP" "$url" "$cookie"
  local gc_before gc_after
  jcmd "$pid" JFR.start name=alloc settings=profile filename="$rec" >/dev/null
  gc_before="$(jstat -gc "$pid" | tail -1)"
  wrk_run "$WORK/$key.txt" "$DURATION" "$url" "$cookie"
  gc_after="$(jstat -gc "$pid" | tail -1)"
  jcmd "$pid" JFR.stop name=alloc >/dev/null
  read -r rps _ total _ <<<"$(parse_wrk <"$WORK/$key.txt")"
  local summary by_gc
  summary="$(summarise "$rec" "$total")"
  # A third view, from the young generation: every young collection empties eden, so what was
  # allocated is eden's capacity per collection plus the change in eden's use (jstat -gc, KB).
  by_gc="$(python3 - "$gc_before" "$gc_after" "$total" <<'PY'
import sys
cols = "S0C S1C S0U S1U EC EU OC OU MC MU CCSC CCSU YGC YGCT FGC FGCT CGC CGCT GCT".split()
b = dict(zip(cols, sys.argv[1].split())); a = dict(zip(cols, sys.argv[2].split()))
allocated_kb = float(a["EC"]) * (int(a["YGC"]) - int(b["YGC"])) + float(a["EU"]) - float(b["EU"])
print(f"{allocated_kb * 1024 / max(int(sys.argv[3]), 1):.0f}")
PY
)"
  summary="$(head -1 <<<"$summary") $by_gc
$(tail -n +2 <<<"$summary")"
  log "$name: $rps req/s, $total requests; $(head -1 <<<"$summary" | awk '{print $1 " bytes/request sampled (" $2 " MB in all), " $3 " by thread counters, " $4 " by eden"}')"
  tail -n +2 <<<"$summary" >&2
  REPORT+=("| $name | $(head -1 <<<"$summary" | awk '{print $3 " | " $4}') | $total |")
}

measure affinity-sticky "Affinity, sticky hit (fixed-expiry cookie sent)" "$AFF_PID" "http://127.0.0.1:$P_AFF/" "$AFF_COOKIE"
measure affinity-new "Affinity, new clients (no cookie)" "$AFF_PID" "http://127.0.0.1:$P_AFF/" ""
measure jetty "plain Jetty ProxyHandler.Reverse (no cookie)" "$JETTY_PID" "http://127.0.0.1:$P_JETTY/" ""

echo
echo "Command: \`DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS bench/alloc-per-request.sh\`; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| process, load | bytes per request: JFR thread counters (threads alive throughout) | eden turnover (jstat) | requests recorded |"
echo "| --- | ---: | ---: | ---: |"
printf '%s\n' "${REPORT[@]}"
