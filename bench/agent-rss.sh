#!/usr/bin/env bash
# Memory of a worker-only node (the agent): `shoal lab up --managers 1 --workers 1` (each node
# its own daemon in its own network namespace), then 10 replicas of a sleeping process
# constrained to the worker; after SETTLE seconds prints the worker daemon's VmRSS, how much of
# it is file-backed (the binary's pages) and private, and its PSS, from /proc/<pid>/smaps_rollup.
# Target (issue: services): agent RSS < 15 MB. A figure, never a test assertion. Needs root.
#
# Usage: bench/agent-rss.sh            builds target/release/shoal first (slow on 2 cores)
#        SHOAL_BIN=path/to/shoal bench/agent-rss.sh
# Env:   SETTLE=5, REPLICAS=10, LAB_DIR=/var/tmp/shoal-agent-rss-lab
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${SHOAL_BIN:-}" ]; then
  bin=$SHOAL_BIN
else
  cargo build --release -j2 -p shoal
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/shoal
fi
[ -x "$bin" ] || { echo "agent-rss: no executable at $bin" >&2; exit 1; }
command -v python3 >/dev/null || { echo "agent-rss: needs python3 (to read the lab's lab.json)" >&2; exit 1; }
settle=${SETTLE:-5}
replicas=${REPLICAS:-10}
lab=${LAB_DIR:-/var/tmp/shoal-agent-rss-lab}

cleanup() { "$bin" lab down --dir "$lab" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
"$bin" lab up --managers 1 --workers 1 --dir "$lab" >/dev/null

sock=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"][0]["socket"])' "$lab/lab.json")
wpid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"][1]["pid"])' "$lab/lab.json")
shoal() { "$bin" -H "unix://$sock" "$@"; }

report() {
  local what=$1
  sleep "$settle"
  awk -v what="$what" -v bin_size="$(stat -c %s "$bin")" '
    /^Rss:/ {rss=$2} /^Pss:/ {pss=$2}
    /^Private_Clean:/ {pc=$2} /^Private_Dirty:/ {pd=$2}
    /^Shared_Clean:/ {sc=$2}
    END {printf "%-22s VmRSS %6d kB  file-backed shared %6d kB  private %6d kB (dirty %d)  PSS %6d kB  binary %.1f MB\n",
         what, rss, sc, pc+pd, pd, pss, bin_size/1e6}' "/proc/$wpid/smaps_rollup"
  grep -E '^Threads' "/proc/$wpid/status" | sed 's/^/    /'
}

report "worker, idle"
shoal service create -d --name rss --replicas "$replicas" --constraint node.role==worker \
  busybox sleep 3600 >/dev/null
running=0
for _ in $(seq 300); do
  running=$(shoal service ps rss --filter desired-state=running 2>/dev/null | grep -c ' Running ' || true)
  [ "$running" -ge "$replicas" ] && break
  sleep 0.2
done
[ "$running" -ge "$replicas" ] || { echo "agent-rss: only $running of $replicas tasks running after 60 s" >&2; exit 1; }
report "worker, $replicas tasks"
# The binary's own resident pages, from smaps (the rest of "file-backed" is libc and friends).
awk -v bin="$(readlink -f "$bin")" '
  /^[0-9a-f]+-[0-9a-f]+ / {cur = ($6 == bin)} cur && /^Rss:/ {s += $2}
  END {printf "    of which the shoal binary: %d kB\n", s}' "/proc/$wpid/smaps"
