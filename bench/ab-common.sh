# The set-up bench/ab-cpu.sh and bench/ab-cpu-tls.sh share (sourced, not run): a work directory and
# clean-up, three free ports (BACKEND, PORT_A, PORT_B), one nginx backend on LOAD_CPU, balancers A and B
# (JAR_A, JAR_B with JAVA_OPTS_A, JAVA_OPTS_B and EXTRA_A, EXTRA_B) on PROXY_CPU, and their cookies
# (COOKIE_A, COOKIE_B). The sourcing script sets AB_NAME (for messages), AB_SCHEME (http or https) and
# AB_LISTEN (the balancer's `listen:` YAML; @PORT@ and @WORK@ stand for its port and the work
# directory), and may set AB_BEFORE_START (a function run once WORK exists, e.g. to make a certificate).

# shellcheck source=cpu-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/cpu-common.sh"

JAVA_OPTS_A=${JAVA_OPTS_A:-$JAVA_OPTS} JAVA_OPTS_B=${JAVA_OPTS_B:-$JAVA_OPTS}
WORK=$(mktemp -d "/tmp/affinity-$AB_NAME.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$WORK/nginx/nginx.pid" ]] && kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

read -r BACKEND PORT_A PORT_B <<<"$(python3 -c '
import socket
s=[socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"

[[ -n "${AB_BEFORE_START:-}" ]] && "$AB_BEFORE_START"

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections ${AB_NGINX_CONNECTIONS:-1024}; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND${AB_NGINX_LISTEN_OPTIONS:+ $AB_NGINX_LISTEN_OPTIONS}; location / { return 200 "hello from nginx\n"; } }
}
NGINX
taskset -c "$LOAD_CPU" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"

ab_wait() { # url
  for _ in $(seq 1 150); do curl -sk -o /dev/null --max-time 1 "$1" && return 0; sleep 0.2; done
  echo "$AB_NAME: $1 did not answer" >&2; exit 1
}

start_balancer() { # name jar port
  local listen="${AB_LISTEN//@PORT@/$3}"
  cat >"$WORK/$1.yaml" <<YAML
${listen//@WORK@/$WORK}
keys:
  - { id: bench1, secret: "YWZmaW5pdHktbG9hZC1iZW5jaC1maXhlZC1rZXktMDE=" }
targetGroups:
  - name: bench
    # Fixed expiry: the load tools replay one cookie, so every request is the same sticky hit (see compare.sh).
    stickiness: { type: duration, duration: PT1H, sliding: false }
    healthCheck: { path: /, interval: PT5S, timeout: PT2S }
    targets:
      - { id: t1, uri: "http://127.0.0.1:$BACKEND" }
admin: { path: /affinity }
YAML
  local extra="EXTRA_$1" opts="JAVA_OPTS_$1"
  printf '%s\n' "${!extra//@WORK@/$WORK}" >>"$WORK/$1.yaml"
  # shellcheck disable=SC2086
  taskset -c "$PROXY_CPU" java ${!opts} -jar "$2" "$WORK/$1.yaml" >"$WORK/$1.out" 2>&1 </dev/null &
  PIDS+=("$!")
  eval "PID_$1=$!"
  ab_wait "$AB_SCHEME://127.0.0.1:$3/"
}
start_balancer A "$JAR_A" "$PORT_A"
start_balancer B "$JAR_B" "$PORT_B"

cookie_of() { # port
  curl -sk -D - -o /dev/null "$AB_SCHEME://127.0.0.1:$1/" | awk -F'[ ;]' 'tolower($1) == "set-cookie:" && $2 ~ /^AFFINITY=/ {print $2; exit}'
}
COOKIE_A=$(cookie_of "$PORT_A") COOKIE_B=$(cookie_of "$PORT_B")
[[ -n "$COOKIE_A" && -n "$COOKIE_B" ]] || { echo "$AB_NAME: no AFFINITY cookie" >&2; exit 1; }
