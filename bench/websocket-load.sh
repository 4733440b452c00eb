#!/usr/bin/env bash
# WebSocket load: echo messages per second through the balancer's WebSocketProxy vs straight to the
# echo target, all on 127.0.0.1, in one JVM (dev.affinity.jetty.WebSocketLoad, in the jetty-handler
# test sources, so that it reuses the test echo backends). Separate from load.sh.
#
#   bench/websocket-load.sh [--no-build] [--help]
#
# Environment (defaults in brackets):
#   CONNECTIONS [16]  MESSAGE_BYTES [1024]  WINDOW [16] (messages in flight per connection)  RUN_SECONDS [10]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONNECTIONS="${CONNECTIONS:-16}"
MESSAGE_BYTES="${MESSAGE_BYTES:-1024}"
WINDOW="${WINDOW:-16}"
# Not SECONDS: bash keeps its own SECONDS (time since the shell started).
SECONDS_PER_RUN="${RUN_SECONDS:-10}"
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "websocket-load.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

cd "$REPO"
if [ "$BUILD" = 1 ]; then
  mvn -B -ntp -q -pl jetty-handler -am install -DskipTests
fi
mvn -B -ntp -q -pl jetty-handler org.codehaus.mojo:exec-maven-plugin:3.6.4:java \
  -Dexec.mainClass=dev.affinity.jetty.WebSocketLoad \
  -Dexec.classpathScope=test \
  -Dexec.args="$CONNECTIONS $MESSAGE_BYTES $WINDOW $SECONDS_PER_RUN"
