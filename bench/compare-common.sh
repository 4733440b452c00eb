# Helpers shared by bench/compare.sh and bench/compare-tls.sh (sourced, not run). The sourcing
# script sets BENCH_NAME (for messages), PIN, PROXY_CPU, LOAD_CPU, MAX_SECONDS and, before
# check_deadline is used, START_SECONDS.

# shellcheck source=cpu-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/cpu-common.sh"

log() { printf '[%s %s] %s\n' "${BENCH_NAME%.sh}" "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '%s: FAIL: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }

# Seconds in a wrk duration such as 10s, 2m, 1h or 10.
seconds_of() {
  local d="$1"
  case "$d" in
    *h) echo $(( ${d%h} * 3600 )) ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: everything started here is stopped on exit, by pid.
WORK=""
PIDS=()
KEEP_WORK=0

stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ $rc -ne 0 || "$KEEP_WORK" == 1 ]]; then
      # Keep the logs of a failed or suspicious run.
      log "logs kept in $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts "$@" (a program, never a shell function) in the background and remembers its pid.
# taskset execs the program, so the pid is the program's own.
spawn() {
  local logfile="$1"; shift
  "$@" >"$logfile" 2>&1 </dev/null &
  PIDS+=("$!")
  LAST_PID=$!
}

stop_last() {
  stop_pid "$1"
  local keep=() p
  for p in "${PIDS[@]}"; do [[ "$p" != "$1" ]] && keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

# CPU pinning: the proxies on PROXY_CPU; wrk and the nginx backends on LOAD_CPU. These are command
# prefixes (arrays, possibly empty), not functions, so that a spawned pid is the program's own pid.
ON_PROXY_CPU=()
ON_LOAD_CPU=()
set_pinning() {
  if [[ "$PIN" == 1 ]]; then
    ON_PROXY_CPU=(taskset -c "$PROXY_CPU")
    ON_LOAD_CPU=(taskset -c "$LOAD_CPU")
  else
    ON_PROXY_CPU=()
    ON_LOAD_CPU=()
  fi
}

# Installs the Debian packages whose commands are missing: "command:package" pairs.
install_missing() {
  local need=() pair cmd pkg
  for pair in "$@"; do
    cmd="${pair%%:*}"; pkg="${pair#*:}"
    command -v "$cmd" >/dev/null 2>&1 || [[ -x "/usr/sbin/$cmd" ]] || need+=("$pkg")
  done
  if [[ ${#need[@]} -gt 0 ]]; then
    log "installing ${need[*]} from Debian"
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  fi
  export PATH="$PATH:/usr/sbin:/sbin"
  command -v python3 >/dev/null 2>&1 || die "python3 is needed (ports, JSON, BENCHMARKS.md)"
  command -v java >/dev/null 2>&1 || die "java 17 is needed"
  if [[ "$PIN" == 1 && $(nproc) -lt 2 ]]; then
    log "only $(nproc) CPU: pinning disabled"
    PIN=0
  fi
  set_pinning
}

# The whole run is bounded: every step has its own time limit, and no new step starts after
# MAX_SECONDS (counted from START_SECONDS, the build excluded).
check_deadline() {
  if [[ $(( SECONDS - START_SECONDS )) -ge "$MAX_SECONDS" ]]; then
    die "time limit of ${MAX_SECONDS}s (MAX_SECONDS) reached, stopping"
  fi
}

# N free ports on 127.0.0.1 (bound together so they differ, then released).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
}

wait_http() { # url seconds [pid that must stay alive]
  local url="$1" limit="$2" pid="${3:-}" end=$(( SECONDS + $2 ))
  while [[ $SECONDS -lt $end ]]; do
    if curl -sk -o /dev/null --max-time 1 "$url"; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# Three nginx backends on the ports in BACKENDS, one process each (one worker), so that each
# counts its own requests; pinned to LOAD_CPU.
start_backends() {
  local i port prefix
  NGINX_BIN="$(command -v nginx)"
  for i in 1 2 3; do
    port="${BACKENDS[$((i-1))]}"
    prefix="$WORK/nginx-t$i"
    mkdir -p "$prefix/logs" "$prefix/tmp"
    cat >"$prefix/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server_tokens off;
  default_type text/plain;
  server {
    listen 127.0.0.1:$port;
    location = /nginx_status { stub_status; }
    location / { return 200 "t$i $port\n"; }
  }
}
EOF
    spawn "$WORK/nginx-t$i.out" "${ON_LOAD_CPU[@]}" "$NGINX_BIN" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log"
  done
  for port in "${BACKENDS[@]}"; do
    wait_http "http://127.0.0.1:$port/" 10 || die "nginx on port $port did not start (see $WORK/nginx-t*)"
  done
  log "nginx backends on ${BACKENDS[*]}"
}

# HAProxy as every comparison runs it: one thread, cookie insert (SRV) over the three backends ($B1..$B3)
# with health checks every 5 s, pinned to PROXY_CPU; config in $WORK/haproxy.cfg, pid in LAST_PID.
start_haproxy() { # port [maxconn (4096)] [idle seconds (60)] [bind options] [one more global line]
  local port="$1" maxconn="${2:-4096}" idle="${3:-60}" bind_options="${4:-}" global_line="${5:-}"
  HAPROXY_BIN="$(command -v haproxy)"
  cat >"$WORK/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn $maxconn
  $global_line
defaults
  mode http
  timeout connect 2s
  timeout client ${idle}s
  timeout http-keep-alive ${idle}s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$port $bind_options
  maxconn $maxconn
  default_backend be
backend be
  balance roundrobin
  cookie SRV insert indirect nocache
  option httpchk GET /
  server t1 127.0.0.1:$B1 cookie t1 check inter 5s
  server t2 127.0.0.1:$B2 cookie t2 check inter 5s
  server t3 127.0.0.1:$B3 cookie t3 check inter 5s
CFG
  "$HAPROXY_BIN" -c -q -f "$WORK/haproxy.cfg" || die "haproxy rejected its config"
  spawn "$WORK/haproxy.out" "${ON_PROXY_CPU[@]}" "$HAPROXY_BIN" -db -f "$WORK/haproxy.cfg"
}

# Requests each backend has served so far (nginx stub_status; the status request itself included).
# The balancer's YAML below its listener: one key, the three nginx backends ($B1..$B3) in one group
# with fixed-expiry duration stickiness. Fixed expiry: wrk and h2load replay one cookie and never take a
# refreshed one, so with sliding expiry every request after the refresh granularity (36 s for PT1H)
# is answered with a refreshed cookie (sealed once per target and granule with cookies.sealReuse, the
# default) instead of measuring the plain sticky hit. A browser takes the refresh: one per 36 s.
# compare.sh measures that case too, with "true" (sliding) as the argument.
affinity_bench_yaml() { # [sliding: false (default) or true]
  local sliding="${1:-false}"
  cat <<YAML
keys:
  - { id: bench1, secret: "YWZmaW5pdHktbG9hZC1iZW5jaC1maXhlZC1rZXktMDE=" }
targetGroups:
  - name: bench
    algorithm: round_robin
    stickiness: { type: duration, duration: PT1H, sliding: $sliding }
    healthCheck: { path: /, interval: PT5S, timeout: PT2S }
    targets:
      - { id: t1, uri: "http://127.0.0.1:$B1" }
      - { id: t2, uri: "http://127.0.0.1:$B2" }
      - { id: t3, uri: "http://127.0.0.1:$B3" }
admin: { path: /affinity }
YAML
}

backend_counts() {
  local port
  for port in "${BACKENDS[@]}"; do
    curl -s --max-time 2 "http://127.0.0.1:$port/nginx_status" | awk 'NR==3 {print $3}'
  done | tr '\n' ' '
}

# sticky=1: one backend took >= 99 % of the wrk requests and the others almost none (the idle
# proxies' health checks reach every backend, hence the allowance of 10). sticky=0: informational.
backend_verdict() { # sticky total before after
  python3 - "$1" "$2" "$3" "$4" <<'PY'
import sys
sticky, total = sys.argv[1] == "1", int(sys.argv[2])
before = [int(x) for x in sys.argv[3].split()]
after = [int(x) for x in sys.argv[4].split()]
d = [a - b for a, b in zip(after, before)]
shares = " ".join(f"t{i+1}={v}" for i, v in enumerate(d))
if sticky:
    top = max(d); rest = sum(d) - top
    ok = total > 0 and top >= 0.99 * total and rest <= max(10, 0.01 * total)
    print(("OK" if ok else "FAIL") + f" backends saw {shares} for {total} wrk requests")
else:
    print(f"INFO backends saw {shares} for {total} wrk requests")
PY
}


# ---------------------------------------------------------------------------------------------
# wrk output.
# Prints: "<req/s> <p99 ms> <total requests> <errors>" where errors = socket errors + non-2xx/3xx.
parse_wrk() {
  awk '
    /Requests\/sec:/ { rps = $2 }
    /^ +99%/ { v = $2; unit = v; sub(/^[0-9.]+/, "", unit); num = v; sub(/[a-z]+$/, "", num);
               if (unit == "us") p99 = num / 1000; else if (unit == "ms") p99 = num;
               else if (unit == "s") p99 = num * 1000; else if (unit == "m") p99 = num * 60000; else p99 = num }
    / requests in / { total = $1 }
    /Socket errors:/ { gsub(/,/, ""); errs += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errs += $5 }
    END { printf "%s %.3f %s %d\n", (rps == "" ? 0 : rps), p99, (total == "" ? 0 : total), errs }'
}


median() { # numbers on stdin -> median (mean of the two middle ones for an even count)
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# First response's cookies named like $2 (all shards), as "name=value; name2=value2". HTTPS
# certificates are not checked (the benchmarks' own, made up for the run).
sticky_cookie() { # url name-prefix
  curl -sk --max-time 5 -D - -o /dev/null "$1" \
    | tr -d '\r' | awk -v p="$2" 'tolower($1) == "set-cookie:" { split($2, kv, ";"); if (index(kv[1], p) == 1) print kv[1] }' \
    | paste -sd ';' | sed 's/;/; /g'
}

# As sticky_cookie, for a request that sends <cookie>: what the answer sets (empty when it sets nothing).
sticky_cookie_with() { # url name-prefix cookie
  curl -sk --max-time 5 -D - -o /dev/null -H "Cookie: $3" "$1" \
    | tr -d '\r' | awk -v p="$2" 'tolower($1) == "set-cookie:" { split($2, kv, ";"); if (index(kv[1], p) == 1) print kv[1] }' \
    | paste -sd ';' | sed 's/;/; /g'
}

# The JVM flags that put the JIT compiler threads at nice -10 (root only; see bench/README.md).
jit_opts() {
  if [[ "$JIT_PRIORITY" == 1 && "$(id -u)" == 0 ]]; then
    echo "-XX:ThreadPriorityPolicy=1 -XX:CompilerThreadPriority=-10"
  fi
}

# Replaces what is between the markers $2 and $3 in the Markdown file $1 with $REPORT (under the
# heading $4 when the markers are missing), re-reading the file just before writing.
write_section() { # file begin end heading
  REPORT="$REPORT" python3 - "$1" "$2" "$3" "$4" <<'PY'
import os, sys, tempfile
path = sys.argv[1]
begin, end, heading = sys.argv[2], sys.argv[3], sys.argv[4]
block = begin + "\n" + os.environ["REPORT"].strip() + "\n" + end
# Re-read right before writing: other sections of the file may have changed meanwhile.
text = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Benchmarks\n"
if begin in text and end in text and text.index(begin) < text.index(end):
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    if heading not in text:
        text = text.rstrip("\n") + "\n\n" + heading + "\n\n" + block + "\n"
    else:
        i = text.index(heading) + len(heading)
        text = text[:i] + "\n\n" + block + "\n\n" + text[i:].lstrip("\n")
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".bench-")
with os.fdopen(fd, "w", encoding="utf-8") as f:
    f.write(text)
os.chmod(tmp, 0o644)
os.replace(tmp, path)
PY

}
