#!/usr/bin/env bash
# Idle memory of one shoal node: start `shoal daemon` in a scratch directory, make it a
# single-node swarm (`shoal swarm init`), let it settle, and print the daemon's resident set
# (VmRSS from /proc/<pid>/status). Target: < 30 MB. A figure, never a test assertion.
#
# Usage: bench/idle-rss.sh            builds target/release/shoal first (slow on 2 cores)
#        SHOAL_BIN=path/to/shoal bench/idle-rss.sh   uses that binary as is
# Env:   SETTLE=5 (seconds between swarm init and the reading), TMPDIR (scratch parent).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${SHOAL_BIN:-}" ]; then
  bin=$SHOAL_BIN
else
  cargo build --release -j2 -p shoal
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/shoal
fi
[ -x "$bin" ] || { echo "idle-rss: no executable at $bin" >&2; exit 1; }
settle=${SETTLE:-5}

dir=$(mktemp -d "${TMPDIR:-/var/tmp}/shoal-rss-XXXXXX")
sock=unix://$dir/s.sock
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "idle-rss: $*" >&2
  echo "--- daemon log ($dir/daemon.log) ---" >&2
  tail -n 40 "$dir/daemon.log" >&2 || true
  exit 1
}

"$bin" daemon --data-dir "$dir/data" -H "$sock" --listen-addr 127.0.0.1:0 >"$dir/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ -S "$dir/s.sock" ] && break
  kill -0 "$pid" 2>/dev/null || fail "the daemon exited before opening its socket"
  sleep 0.1
done
[ -S "$dir/s.sock" ] || fail "no API socket after 10 s"

"$bin" -H "$sock" swarm init --listen-addr 127.0.0.1:0 >"$dir/init.log" 2>&1 \
  || { cat "$dir/init.log" >&2; fail "swarm init failed"; }
sleep "$settle"
kill -0 "$pid" 2>/dev/null || fail "the daemon exited after swarm init"

kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
rss=$(kb VmRSS)
hwm=$(kb VmHWM)
threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")
awk -v s="$settle" -v r="$rss" -v h="$hwm" -v t="$threads" 'BEGIN {
  printf "shoal idle RSS after swarm init + %s s: %d kB (%.1f MiB); peak VmHWM %d kB (%.1f MiB); %d threads; target < 30 MB\n", s, r, r / 1024, h, h / 1024, t
}'
