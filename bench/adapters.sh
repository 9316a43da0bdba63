#!/usr/bin/env bash
# The adapters side by side: Postfix's smtp-source drives each adapter's `maildir-server`
# example (release build, same flags) in the same run, rounds interleaved, and the script
# prints one Markdown table row per adapter and message size (medians), then the CPU ratio
# of each adapter to smtp-tokio.
#
#   adapters  ADAPTERS (default: every crate with examples/maildir-server.rs among
#             smtp-tokio and smtp-async-std, plus smtp-async-std on smol when the crate has
#             a `smol` feature). An entry is CRATE or CRATE:FEATURE (built with
#             --no-default-features --features FEATURE).
#   store     the Maildir lives on /dev/shm (tmpfs) when it is writable, so fsync and the
#             disk stay out of the numbers; it is emptied after every run, after checking
#             that every message arrived (none lost, or the script fails)
#   sizes     SIZES (default "10240 1048576") octets per message
#   load      PROCS parallel smtp-source processes (default 4), SESSIONS sessions in all
#             (default 20), `-d` (do not disconnect: many messages per session; smtp-source
#             has no PIPELINING and one process tops out near 20,000 small messages/s on one
#             core, hence several processes)
#   count     MESSAGES per run for 10 KiB (default 10000), BIG_MESSAGES over 100 kB (default
#             1000); ROUNDS rounds (default 5), each running every adapter once
#
# Measured per run: wall time from the first smtp-source start to the last exit, and the
# server's CPU time (utime + stime of the process, all threads, /proc/PID/stat) over it.
# Printed: messages/s, MB/s (10^6 octets of message per second) and server CPU seconds per
# 1,000 messages, each the median of the rounds, then the per-run messages/s and CPU.
#
# usage: bench/adapters.sh        (from anywhere; needs cargo and smtp-source)
#        ADAPTERS=smtp-tokio SIZES=10240 ROUNDS=1 bench/adapters.sh
# Loopback only, bounded by message count; stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"10240 1048576"}
PROCS=${PROCS:-4}
SESSIONS=${SESSIONS:-20}
MESSAGES=${MESSAGES:-10000}
BIG_MESSAGES=${BIG_MESSAGES:-1000}
ROUNDS=${ROUNDS:-5}
tick=$(getconf CLK_TCK)

command -v smtp-source >/dev/null || { echo "adapters.sh: smtp-source not found (Debian: postfix)" >&2; exit 1; }

if [ -z "${ADAPTERS:-}" ]; then
  ADAPTERS=""
  for crate in smtp-tokio smtp-async-std; do
    if [ -f "$crate/examples/maildir-server.rs" ]; then ADAPTERS="$ADAPTERS $crate"; fi
  done
  if [ -f smtp-async-std/examples/maildir-server.rs ] \
    && grep -q '^smol *=' smtp-async-std/Cargo.toml; then
    ADAPTERS="$ADAPTERS smtp-async-std:smol"
  fi
fi

base=/dev/shm
if [ ! -w "$base" ]; then base=${TMPDIR:-/tmp}; echo "adapters.sh: /dev/shm not writable, Maildir on $base" >&2; fi
work=$(mktemp -d -p "$base" adapters-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Both crates name their example `maildir-server`, so each build is copied aside at once.
label() { case $1 in *:*) echo "${1%%:*} (${1#*:})" ;; *) echo "$1" ;; esac; }
slug() { echo "$1" | tr ':' '-'; }
for a in $ADAPTERS; do
  crate=${a%%:*}
  features=()
  if [ "$a" != "$crate" ]; then features=(--no-default-features --features "${a#*:}"); fi
  echo "building $a (release)..." >&2
  cargo build -q --release -p "$crate" "${features[@]}" --example maildir-server
  cp target/release/examples/maildir-server "$work/$(slug "$a")-maildir-server"
done

# A port nothing listens on, from a range away from the usual ones.
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
  echo "adapters.sh: nothing listens on port $1" >&2
  return 1
}

declare -A server port maildir
start() { # adapter
  local s p
  s=$(slug "$1")
  p=$(free_port)
  maildir[$1]="$work/$s-maildir"
  "$work/$s-maildir-server" --listen "127.0.0.1:$p" --maildir "${maildir[$1]}" \
    --hostname mx.bench.example --max-size 33554432 --quiet &
  server[$1]=$!
  port[$1]=$p
  pids+=("$!")
  wait_port "$p"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# One run against one adapter: prints "seconds cpu_seconds"; fails if a message is missing.
run() { # adapter size messages
  local per=$(($3 / PROCS)) sessions=$((SESSIONS / PROCS)) c0 c1 t0 t1 i stored clients=()
  c0=$(cpu_ticks "${server[$1]}")
  t0=$(date +%s.%N)
  for i in $(seq "$PROCS"); do
    smtp-source -4 -d -s "$sessions" -m "$per" -l "$2" -M client.example \
      -f sender@client.example -t rcpt@test.example "127.0.0.1:${port[$1]}" 2>>"$work/errors" &
    clients+=($!)
  done
  for i in "${clients[@]}"; do wait "$i"; done
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "${server[$1]}")
  if [ -s "$work/errors" ]; then
    echo "adapters.sh: smtp-source reported errors:" >&2
    sort "$work/errors" | uniq -c | head >&2
    : >"$work/errors"
  fi
  stored=$(find "${maildir[$1]}/new" -type f | wc -l)
  if [ "$stored" != "$3" ]; then
    echo "adapters.sh: $1 stored $stored of $3 messages" >&2
    exit 1
  fi
  find "${maildir[$1]}/new" -type f -delete
  awk -v a="$t0" -v b="$t1" -v c=$((c1 - c0)) -v t="$tick" 'BEGIN { printf "%.3f %.2f\n", b - a, c / t }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for a in $ADAPTERS; do start "$a"; done

declare -A rates mbs cpus cpu_median round_cpus
echo "| adapter | size | messages x rounds | messages/s | MB/s | server CPU s / 1,000 msgs | runs (messages/s) | runs (CPU s / 1,000 msgs) |"
echo "| --- | --- | --- | ---: | ---: | ---: | --- | --- |"
for size in $SIZES; do
  n=$MESSAGES
  if [ "$size" -gt 100000 ]; then n=$BIG_MESSAGES; fi
  n=$((n / PROCS * PROCS))
  for a in $ADAPTERS; do rates[$a]="" mbs[$a]="" cpus[$a]=""; done
  for _ in $(seq "$ROUNDS"); do
    for a in $ADAPTERS; do
      read -r secs cpu < <(run "$a" "$size" "$n")
      rates[$a]+="$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }') "
      mbs[$a]+="$(awk -v n="$n" -v s="$secs" -v l="$size" 'BEGIN { printf "%.1f", n * l / s / 1e6 }') "
      cpus[$a]+="$(awk -v n="$n" -v c="$cpu" 'BEGIN { printf "%.3f", c * 1000 / n }') "
    done
  done
  for a in $ADAPTERS; do
    cpu_median[$a,$size]=$(printf '%s\n' ${cpus[$a]} | median)
    round_cpus[$a,$size]=${cpus[$a]}
    printf '| %s | %s | %s x %s | %s | %s | %s | %s| %s|\n' "$(label "$a")" "$size" "$n" "$ROUNDS" \
      "$(printf '%s\n' ${rates[$a]} | median)" "$(printf '%s\n' ${mbs[$a]} | median)" \
      "${cpu_median[$a,$size]}" "${rates[$a]}" "${cpus[$a]}"
  done
done

# CPU per message of each adapter relative to smtp-tokio (the issue's target: within 15 %):
# the ratio of the medians, and the median of the per-round ratios (each round runs the
# adapters back to back, so a round's ratio is little affected by the machine's load drifting
# between rounds).
if [[ " $ADAPTERS " == *" smtp-tokio "* ]]; then
  echo
  for size in $SIZES; do
    for a in $ADAPTERS; do
      [ "$a" = smtp-tokio ] && continue
      awk -v a="${cpu_median[$a,$size]}" -v t="${cpu_median[smtp-tokio,$size]}" \
        -v runs_a="${round_cpus[$a,$size]}" -v runs_t="${round_cpus[smtp-tokio,$size]}" \
        -v name="$(label "$a")" -v size="$size" 'BEGIN {
          n = split(runs_a, x, " "); split(runs_t, y, " ")
          for (i = 1; i <= n; i++) r[i] = x[i] / y[i]
          for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { s = r[i]; r[i] = r[j]; r[j] = s }
          m = r[int((n + 1) / 2)]
          printf "- %s, %s octets: CPU per message %.2fx smtp-tokio (ratio of medians), %.2fx (median of %d per-round ratios, range %.2f-%.2f): %s\n",
            name, size, a / t, m, n, r[1], r[n], (m <= 1.15 ? "within 15 %" : "NOT within 15 %") }'
    done
  done
fi
