#!/usr/bin/env bash
# Counts a running proxy's system calls per request while wrk drives it, with the kernel's syscall
# tracepoints (perf stat): where the CPU per request goes below the JVM.
#
#   bench/syscalls.sh PID URL [COOKIE]
#
# PID is the proxy's process (every thread is counted), URL what wrk asks for (through the proxy),
# COOKIE a Cookie header value for a sticky hit. wrk runs on CPU 1 (-t1 -c50) for DURATION (5s);
# the count runs exactly as long. Run a warm-up first (the JIT), and nothing else meanwhile.
# Needs perf (apt-get install linux-perf) and root or kernel.perf_event_paranoid <= 1.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
pid=$1 url=$2 cookie=${3:-}
events=""
# The calls a proxy makes per request, and the ones that would show a thread hand-off or a lock.
for call in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait epoll_ctl futex sched_yield poll; do
  events+="${events:+,}syscalls:sys_enter_$call"
done
out=$(mktemp) counts=$(mktemp)
trap 'rm -f "$out" "$counts"' EXIT
perf stat -x, -e "$events" -p "$pid" -o "$counts" -- \
  taskset -c 1 wrk -t1 -c50 -d"${DURATION:-5s}" ${cookie:+-H "Cookie: $cookie"} "$url" > "$out"
requests=$(awk '/requests in/ {print $1}' "$out")
echo "$(awk '/Requests\/sec/ {print $2}' "$out") req/s, $requests requests; system calls per request:"
awk -F, -v n="$requests" '$1 ~ /^[0-9]+$/ && $1 > 0 {sub(/.*sys_enter_/, "", $3); printf "  %-12s %5.2f\n", $3, $1 / n}' "$counts" \
  | sort -k2 -rn
