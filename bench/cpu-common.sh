# CPU time of a whole process, for CPU per request (sourced by compare-common.sh and ab-cpu.sh).
#
# utime + stime of /proc/PID/stat count every thread of the process, the JIT compiler and GC threads
# included, and the threads that have ended; read before and after a load run, their difference over
# the requests the load generator completed is the process's CPU time per request. The clock tick is
# 10 ms (CLK_TCK 100): over a 10 s run of 20 000 requests/s the resolution is 0.05 µs per request.

CPU_TICKS_PER_SECOND="$(getconf CLK_TCK)"

# CPU ticks the process PID has used so far, as "user system" (utime, stime: the kernel's share is
# system calls and, on loopback, the TCP work of the receiving side too). Field 2 (the command) may
# hold spaces: count the fields from after its closing parenthesis.
proc_ticks() { # pid
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo "0 0"; return 1; }
  stat="${stat##*) }"
  # After "pid (comm) ", utime and stime are the 12th and 13th fields.
  awk '{ print $12, $13 }' <<<"$stat"
}

# CPU ticks (user + system) the process PID has used so far.
proc_cpu_ticks() { # pid
  local ticks rc=0
  ticks="$(proc_ticks "$1")" || rc=1
  awk '{ print $1 + $2 }' <<<"$ticks"
  return $rc
}

# Microseconds of CPU per request: ticks used over requests completed (two decimals; n/a without requests).
cpu_us_per_request() { # ticks requests
  awk -v t="$1" -v n="$2" -v hz="$CPU_TICKS_PER_SECOND" 'BEGIN { if (n > 0) printf "%.2f\n", t / hz / n * 1e6; else print "n/a" }'
}
