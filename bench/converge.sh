#!/usr/bin/env bash
# Converge benchmark (issue: services): how long until N replicas of a service run, side by side
# in one run on this machine, for
#   shoal  — `shoal daemon --driver docker`, a single-node swarm, driven by the stock docker CLI;
#   swarm  — Docker Swarm mode on the local engine (`docker swarm init --advertise-addr 127.0.0.1`);
#   floor  — N `docker run -d` in parallel (what ../shared/anchors/start-limit.sh measures).
# For shoal and swarm the clock starts before `docker service create --detach` and stops when
# `GET /tasks` (polled every POLL seconds on the system's own API socket) shows N tasks of the
# service in state running; the service is then removed and the time until its last container
# is gone is recorded too. For the floor the clock stops when every `docker run -d` has returned.
# The three are run REPS times interleaved (shoal, swarm, floor, shoal, …) for every N, and the
# summary gives min / median and the ratios against the targets (shoal ≤ 0.5× Swarm, ≤ 1.2× the
# floor). The shoal daemon's resident set (VmRSS; manager and agent are one process) is read with
# a 10-replica service running, once on the fresh daemon and once after all the runs. Figures,
# never test assertions.
#
# Usage: bench/converge.sh                    builds target/release/shoal first (≈ 6 min on 2 cores)
#        SHOAL_BIN=path/to/shoal bench/converge.sh   uses that binary as is
# Env:   NS="10 50" (replica counts), REPS=3, POLL=0.05, TIMEOUT=180 (s per converge or removal),
#        STOP_GRACE=1s (the services' --stop-grace-period: `busybox sleep` as PID 1 ignores
#        SIGTERM, so with Docker's default of 10 s every removal would wait 10 s),
#        IMG=shoal-bench-bb:1 (built FROM scratch + /bin/busybox if missing), SETTLE=5 (s before
#        the RSS reading), SHOAL_LOG (the daemon's log filter; its log is kept on failure),
#        KEEP=1 keeps the scratch directory (daemon log, raw results).
# Needs: root (or the docker group), a local Docker Engine NOT in swarm mode, curl, jq, awk.
# The script leaves the engine out of swarm mode and removes everything it created, on success,
# failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

NS=${NS:-"10 50"}
REPS=${REPS:-3}
POLL=${POLL:-0.05}
TIMEOUT=${TIMEOUT:-180}
STOP_GRACE=${STOP_GRACE:-1s}
IMG=${IMG:-shoal-bench-bb:1}
SETTLE=${SETTLE:-5}
SVC=web
CMD=(/bin/busybox sleep 3600)
FLOOR_LABEL=shoal.bench.converge=floor-$$

say() { printf '%s\n' "converge: $*" >&2; }
die() {
  say "FAILED: $*"
  if [ -n "${dir:-}" ] && [ -f "$dir/daemon.log" ]; then
    echo "--- last lines of the shoal daemon log ($dir/daemon.log) ---" >&2
    tail -n 30 "$dir/daemon.log" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
    KEEP=1
  fi
  exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- preconditions -----------------------------------------------------------------------------
for tool in docker curl jq awk; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done
docker info >/dev/null 2>&1 || die "no Docker Engine reachable (docker info failed; root or the docker group needed)"
engine_sock=/var/run/docker.sock
[ -S "$engine_sock" ] || die "no engine socket at $engine_sock"
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
[ "$state" = inactive ] || die "the local engine is already in swarm mode ($state); refusing to touch it (docker swarm leave --force first)"

if [ -n "${SHOAL_BIN:-}" ]; then
  bin=$SHOAL_BIN
else
  say "building the release binary (cargo build --release -j2 -p shoal)"
  cargo build --release -j2 -p shoal || die "cargo build failed"
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/shoal
fi
[ -x "$bin" ] || die "no executable at $bin"

# --- state and cleanup -------------------------------------------------------------------------
dir=$(mktemp -d "${TMPDIR:-/var/tmp}/shoal-converge-XXXXXX")
sock=$dir/s.sock
pid=
node_id=
swarm_on=
rss_out=$dir/rss.txt
results=$dir/results.tsv # system, N, rep, converge s, remove s, epoch start, epoch converged
: >"$results"
: >"$rss_out"

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  # shoal: remove the service through the daemon, stop it, then remove whatever containers of
  # this daemon's node are left (only ours: label com.shoal.node.id=<our node>).
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    DOCKER_HOST=unix://$sock docker service rm "$SVC" >/dev/null 2>&1
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  if [ -n "$node_id" ]; then
    docker ps -aq --filter "label=com.shoal.node.id=$node_id" | xargs -r docker rm -f >/dev/null 2>&1
  fi
  # swarm: always leave the engine out of swarm mode.
  if [ -n "$swarm_on" ]; then
    docker service rm "$SVC" >/dev/null 2>&1
    docker swarm leave --force >/dev/null 2>&1 || say "WARNING: 'docker swarm leave --force' failed; run it by hand"
    # Swarm mode made this bridge for its containers and leaves it behind.
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
  fi
  # floor containers of this run.
  docker ps -aq --filter "label=$FLOOR_LABEL" | xargs -r docker rm -f >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then say "scratch directory kept: $dir"; else rm -rf "$dir"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- image -------------------------------------------------------------------------------------
if ! docker image inspect "$IMG" >/dev/null 2>&1; then
  if [ ! -x /bin/busybox ] || ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
    say "installing busybox-static (apt-get)"
    apt-get install -y -qq busybox-static >/dev/null || die "apt-get install busybox-static failed"
  fi
  ctx=$dir/image
  mkdir -p "$ctx"
  cp /bin/busybox "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\n' >"$ctx/Dockerfile"
  say "building $IMG (FROM scratch + /bin/busybox)"
  DOCKER_BUILDKIT=0 docker build -q -t "$IMG" "$ctx" >/dev/null || die "docker build of $IMG failed"
fi

# --- helpers -----------------------------------------------------------------------------------
# running_tasks SOCKET SERVICE_ID: tasks of the service with desired and observed state running.
running_tasks() {
  curl -sf --unix-socket "$1" http://localhost/tasks 2>/dev/null |
    jq --arg s "$2" '[.[] | select(.ServiceID == $s and .DesiredState == "running" and .Status.State == "running")] | length' 2>/dev/null ||
    echo 0
}
containers_of() { docker ps -aq --filter "label=com.docker.swarm.service.id=$1" | wc -l; }

# CPU ticks (user + system) so far of the shoal daemon and of dockerd ("shoal dockerd"); Swarm's
# manager and agent live in dockerd, with the engine work both systems cause.
cpu_ticks() {
  local d s
  d=$(pgrep -o -x dockerd 2>/dev/null || true)
  s=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo NaN)
  # NaN when unknown (no pgrep, dockerd in another PID namespace): shown as "unknown", not 0.
  echo "$s $([ -n "$d" ] && awk '{ print $14 + $15 }' "/proc/$d/stat" 2>/dev/null || echo NaN)"
}

# converge SYSTEM N: one create → N running → remove → no containers cycle; appends a result row.
converge() {
  local system=$1 n=$2 api host id t0 t1 t2 t3 c
  if [ "$system" = shoal ]; then api=$sock host=unix://$sock; else api=$engine_sock host=unix://$engine_sock; fi
  local cpu0
  cpu0=$(cpu_ticks)
  t0=$(now)
  id=$(DOCKER_HOST=$host docker service create -q --detach --no-resolve-image --name "$SVC" \
    --replicas "$n" --stop-grace-period "$STOP_GRACE" "$IMG" "${CMD[@]}" 2>"$dir/create.err") ||
    die "$system: docker service create failed: $(cat "$dir/create.err")"
  [ -n "$id" ] || die "$system: docker service create printed no service id"
  while :; do
    c=$(running_tasks "$api" "$id")
    [ "$c" -ge "$n" ] && break
    awk -v a="$t0" -v b="$(now)" -v t="$TIMEOUT" 'BEGIN { exit !(b - a > t) }' &&
      die "$system: only $c of $n tasks running after ${TIMEOUT} s"
    sleep "$POLL"
  done
  t1=$(now)
  local cpu
  cpu=$(awk -v a="$cpu0" -v b="$(cpu_ticks)" -v hz="$(getconf CLK_TCK)" \
    'function d(i) { return (x[i] == "NaN" || y[i] == "NaN") ? "unknown" : sprintf("%.2f s", (y[i] - x[i]) / hz) }
     BEGIN { split(a, x, " "); split(b, y, " "); printf "shoal %s, dockerd %s", d(1), d(2) }')
  [ "$(containers_of "$id")" -ge "$n" ] || die "$system: $n tasks running but fewer containers on the engine"
  t2=$(now)
  DOCKER_HOST=$host docker service rm "$SVC" >/dev/null 2>"$dir/rm.err" ||
    die "$system: docker service rm failed: $(cat "$dir/rm.err")"
  while [ "$(containers_of "$id")" -gt 0 ]; do
    awk -v a="$t2" -v b="$(now)" -v t="$TIMEOUT" 'BEGIN { exit !(b - a > t) }' &&
      die "$system: containers of the removed service still there after ${TIMEOUT} s"
    sleep "$POLL"
  done
  t3=$(now)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$system" "$n" "$rep" "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")" "$t0" "$t1" >>"$results"
  say "$(printf '%-5s N=%-3s rep %s: converge %6.3f s, remove %6.3f s; CPU while converging: %s' "$system" "$n" "$rep" "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")" "$cpu")"
}

floor() {
  local n=$1 t0 t1 t2 t3 i c pids=()
  t0=$(now)
  for i in $(seq "$n"); do
    docker run -d --label "$FLOOR_LABEL" "$IMG" "${CMD[@]}" >/dev/null 2>>"$dir/floor.err" &
    pids+=($!)
  done
  wait "${pids[@]}" || true # not a bare `wait`: the shoal daemon is a child of this shell too
  t1=$(now)
  c=$(docker ps -q --filter "label=$FLOOR_LABEL" --filter status=running | wc -l)
  [ "$c" -eq "$n" ] || die "floor: $c of $n containers running: $(cat "$dir/floor.err")"
  t2=$(now)
  docker ps -aq --filter "label=$FLOOR_LABEL" | xargs -r docker rm -f >/dev/null
  t3=$(now)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' floor "$n" "$rep" "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")" "$t0" "$t1" >>"$results"
  say "$(printf '%-5s N=%-3s rep %s: converge %6.3f s, remove %6.3f s' floor "$n" "$rep" "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")")"
}

# rss_reading LABEL: with a 10-replica shoal service running and SETTLE s of quiet, the
# daemon's VmRSS / VmHWM / threads (manager and agent are one process); appends a line to $rss_out.
rss_reading() {
  local id rss hwm threads
  id=$(DOCKER_HOST=unix://$sock docker service create -q --detach --no-resolve-image --name "$SVC" \
    --replicas 10 --stop-grace-period "$STOP_GRACE" "$IMG" "${CMD[@]}") || die "shoal: service create for the RSS reading failed"
  for _ in $(seq 600); do [ "$(running_tasks "$sock" "$id")" -ge 10 ] && break; sleep 0.1; done
  [ "$(running_tasks "$sock" "$id")" -ge 10 ] || die "shoal: 10 replicas not running for the RSS reading"
  sleep "$SETTLE"
  rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
  hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
  threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")
  awk -v l="$1" -v r="$rss" -v h="$hwm" -v t="$threads" -v s="$SETTLE" 'BEGIN {
    printf "shoal daemon RSS, %s, 10 replicas running, %s s settled: VmRSS %d kB (%.1f MiB), VmHWM %d kB (%.1f MiB), %d threads\n", l, s, r, r / 1024, h, h / 1024, t
  }' >>"$rss_out"
  DOCKER_HOST=unix://$sock docker service rm "$SVC" >/dev/null || die "shoal: service rm after the RSS reading failed"
  while [ "$(containers_of "$id")" -gt 0 ]; do sleep "$POLL"; done
}

# --- start shoal -------------------------------------------------------------------------------
say "starting shoal ($bin) in $dir"
SHOAL_LOG=${SHOAL_LOG:-info,openraft=warn} "$bin" daemon --driver docker --engine-socket "$engine_sock" \
  --data-dir "$dir/data" -H "unix://$sock" --listen-addr 127.0.0.1:0 >"$dir/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  kill -0 "$pid" 2>/dev/null || die "the shoal daemon exited before opening its socket"
  sleep 0.1
done
[ -S "$sock" ] || die "shoal: no API socket after 10 s"
"$bin" -H "unix://$sock" swarm init --listen-addr 127.0.0.1:0 >"$dir/init.log" 2>&1 ||
  die "shoal swarm init failed: $(cat "$dir/init.log")"
for _ in $(seq 200); do
  node_id=$(curl -sf --unix-socket "$sock" http://localhost/nodes |
    jq -r '[.[] | select(.Status.State == "ready")][0].ID // empty' 2>/dev/null) || true
  [ -n "$node_id" ] && break
  sleep 0.1
done
[ -n "$node_id" ] || die "shoal: the node is not ready 20 s after swarm init"

# --- start swarm mode --------------------------------------------------------------------------
say "docker swarm init on the local engine"
swarm_on=1
docker swarm init --advertise-addr 127.0.0.1 >/dev/null 2>"$dir/swarm.err" ||
  die "docker swarm init failed: $(cat "$dir/swarm.err")"
for _ in $(seq 200); do
  [ "$(docker node ls --format '{{.Status}}' 2>/dev/null)" = Ready ] && break
  sleep 0.1
done
[ "$(docker node ls --format '{{.Status}}')" = Ready ] || die "swarm: the node is not Ready"
sleep 1

# --- measurements (RSS read before and after them) ------------------------------------------------------------------------------
rep=0
rss_reading "fresh daemon (before the runs)"
for n in $NS; do
  for rep in $(seq "$REPS"); do
    converge shoal "$n"
    converge swarm "$n"
    floor "$n"
  done
done
rss_reading "after all the runs"

# --- summary -----------------------------------------------------------------------------------
echo
echo "converge (s), $REPS runs interleaved; $(nproc) CPUs; dockerd $(docker version --format '{{.Server.Version}}'); image $IMG; stop grace $STOP_GRACE"
awk -F'\t' -v ns="$NS" '
  function sort(a, k,   i, j, t) { for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
  function med(a, k) { return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
  { c[$1, $2]++; v[$1, $2, c[$1, $2]] = $4; r[$1, $2, c[$1, $2]] = $5 }
  END {
    printf "%-6s %4s %28s %12s %12s %22s\n", "system", "N", "converge: runs", "min", "median", "remove: median"
    split(ns, N, " ")
    for (x = 1; x in N; x++) {
      n = N[x]
      for (s = 1; s <= 3; s++) {
        sys = s == 1 ? "shoal" : s == 2 ? "swarm" : "floor"
        k = c[sys, n]; runs = ""
        for (i = 1; i <= k; i++) { a[i] = v[sys, n, i]; b[i] = r[sys, n, i]; runs = runs sprintf("%s%.2f", i > 1 ? " " : "", a[i]) }
        sort(a, k); sort(b, k)
        mn[sys] = a[1]; md[sys] = med(a, k)
        printf "%-6s %4d %28s %12.3f %12.3f %22.3f\n", sys, n, runs, a[1], md[sys], med(b, k)
      }
      printf "  N=%d  shoal/swarm: median %.2fx, min %.2fx (target <= 0.5x)   shoal/floor: median %.2fx, min %.2fx (target <= 1.2x)\n",
        n, md["shoal"] / md["swarm"], mn["shoal"] / mn["swarm"], md["shoal"] / md["floor"], mn["shoal"] / mn["floor"]
    }
  }' "$results"
cat "$rss_out"
echo "(manager and agent run in one process, so this is the whole daemon; the agent target is < 15 MB)"
