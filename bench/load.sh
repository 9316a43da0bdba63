#!/usr/bin/env bash
# Load test over 127.0.0.1: Postfix's smtp-source drives discard servers, each in turn, and
# the script prints one Markdown table row per server and message size (medians of REPS runs).
#
#   peers   sink-server      smtp-tokio/examples/sink-server.rs (our server, discards bodies)
#           smtp-sink        Postfix's test sink (the reference; run as `nobody` under root)
#           sink-server-threads  the same with SESSIONS tokio worker threads instead of one per
#                            core: on a machine shared with other jobs the kernel shares CPU
#                            per thread, so this shows how much of a wall-clock gap is CPU share
#           mailin-sink      mailin-embedded 0.8 (bench/peers/, built if cargo can fetch it;
#                            blocking I/O, one thread per session)
#           maildir-server   only with MAILDIR=1: our example storing every message with
#                            fsync, so its numbers measure the disk, not the protocol
#   sizes   SIZES (default "10240 1048576") octets per message
#   load    PROCS parallel smtp-source processes (default 4), each with SESSIONS/PROCS
#           sessions (default 20 in all) and `-d` (several messages per connection:
#           smtp-source has no PIPELINING and one process tops out near 20,000 small
#           messages/s on one core, hence several processes)
#   count   MESSAGES per run for 10 KiB (default 20000), BIG_MESSAGES for sizes over
#           100 kB (default 1000); REPS runs each (default 3)
#
# Measured per run: wall time from the first smtp-source start to the last exit, and the
# server's CPU time (utime + stime of all its threads, /proc/PID/stat) over that interval.
# Printed: messages/s, MB/s (10^6 octets of message per second) and server CPU seconds per
# 1,000 messages, each the median of the runs, then the per-run messages/s.
#
# usage: bench/load.sh            (from anywhere; needs cargo, smtp-source and smtp-sink)
#        PEERS="sink-server smtp-sink" SIZES=10240 REPS=1 bench/load.sh
# Loopback only, bounded by message count; stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

SIZES=${SIZES:-"10240 1048576"}
PROCS=${PROCS:-4}
SESSIONS=${SESSIONS:-20}
MESSAGES=${MESSAGES:-20000}
BIG_MESSAGES=${BIG_MESSAGES:-1000}
REPS=${REPS:-3}
PEERS=${PEERS:-"sink-server sink-server-threads smtp-sink mailin-sink"}
if [ "${MAILDIR:-0}" = 1 ]; then PEERS="$PEERS maildir-server"; fi
tick=$(getconf CLK_TCK)

for tool in smtp-source smtp-sink; do
  command -v "$tool" >/dev/null || { echo "load.sh: $tool not found (Debian: postfix)" >&2; exit 1; }
done

echo "building (release)..." >&2
cargo build -q --release -p smtp-tokio --example sink-server --example maildir-server
have_mailin=0
if cargo build -q --release --manifest-path bench/peers/Cargo.toml 2>/dev/null; then
  have_mailin=1
else
  echo "load.sh: mailin-embedded peer did not build; skipping it" >&2
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A port nothing listens on (connecting fails), from a range away from the usual ones.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

# Waits until something accepts on the port (at most 10 s).
wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "load.sh: nothing listens on port $1" >&2
  return 1
}

# Starts a peer on a free port; sets $server (pid) and $port.
start() {
  port=$(free_port)
  case $1 in
    sink-server) target/release/examples/sink-server "127.0.0.1:$port" & ;;
    sink-server-threads)
      TOKIO_WORKER_THREADS=$SESSIONS target/release/examples/sink-server "127.0.0.1:$port" & ;;
    smtp-sink)
      local user=()
      if [ "$(id -u)" = 0 ]; then user=(-u nobody); fi
      smtp-sink "${user[@]}" "127.0.0.1:$port" 1024 & ;;
    mailin-sink) bench/peers/target/release/mailin-sink "127.0.0.1:$port" 64 & ;;
    maildir-server)
      target/release/examples/maildir-server --listen "127.0.0.1:$port" \
        --maildir "$work/maildir" --quiet & ;;
  esac
  server=$!
  pids+=("$server")
  wait_port "$port"
}

# Sum of utime and stime over all threads of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# One run: prints "seconds cpu_seconds".
run() { # port size messages
  local per=$(($3 / PROCS)) sessions=$((SESSIONS / PROCS)) c0 c1 t0 t1 i clients=()
  c0=$(cpu_ticks "$server")
  t0=$(date +%s.%N)
  for i in $(seq "$PROCS"); do
    smtp-source -4 -d -s "$sessions" -m "$per" -l "$2" -M client.example \
      -f sender@client.example -t rcpt@test.example "127.0.0.1:$1" 2>>"$work/errors" &
    clients+=($!)
  done
  for i in "${clients[@]}"; do wait "$i"; done
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$server")
  if [ -s "$work/errors" ]; then
    echo "load.sh: smtp-source reported errors:" >&2
    sort "$work/errors" | uniq -c | head >&2
    : >"$work/errors"
  fi
  awk -v a="$t0" -v b="$t1" -v c=$((c1 - c0)) -v t="$tick" 'BEGIN { printf "%.3f %.2f\n", b - a, c / t }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "| server | size | messages x runs | messages/s | MB/s | server CPU s / 1,000 msgs | runs (messages/s) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for size in $SIZES; do
  n=$MESSAGES
  if [ "$size" -gt 100000 ]; then n=$BIG_MESSAGES; fi
  n=$((n / PROCS * PROCS))
  for peer in $PEERS; do
    if [ "$peer" = mailin-sink ] && [ "$have_mailin" = 0 ]; then continue; fi
    if [ "$peer" = maildir-server ] && [ "$size" -gt 100000 ]; then continue; fi
    start "$peer"
    rates=() mbs=() cpus=()
    for _ in $(seq "$REPS"); do
      read -r secs cpu < <(run "$port" "$size" "$n")
      rates+=("$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')")
      mbs+=("$(awk -v n="$n" -v s="$secs" -v l="$size" 'BEGIN { printf "%.1f", n * l / s / 1e6 }')")
      cpus+=("$(awk -v n="$n" -v c="$cpu" 'BEGIN { printf "%.3f", c * 1000 / n }')")
    done
    if [ "$peer" = maildir-server ]; then
      stored=$(find "$work/maildir/new" -type f | wc -l)
      echo "load.sh: maildir-server stored $stored messages" >&2
      rm -rf "$work/maildir"
    fi
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    printf '| %s | %s | %s x %s | %s | %s | %s | %s |\n' "$peer" "$size" "$n" "$REPS" \
      "$(printf '%s\n' "${rates[@]}" | median)" "$(printf '%s\n' "${mbs[@]}" | median)" \
      "$(printf '%s\n' "${cpus[@]}" | median)" "${rates[*]}"
  done
done
