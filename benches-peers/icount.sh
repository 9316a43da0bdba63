#!/bin/sh
# Instructions per parse (callgrind), for each parser and each command of the mix.
# Usage: benches-peers/icount.sh [parsers...]   (after building the icount example in release)
set -e
cd "$(dirname "$0")"
bin=target/release/examples/icount
N=20000
parsers=${*:-ours stalwart mailrs}
ir() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for cmd in ehlo mail_size_body rcpt_notify_orcpt rcpt_plain mail_lowercase data rset quit; do
  printf '%-20s' "$cmd"
  for p in $parsers; do
    a=$(ir "$p" "$cmd" 0); b=$(ir "$p" "$cmd" $N)
    printf ' %s %6.1f' "$p" "$(echo "($b - $a) / $N" | bc -l)"
  done
  echo
done
