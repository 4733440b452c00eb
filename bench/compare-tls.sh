#!/usr/bin/env bash
# The TLS front door, in one run: the Affinity balancer with its TLS on the JDK and on Conscrypt
# vs HAProxy, all three with the same certificate and TLS 1.3 only, in front of the same three
# nginx backends on 127.0.0.1. Measures, per proxy and round:
#   ka  keep-alive sticky hits over TLS: wrk -t1 -cCONNECTIONS over https with the sticky cookie
#       (HTTP/1.1, no ALPN), requests per second and p99;
#   h2  HTTP/2 by ALPN: h2load -cH2_CLIENTS -mH2_STREAMS with the sticky cookie, requests per second;
#   hs  new TLS 1.3 handshakes per second: HS_CLIENTS parallel `openssl s_time -new -www /` clients,
#       each connection a full handshake (s_time -new never offers a session to resume) and one
#       HTTP/1.0 GET without a cookie (a new client), then closed.
# See bench/README.md ("compare-tls.sh").
#
#   bench/compare-tls.sh [--no-build] [--write] [--help]
#
# All proxies run at once (idle while another is measured), pinned to PROXY_CPU; the load
# generators and nginx on LOAD_CPU. After warm-up, REPS rounds; each round measures every mode on
# every proxy once, in an order that shifts by one each round. Ratios to HAProxy are taken within a
# round and the median is reported.
#
# Environment (defaults in brackets):
#   DURATION [10s]  CONNECTIONS [50]  REPS [5]
#   H2_CLIENTS [50]  H2_STREAMS [10]  (h2load -c, -m)
#   HS_CLIENTS [24]  (parallel openssl s_time clients)
#   CERT_KEY [rsa2048]   (rsa2048 or ec256: the key of the one certificate all proxies serve)
#   PROVIDERS [jdk conscrypt]   (the Affinity listeners to run, tls.provider of each)
#   WARMUP [10s] WARMUP_ROUNDS [6] WARMUP_TOLERANCE [5]   (per Java proxy, keep-alive rounds until two
#                   agree within WARMUP_TOLERANCE %, then one WARMUP of h2 and of handshakes)
#   PROXY_CPU [0]   LOAD_CPU [1]   PIN [1]
#   JAVA_OPTS [-Xms256m -Xmx256m -XX:+UseParallelGC]   JIT_PRIORITY [1]
#   BENCHMARKS_FILE [<repo>/BENCHMARKS.md]   NOTE []
#   MAX_SECONDS [2400]  BUILD_MAX_SECONDS [900]
#   AFFINITY_JAR [<repo>/balancer/target/affinity-balancer.jar]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIGINAL_ARGS=("$@")

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-50}"
REPS="${REPS:-5}"
H2_CLIENTS="${H2_CLIENTS:-50}"
H2_STREAMS="${H2_STREAMS:-10}"
HS_CLIENTS="${HS_CLIENTS:-24}"
CERT_KEY="${CERT_KEY:-rsa2048}"
PROVIDERS="${PROVIDERS:-jdk conscrypt}"
WARMUP="${WARMUP:-10s}"
WARMUP_ROUNDS="${WARMUP_ROUNDS:-6}"
WARMUP_TOLERANCE="${WARMUP_TOLERANCE:-5}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
PIN="${PIN:-1}"
JAVA_OPTS="${JAVA_OPTS:--Xms256m -Xmx256m -XX:+UseParallelGC}"
JIT_PRIORITY="${JIT_PRIORITY:-1}"
BENCHMARKS_FILE="${BENCHMARKS_FILE:-$REPO/BENCHMARKS.md}"
NOTE="${NOTE:-}"
MAX_SECONDS="${MAX_SECONDS:-2400}"
BUILD_MAX_SECONDS="${BUILD_MAX_SECONDS:-900}"
AFFINITY_JAR="${AFFINITY_JAR:-$REPO/balancer/target/affinity-balancer.jar}"

BUILD=1
WRITE=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --write) WRITE=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "compare-tls.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

BENCH_NAME=compare-tls.sh
# shellcheck source=compare-common.sh
source "$REPO/bench/compare-common.sh"

DURATION_S="$(seconds_of "$DURATION")"
WARMUP_S="$(seconds_of "$WARMUP")"
[[ "$DURATION_S" =~ ^[0-9]+$ && "$DURATION_S" -gt 0 ]] || die "DURATION must be like 10s, got $DURATION"
[[ "$WARMUP_S" =~ ^[0-9]+$ ]] || die "WARMUP must be like 10s, got $WARMUP"
for v in REPS CONNECTIONS H2_CLIENTS H2_STREAMS HS_CLIENTS WARMUP_ROUNDS; do
  [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -gt 0 ]] || die "$v must be a positive integer, got ${!v}"
done
for p in $PROVIDERS; do
  [[ "$p" == jdk || "$p" == conscrypt ]] || die "PROVIDERS lists jdk and/or conscrypt, got $p"
done
case "$CERT_KEY" in
  rsa2048) KEY_ARGS=(-newkey rsa:2048) ;;
  ec256) KEY_ARGS=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
  *) die "CERT_KEY must be rsa2048 or ec256, got $CERT_KEY" ;;
esac

# ---------------------------------------------------------------------------------------------
# 1. Tools.
install_missing wrk:wrk nginx:nginx haproxy:haproxy curl:curl taskset:util-linux h2load:nghttp2-client openssl:openssl

# ---------------------------------------------------------------------------------------------
# 2. Build (the launcher only).
if [[ "$BUILD" == 1 ]]; then
  log "building the launcher jar"
  (cd "$REPO" && timeout "$BUILD_MAX_SECONDS" mvn -B -ntp -q -pl balancer -am package -Dmaven.test.skip=true) \
    || die "the launcher build failed"
fi
START_SECONDS=$SECONDS
[[ -f "$AFFINITY_JAR" ]] || die "$AFFINITY_JAR is missing (run without --no-build)"

WORK="$(mktemp -d /tmp/affinity-compare-tls.XXXXXX)"
chmod 755 "$WORK"

# One certificate for every proxy (made up for the run, for 127.0.0.1; 30 days, so that Affinity does not
# warn that it expires soon).
openssl req -x509 "${KEY_ARGS[@]}" -nodes -days 30 -subj "/CN=bench.test" \
  -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" -keyout "$WORK/site.key" -out "$WORK/site.crt" 2>"$WORK/openssl-req.out" \
  || { cat "$WORK/openssl-req.out" >&2; die "openssl could not make the certificate"; }
cat "$WORK/site.crt" "$WORK/site.key" >"$WORK/haproxy.pem"

read -r B1 B2 B3 P_HAP P_JDK P_CONSCRYPT <<<"$(free_ports 6)"
BACKENDS=("$B1" "$B2" "$B3")
start_backends

# ---------------------------------------------------------------------------------------------
# 3. The proxies.
JIT_OPTS="$(jit_opts)"
JVM=(java $JAVA_OPTS $JIT_OPTS)
declare -A PORT PID_OF COOKIE
KEYS=()

for provider in $PROVIDERS; do
  key="affinity-$provider"
  if [[ "$provider" == jdk ]]; then port="$P_JDK"; else port="$P_CONSCRYPT"; fi
  cat >"$WORK/$key.yaml" <<YAML
listen:
  host: 127.0.0.1
  port: $port
  http2: true
  tls:
    certificates: [ { cert: $WORK/site.crt, key: $WORK/site.key } ]
    protocols: [ TLSv1.3 ]
    provider: $provider
YAML
  affinity_bench_yaml >>"$WORK/$key.yaml"
  spawn "$WORK/$key.out" "${ON_PROXY_CPU[@]}" "${JVM[@]}" -jar "$AFFINITY_JAR" "$WORK/$key.yaml"
  PID_OF[$key]=$LAST_PID
  PORT[$key]=$port
  KEYS+=("$key")
done

start_haproxy "$P_HAP" 4096 60 "ssl crt $WORK/haproxy.pem alpn h2,http/1.1 ssl-min-ver TLSv1.3" "stats socket $WORK/haproxy.sock mode 600 level admin"
PID_OF[haproxy]=$LAST_PID
PORT[haproxy]=$P_HAP
KEYS+=(haproxy)

for key in "${KEYS[@]}"; do
  wait_http "https://127.0.0.1:${PORT[$key]}/" 60 "${PID_OF[$key]}" || { tail -40 "$WORK/$key.out" >&2; die "$key did not start"; }
done

# HAProxy's own counters ("show info"): TLS connections so far and the share of resumed ones.
haproxy_info() { # field
  python3 - "$WORK/haproxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show info\n")
data = b""
while chunk := s.recv(65536): data += chunk
for line in data.decode().splitlines():
    if line.startswith(sys.argv[2] + ":"): print(line.split(":", 1)[1].strip())
PY
}

# Every proxy: the sticky cookie, that it sticks over HTTP/1.1 and over h2, and that the listener
# is TLS 1.3 (and h2 by ALPN) as configured.
for key in "${KEYS[@]}"; do
  url="https://127.0.0.1:${PORT[$key]}/"
  if [[ "$key" == haproxy ]]; then name=SRV; else name=AFFINITY; fi
  COOKIE[$key]="$(sticky_cookie "$url" "$name")"
  [[ -n "${COOKIE[$key]}" ]] || die "$key gave no $name cookie"
  a="$(curl -sk --http1.1 --max-time 5 -H "Cookie: ${COOKIE[$key]}" "$url")"
  version="$(curl -sk --http2 --max-time 5 -H "Cookie: ${COOKIE[$key]}" -o "$WORK/$key-h2-body.txt" -w '%{http_version}' "$url")"
  b="$(cat "$WORK/$key-h2-body.txt")"
  [[ -n "$a" && "$b" == "$a" && "$version" == 2 ]] || die "$key: the cookie did not stick over HTTP/1.1 and h2 ('$a' vs '$b' over HTTP/$version)"
  tls="$(openssl s_client -connect "127.0.0.1:${PORT[$key]}" -alpn h2 </dev/null 2>/dev/null | grep -E '^New, |^ALPN protocol' | tr '\n' ' ')"
  [[ "$tls" == *"New, TLSv1.3"* && "$tls" == *"ALPN protocol: h2"* ]] || die "$key: expected TLS 1.3 with h2 by ALPN, openssl saw: $tls"
  log "$key on ${PORT[$key]}: pinned to '$a' over HTTP/1.1 and h2; $tls"
done

# ---------------------------------------------------------------------------------------------
# 4. Measuring.
WRK_BIN="$(command -v wrk)"
H2LOAD_BIN="$(command -v h2load)"
OPENSSL_BIN="$(command -v openssl)"
declare -A RUN P99 ERRS STICKY FULL
STICKY_FAILS=0
MODES=(ka h2 hs)

# Runs one mode against one proxy for <seconds>; prints "<rate> <p99 ms or -> <count> <errors>".
# The output file keeps the tools' own reports.
run_mode() { # mode key seconds out
  local mode="$1" key="$2" secs="$3" out="$4" url="https://127.0.0.1:${PORT[$2]}/"
  check_deadline
  case "$mode" in
    ka)
      timeout $(( secs + 30 )) "${ON_LOAD_CPU[@]}" "$WRK_BIN" -t1 -c"$CONNECTIONS" -d"${secs}s" --latency \
        -H "Cookie: ${COOKIE[$key]}" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed against $key"; }
      parse_wrk <"$out"
      ;;
    h2)
      timeout $(( secs + 30 )) "${ON_LOAD_CPU[@]}" "$H2LOAD_BIN" -t1 -c"$H2_CLIENTS" -m"$H2_STREAMS" -D"$secs" \
        -H "cookie: ${COOKIE[$key]}" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "h2load failed against $key"; }
      grep -q '^Application protocol: h2$' "$out" || { cat "$out" >&2; die "h2load did not speak h2 to $key"; }
      awk '
        /^finished in/ { rps = $4 }
        /^requests:/ { ok = $8; failed = $10; errored = $12 }
        /^status codes:/ { gsub(/,/, ""); bad = $5 + $7 + $9 }
        END { printf "%s - %d %d\n", rps, ok, failed + errored + bad }' "$out"
      ;;
    hs)
      # HS_CLIENTS clients, each one full TLS 1.3 handshake per connection and one HTTP/1.0 GET / (no
      # cookie: a new client), read to the end, then close. Without a request s_time closes straight
      # after its Finished, and a server's session tickets then meet a closed socket.
      local i pids=() started ended
      started="$(date +%s.%N)"
      for i in $(seq 1 "$HS_CLIENTS"); do
        timeout $(( secs + 30 )) "${ON_LOAD_CPU[@]}" "$OPENSSL_BIN" s_time -connect "127.0.0.1:${PORT[$key]}" -new -tls1_3 \
          -www / -time "$secs" >"$out.$i" 2>&1 &
        pids+=("$!")
      done
      if [[ "$key" == haproxy ]]; then
        # Every second of the run, HAProxy's rates over the last second: TLS connections, and those
        # that needed a key exchange (a full handshake). Each sample is a rough estimate; their sums
        # agree when no client resumed a session.
        local t conns=0 keys=0
        for t in $(seq 1 $(( secs - 1 ))); do
          sleep 1
          conns=$(( conns + $(haproxy_info SslRate) ))
          keys=$(( keys + $(haproxy_info SslFrontendKeyRate) ))
        done
        echo "$conns $keys" >"$out.rates"
      fi
      local failed=0
      for i in "${pids[@]}"; do wait "$i" || failed=$(( failed + 1 )); done
      ended="$(date +%s.%N)"
      # "N connections in T real seconds" (whole seconds): the connections of all clients over the
      # wall-clock time of the batch.
      cat "$out".[0-9]* >"$out"; rm -f "$out".[0-9]*
      awk -v failed="$failed" -v clients="$HS_CLIENTS" -v secs="$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$started" "$ended")" '
        / connections in [0-9.]+ real seconds/ { total += $1; seen++ }
        END { printf "%.1f - %d %d\n", (secs > 0 ? total / secs : 0), total, failed + (clients - seen) }' "$out"
      ;;
  esac
}

measure() { # mode key round
  local mode="$1" key="$2" r="$3" before after rate p99 count e c k
  before="$(backend_counts)"
  read -r rate p99 count e <<<"$(run_mode "$mode" "$key" "$DURATION_S" "$WORK/$key-$mode-$r.txt")"
  [[ -n "$e" ]] || die "$key $mode round $r: no result (see $WORK/$key-$mode-$r.txt)"
  after="$(backend_counts)"
  if [[ "$mode" != hs ]]; then
    local verdict
    verdict="$(backend_verdict 1 "$count" "$before" "$after")"
    log "$key $mode: $verdict"
    if [[ "$verdict" == FAIL* ]]; then STICKY_FAILS=$(( STICKY_FAILS + 1 )); STICKY[$key]=FAIL; KEEP_WORK=1
    elif [[ -z "${STICKY[$key]:-}" ]]; then STICKY[$key]=OK; fi
  fi
  if [[ -f "$WORK/$key-$mode-$r.txt.rates" ]]; then
    # The handshake clients must not resume: HAProxy sends session tickets, so a client that could, would.
    read -r c k <"$WORK/$key-$mode-$r.txt.rates"
    FULL[$r]="$(python3 -c 'import sys; c, k = map(int, sys.argv[1:]); print(round(100 * k / c) if c else "?")' "$c" "$k")"
    log "haproxy hs: key exchanges / TLS connections, summed over the run's per-second rates: $k / $c (${FULL[$r]} %)"
  fi
  log "$key $mode round $r/$REPS: $rate/s$([[ "$p99" == - ]] || echo ", p99 $p99 ms"), $count done, $e errors"
  RUN[$key,$mode,$r]="$rate"
  [[ "$mode" == ka ]] && P99[$key,$r]="$p99"
  ERRS[$key,$mode]=$(( ${ERRS[$key,$mode]:-0} + e ))
  if [[ "$e" -gt 0 ]]; then log "WARN: $key $mode: $e errors (see $WORK/$key-$mode-$r.txt)"; KEEP_WORK=1; fi
}

warm_up() { # key
  local key="$1" w prev="" cur
  [[ "$WARMUP_S" -gt 0 ]] || return 0
  for w in $(seq 1 "$WARMUP_ROUNDS"); do
    cur="$(run_mode ka "$key" "$WARMUP_S" "$WORK/$key-warmup-$w.txt" | awk '{print $1}')"
    log "$key: keep-alive warm-up round $w ($WARMUP): $cur req/s"
    if [[ -n "$prev" ]] && python3 -c 'import sys; p, c, t = map(float, sys.argv[1:]); sys.exit(0 if p > 0 and abs(c - p) / p * 100 <= t else 1)' \
        "$prev" "$cur" "$WARMUP_TOLERANCE"; then
      break
    fi
    prev="$cur"
  done
  log "$key: h2 warm-up: $(run_mode h2 "$key" "$WARMUP_S" "$WORK/$key-warmup-h2.txt" | awk '{print $1}') req/s"
  log "$key: handshake warm-up: $(run_mode hs "$key" "$WARMUP_S" "$WORK/$key-warmup-hs.txt" | awk '{print $1}') handshakes/s"
}

log "pinning: proxies on CPU ${PROXY_CPU}, wrk, h2load, openssl and nginx on CPU ${LOAD_CPU} (PIN=$PIN); JIT priority: ${JIT_OPTS:-off}"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
for key in "${KEYS[@]}"; do [[ "$key" == haproxy ]] || warm_up "$key"; done
for r in $(seq 1 "$REPS"); do
  n=${#KEYS[@]}
  for mode in "${MODES[@]}"; do
    for i in $(seq 0 $(( n - 1 ))); do
      measure "$mode" "${KEYS[$(( (i + r - 1) % n ))]}" "$r"
    done
  done
done
for key in "${KEYS[@]}"; do
  kill -0 "${PID_OF[$key]}" 2>/dev/null || die "$key exited during the run (see $WORK/$key.out)"
done
AFF_ERROR_PATTERN='[] ](WARN|WARNING|ERROR|SEVERE)[ :]|^Exception in thread'
AFF_LOG_ERRORS=0
for key in "${KEYS[@]}"; do
  [[ "$key" == haproxy ]] && continue
  if grep -qE "$AFF_ERROR_PATTERN" "$WORK/$key.out"; then
    log "WARN: the $key log has warnings or errors (first lines below; whole log in $WORK/$key.out)"
    grep -m 10 -E "$AFF_ERROR_PATTERN" "$WORK/$key.out" >&2 || true
    AFF_LOG_ERRORS=1
    KEEP_WORK=1
  fi
done

# ---------------------------------------------------------------------------------------------
# 5. Report.
values() { # key mode -> one value per line (mode p99: the keep-alive p99)
  local r
  for r in $(seq 1 "$REPS"); do
    if [[ "$2" == p99 ]]; then echo "${P99[$1,$r]}"; else echo "${RUN[$1,$2,$r]}"; fi
  done
}
# Median (min max) of the per-round ratios a/b of one mode.
ratio_stats() { # a b mode
  local r list=() x y
  for r in $(seq 1 "$REPS"); do
    if [[ "$3" == p99 ]]; then x="${P99[$1,$r]}"; y="${P99[$2,$r]}"; else x="${RUN[$1,$3,$r]}"; y="${RUN[$2,$3,$r]}"; fi
    list+=("$x" "$y")
  done
  python3 - "${list[@]}" <<'PY'
import statistics, sys
v = [float(x) for x in sys.argv[1:]]
q = [a / b for a, b in zip(v[0::2], v[1::2]) if b > 0]
print(f"{statistics.median(q):.2f} {min(q):.2f} {max(q):.2f}" if q else "n/a n/a n/a")
PY
}
verdict() { # value op goal
  python3 -c "import sys; v, g = float(sys.argv[1]), float(sys.argv[3]); ok = v >= g if sys.argv[2] == '>=' else v <= g; print('met' if ok else 'NOT met')" "$1" "$2" "$3" 2>/dev/null || echo "n/a"
}
hs_check() { # the per-round shares of full handshakes, from HAProxy's rates
  local r out=()
  for r in $(seq 1 "$REPS"); do out+=("${FULL[$r]:-?} %"); done
  local IFS=,
  echo "${out[*]}"
}
conscrypt_version() { # from the launcher jar's copy of Conscrypt's Maven metadata
  python3 - "$AFFINITY_JAR" <<'PY' 2>/dev/null || true
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for line in z.read("META-INF/maven/org.conscrypt/conscrypt-openjdk-uber/pom.properties").decode().splitlines():
        if line.startswith("version="): print(line[8:])
PY
}
label() {
  case "$1" in
    affinity-jdk) echo "**Affinity**, TLS by the JDK (\`tls.provider: jdk\`, the default)" ;;
    affinity-conscrypt) echo "**Affinity**, TLS by Conscrypt $(conscrypt_version) (\`tls.provider: conscrypt\`)" ;;
    haproxy) echo "HAProxy $(haproxy -v 2>/dev/null | awk 'NR==1 {print $3}') ($(openssl version | awk '{print $1, $2}'), \`nbthread 1\`)" ;;
  esac
}

SHORT=""
if [[ "$DURATION_S" -lt 10 || "$REPS" -lt 3 ]]; then
  SHORT="**Short smoke run (DURATION=$DURATION, REPS=$REPS, WARMUP=$WARMUP): not a result, only proof that the script works.**"
fi
ENV_PREFIX="DURATION=$DURATION REPS=$REPS"
for v in CONNECTIONS:50 H2_CLIENTS:50 H2_STREAMS:10 HS_CLIENTS:24 CERT_KEY:rsa2048 WARMUP:10s WARMUP_ROUNDS:6 WARMUP_TOLERANCE:5 JIT_PRIORITY:1 PIN:1; do
  name="${v%%:*}"; [[ "${!name}" != "${v#*:}" ]] && ENV_PREFIX="$ENV_PREFIX $name=${!name}"
done
[[ "$PROVIDERS" != "jdk conscrypt" ]] && ENV_PREFIX="$ENV_PREFIX PROVIDERS='$PROVIDERS'"
[[ "$JAVA_OPTS" != "-Xms256m -Xmx256m -XX:+UseParallelGC" ]] && ENV_PREFIX="$ENV_PREFIX JAVA_OPTS='$JAVA_OPTS'"
[[ "$PIN" == 1 && ( "$PROXY_CPU" != 0 || "$LOAD_CPU" != 1 ) ]] && ENV_PREFIX="$ENV_PREFIX PROXY_CPU=$PROXY_CPU LOAD_CPU=$LOAD_CPU"
COMMAND="$ENV_PREFIX bench/compare-tls.sh${ORIGINAL_ARGS[*]:+ ${ORIGINAL_ARGS[*]}}"
CPU_MODEL="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)"
JAVA_VERSION="$(java -version 2>&1 | head -1)"

report() {
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Command: \`$COMMAND\`"
  echo
  echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr), $JAVA_VERSION; load average $LOAD_AT_START when the measuring started, $(cut -d' ' -f1-3 /proc/loadavg) at the end. Every proxy pinned to CPU $PROXY_CPU (HAProxy with \`nbthread 1\`), the load generators and the three nginx backends to CPU $LOAD_CPU (PIN=$PIN). One self-signed certificate ($CERT_KEY) served by all, TLS 1.3 only (\`protocols: [ TLSv1.3 ]\`, \`ssl-min-ver TLSv1.3\`), h2 and http/1.1 by ALPN; plain HTTP/1.1 to the backends. Java: \`$JAVA_OPTS${JIT_OPTS:+ $JIT_OPTS}\`. Modes: **keep-alive** \`wrk -t1 -c$CONNECTIONS -d$DURATION --latency\` over https with the sticky cookie (HTTP/1.1, no ALPN); **h2** \`h2load -t1 -c$H2_CLIENTS -m$H2_STREAMS -D$DURATION_S\` with the sticky cookie; **handshakes** $HS_CLIENTS parallel \`openssl s_time -new -tls1_3 -www / -time $DURATION_S\` clients: per connection a full TLS 1.3 handshake (no session offered for resumption) and one HTTP/1.0 \`GET /\` without cookie, then close (HAProxy's key exchanges per TLS connection, from its per-second rates sampled through each of its runs: $(hs_check)). Each Java proxy warmed up first; then $REPS rounds, each measuring every mode on every proxy once in a shifting order. Table: median of the $REPS runs (min–max); ratios: median of the per-round ratios (min–max)."
  if [[ -n "$SHORT" ]]; then echo; echo "$SHORT"; fi
  if [[ -n "$NOTE" ]]; then echo; echo "$NOTE"; fi
  echo
  echo "| proxy | keep-alive req/s | keep-alive p99 ms | h2 req/s | new handshakes/s | errors | stickiness held |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
  local k m cells e
  for k in "${KEYS[@]}"; do
    cells=""
    for m in ka p99 h2 hs; do
      if [[ "$m" == p99 ]]; then
        cells="$cells | $(printf '%.2f' "$(values "$k" p99 | median)")"
      else
        cells="$cells | $(printf '%.0f (%.0f–%.0f)' "$(values "$k" "$m" | median)" "$(values "$k" "$m" | sort -g | head -1)" "$(values "$k" "$m" | sort -g | tail -1)")"
      fi
    done
    e=$(( ${ERRS[$k,ka]:-0} + ${ERRS[$k,h2]:-0} + ${ERRS[$k,hs]:-0} ))
    echo "| $(label "$k")$cells | $e | ${STICKY[$k]:-?} |"
  done
  echo
  echo "| ratio to HAProxy (per round) | median | min–max | goal |"
  echo "| --- | ---: | ---: | --- |"
  local key what mode op goal a b c
  for key in "${KEYS[@]}"; do
    [[ "$key" == haproxy ]] && continue
    for what in "ka:keep-alive TLS req/s:>=:0.65" "h2:h2 req/s:>=:0.5" "hs:new TLS 1.3 handshakes/s:>=:0.3" "p99:keep-alive p99 latency:<=:2"; do
      IFS=: read -r mode m op goal <<<"$what"
      read -r a b c <<<"$(ratio_stats "$key" haproxy "$mode")"
      echo "| ${key#affinity-}: $m | **${a}×** | ${b}–${c} | $op ${goal}×: $(verdict "$a" "$op" "$goal") |"
    done
  done
  if [[ "$STICKY_FAILS" -gt 0 ]]; then
    echo
    echo "**FAIL: stickiness did not hold in $STICKY_FAILS run(s); these numbers measure a non-sticky path.**"
  fi
  if [[ "$AFF_LOG_ERRORS" == 1 ]]; then
    echo
    echo "Note: an Affinity balancer logged warnings or errors during this run."
  fi
}

REPORT="$(report)"
echo
echo "$REPORT"
echo

if [[ "$WRITE" == 1 ]]; then
  write_section "$BENCHMARKS_FILE" "<!-- tls:begin -->" "<!-- tls:end -->" "## TLS and HTTP/2 front door"
  log "wrote the TLS section of $BENCHMARKS_FILE"
fi

if [[ "$STICKY_FAILS" -gt 0 ]]; then
  die "stickiness did not hold in $STICKY_FAILS run(s) (see above)"
fi
