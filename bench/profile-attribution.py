#!/usr/bin/env python3
"""Who the balancer's CPU samples belong to, from a profile.sh stack file (cpu-<mode>.collapsed.gz).

Kernel samples (a leaf frame ending in _[k]) are counted apart. Every other sample goes to the
nearest frame, from the leaf up, of the balancer's code or Jetty's, grouped below: so time in the
JDK (NIO, collections, strings, locks) counts for whoever called it. Prints each group's share of
all samples and of the user-space ones, with its three busiest frames.

    python3 bench/profile-attribution.py bench/results/profile-<date>/cpu-sticky.collapsed.gz
"""
import collections
import gzip
import re
import sys

GROUPS = [
    ("core policy (route, cookie, attempt)", r"^dev\.affinity\.(cookie|balancer|route|rules)\."),
    ("adapter: request head to the target", r"Upstream\.toTarget|RequestHead"),
    ("adapter: answer headers to the client", r"Upstream\.toClient|copyTargetResponse|JettyCookies|Upstream\.detached"),
    ("records, metrics, ids", r"ExchangeRecorder|Metrics|ExchangeNote|RequestTrace|AccessLog|dev\.affinity\.observe"),
    ("Jetty HttpGenerator (response head)", r"HttpGenerator"),
    ("Jetty HttpParser (both directions)", r"HttpParser"),
    ("target connections (ours)", r"TargetConnection"),
    ("client endpoint (ours)", r"ClientEndPoint|RequestHeadTimeout"),
    ("adapter, other", r"dev\.affinity"),
    ("Jetty server (HttpConnection, HttpChannelState, Request, Response)", r"org\.eclipse\.jetty\.server"),
    ("Jetty io (endpoint fill/flush incl. the JDK's NIO under them, selector)", r"org\.eclipse\.jetty\.io"),
    ("Jetty util/http (callbacks, locks, pools, fields, tries)", r"org\.eclipse\.jetty\.(util|http)"),
]
JVM = re.compile(r"GC|Compile|C2|C1|VMThread|Serial|thread_native_entry")


def main(path):
    total = user = 0
    shares = collections.Counter()
    frames_of = collections.defaultdict(collections.Counter)
    with gzip.open(path, "rt") as stacks:
        for line in stacks:
            stack, count = line.rstrip("\n").rsplit(" ", 1)
            n = int(count)
            total += n
            frames = stack.replace("/", ".").split(";")
            if frames[-1].endswith("_[k]"):
                continue
            user += n
            for frame in reversed(frames):
                group = next((name for name, rx in GROUPS if re.search(rx, frame)), None)
                if group:
                    shares[group] += n
                    frames_of[group][frame[:100]] += n
                    break
            else:
                shares["JVM (GC, JIT, VM threads)" if JVM.search(stack) else "other"] += n
    print(f"{total} samples; in the kernel {100 * (total - user) / total:.1f} %, user space {100 * user / total:.1f} %")
    for group, n in shares.most_common():
        print(f"{100 * n / total:5.1f} % of all, {100 * n / user:5.1f} % of user space: {group}")
        for frame, m in frames_of[group].most_common(3):
            print(f"        {100 * m / total:5.2f} %  {frame}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
