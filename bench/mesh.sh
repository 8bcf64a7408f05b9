#!/usr/bin/env bash
# Routing mesh benchmark (issue: networking): HTTP requests per second and latency through
# shoal's userspace mesh, side by side in one run with
#   direct — wrk connecting to the task's own port (the floor: no proxy at all);
#   mesh   — wrk connecting to the service's published port on the node (shoal's mesh);
#   nginx  — wrk connecting to an nginx `stream` proxy in front of the same task (a reference
#            userspace L4 proxy).
# Docker Swarm's own mesh needs IPVS, which this kernel lacks, so it cannot be measured here.
# One replica of shoal's built-in `demo-app whoami` (process driver) serves all three. Each
# target is run REPS times interleaved (direct, mesh, nginx, direct, …) with wrk -t2 -cCONNS
# -dDURATION --latency; the summary gives the median requests/s and p99 latency of each, and
# mesh/direct as a ratio (target ≥ 0.80, p99 added ≤ 1 ms). Figures, never test assertions.
#
# Usage: bench/mesh.sh                        builds target/release/shoal first (≈ 6 min on 2 cores)
#        SHOAL_BIN=path/to/shoal bench/mesh.sh uses that binary as is
# Env:   REPS=3, CONNS=64, DURATION=10s, PORT=18080 (published), NGINX_PORT=18081, KEEP=1 keeps
#        the scratch directory.
# Needs: root; installs Debian's wrk, nginx-light and libnginx-mod-stream when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
PORT=${PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18081}

say() { printf '%s\n' "mesh: $*" >&2; }
die() {
  say "FAILED: $*"
  [ -n "${dir:-}" ] && [ -f "$dir/daemon.log" ] && tail -n 30 "$dir/daemon.log" >&2
  KEEP=1
  exit 1
}

need=()
command -v wrk >/dev/null || need+=(wrk)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(nginx-light libnginx-mod-stream)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The Debian package starts an nginx on port 80; this benchmark runs its own.
systemctl stop nginx >/dev/null 2>&1 || true

if [ -z "${SHOAL_BIN:-}" ]; then
  say "building target/release/shoal"
  cargo build -j2 --release -p shoal >&2
  SHOAL_BIN=target/release/shoal
fi
SHOAL_BIN=$(realpath "$SHOAL_BIN")

dir=$(mktemp -d /tmp/shoal-bench-mesh.XXXXXX)
daemon_pid=""
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  if [ -n "$daemon_pid" ]; then
    SHOAL_HOST="unix://$dir/shoal.sock" "$SHOAL_BIN" service rm web >/dev/null 2>&1 || true
    sleep 1
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  # Process tasks outlive their daemon by design: stop what this run started.
  pkill -f "$dir" 2>/dev/null || true
  [ "${KEEP:-}" = 1 ] && say "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

export SHOAL_HOST="unix://$dir/shoal.sock"
SHOAL_LOG=warn "$SHOAL_BIN" daemon --data-dir "$dir/data" -H "$SHOAL_HOST" --driver process \
  >"$dir/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$dir/shoal.sock" ] && break; sleep 0.1; done
"$SHOAL_BIN" swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:0 >/dev/null ||
  die "swarm init"
"$SHOAL_BIN" service create -d --name web -p "$PORT:80" shoal-demo:latest \
  "$SHOAL_BIN" demo-app whoami >/dev/null || die "service create"

task_port=""
for _ in $(seq 100); do
  task_port=$(curl -s --unix-socket "$dir/shoal.sock" http://x/tasks |
    jq -r '[.[] | select(.Status.State == "running") | .Status.PortStatus.Ports[0].PublishedPort][0] // empty')
  [ -n "$task_port" ] && curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break
  sleep 0.2
done
[ -n "$task_port" ] || die "the replica did not start"
say "task on port $task_port, mesh on $PORT"

cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
events { worker_connections 4096; }
stream { server { listen 127.0.0.1:$NGINX_PORT; proxy_pass 127.0.0.1:$task_port; } }
EOF
nginx -c "$dir/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NGINX_PORT/" >/dev/null && break; sleep 0.1; done

# wrk's "Requests/sec" and its 99% latency in ms.
run() {
  local out rps p99
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$1/")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' <<<"$out")
  echo "$rps $p99"
}

declare -A results
for rep in $(seq "$REPS"); do
  for target in direct mesh nginx; do
    case $target in direct) p=$task_port ;; mesh) p=$PORT ;; nginx) p=$NGINX_PORT ;; esac
    r=$(run "$p")
    say "rep $rep $target: $r"
    results[$target]+="$r"$'\n'
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-8s %12s %10s\n' target "req/s (med)" "p99 ms"
for target in direct mesh nginx; do
  rps=$(printf '%s' "${results[$target]}" | awk 'NF {print $1}' | median)
  p99=$(printf '%s' "${results[$target]}" | awk 'NF {print $2}' | median)
  printf '%-8s %12s %10s\n' "$target" "$rps" "$p99"
  eval "${target}_rps=$rps ${target}_p99=$p99"
done
awk -v m="$mesh_rps" -v d="$direct_rps" -v n="$nginx_rps" -v mp="$mesh_p99" -v dp="$direct_p99" \
  'BEGIN { printf "mesh/direct %.2f (target >= 0.80), nginx/direct %.2f, p99 added %.2f ms (target <= 1)\n", m/d, n/d, mp-dp }'
