#!/usr/bin/env bash
# Load test: Postfix's smtp-source against the maildir-server example (release build, every
# message fsynced and renamed into new/) and against Postfix's smtp-sink as the reference.
# Loopback only; bounded by message count; stops what it started.
#
# usage: smtp-tokio/scripts/load.sh [MESSAGES] [SESSIONS] [SIZE]   (defaults 5000 50 1000)
set -euo pipefail
cd "$(dirname "$0")/../.."
MESSAGES=${1:-5000}
SESSIONS=${2:-50}
SIZE=${3:-1000}
SERVER_PORT=2597
SINK_PORT=2596

cargo build -q --release -p smtp-tokio --example maildir-server
work=$(mktemp -d)
target/release/examples/maildir-server --listen "127.0.0.1:$SERVER_PORT" \
  --maildir "$work/maildir" --quiet &
server=$!
sink_user=()
if [ "$(id -u)" = 0 ]; then sink_user=(-u nobody); fi
smtp-sink "${sink_user[@]}" "127.0.0.1:$SINK_PORT" 1000 &
sink=$!
trap 'kill "$server" "$sink" 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1

run() { # name port
  local start end
  start=$(date +%s.%N)
  smtp-source -4 -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -M client.example \
    -f sender@client.example -t rcpt@test.example "127.0.0.1:$2"
  end=$(date +%s.%N)
  awk -v n="$MESSAGES" -v s="$start" -v e="$end" -v name="$1" \
    'BEGIN { printf "%-15s %6d messages in %6.2f s: %7.0f messages/s\n", name, n, e - s, n / (e - s) }'
}

echo "smtp-source: $MESSAGES messages of $SIZE octets, $SESSIONS sessions in parallel"
run maildir-server "$SERVER_PORT"
stored=$(ls "$work/maildir/new" | wc -l)
echo "maildir-server stored $stored messages"
[ "$stored" = "$MESSAGES" ]
run smtp-sink "$SINK_PORT"
