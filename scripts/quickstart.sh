#!/usr/bin/env bash
# Quickstart: build shoal, start a daemon with the embedded defaults in a scratch directory, make
# it a single-node swarm, deploy 3 replicas of the built-in whoami demo app, show them converge,
# ask them over HTTP through the routing mesh (port 8080 of the node), then remove the service
# and stop the daemon.
#
# With a Docker Engine at /var/run/docker.sock the daemon's default driver runs containers of a
# local image that `shoal image build` makes from this binary (no registry needed); without one,
# tasks run as host processes and each gets a node-local port in $PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -j2 -p shoal
bin=${CARGO_TARGET_DIR:-$PWD/target}/debug/shoal
dir=$(mktemp -d /tmp/shoal-quickstart-XXXX)
export SHOAL_HOST=unix://$dir/shoal.sock
engine=unix:///var/run/docker.sock

# SHOAL_QUICKSTART_DRIVER=process forces host processes even where an engine runs.
driver=${SHOAL_QUICKSTART_DRIVER:-auto}
daemon_args=()
if [ "$driver" != auto ]; then
    daemon_args=(--driver "$driver")
elif [ -S /var/run/docker.sock ] && DOCKER_HOST=$engine docker version >/dev/null 2>&1; then
    driver=docker
fi
if [ "$driver" = docker ]; then
    DOCKER_HOST=$engine "$bin" image build --tag shoal-demo:latest
else
    driver=process
fi
echo "driver: $driver"

"$bin" daemon --data-dir "$dir/data" "${daemon_args[@]}" >"$dir/daemon.log" 2>&1 &
pid=$!
cleanup() {
    { set +x; } 2>/dev/null
    "$bin" service rm whoami >/dev/null 2>&1 || true
    # Give the agent a moment to stop the tasks, then stop the daemon.
    for _ in $(seq 50); do
        [ "$("$bin" service ps whoami -q 2>/dev/null | wc -l)" = 0 ] && break
        sleep 0.2
    done
    sleep 1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "$driver" = docker ]; then
        ids=$(DOCKER_HOST=$engine docker ps -aq --filter label=com.docker.swarm.service.name=whoami)
        [ -z "$ids" ] || DOCKER_HOST=$engine docker rm -f $ids >/dev/null
    fi
    echo "service removed, daemon stopped; its files are in $dir"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$dir/shoal.sock" ] && break; sleep 0.1; done

# The cluster port: 2377 unless something already listens there.
cport=2377
while (exec 3<>"/dev/tcp/127.0.0.1/$cport") 2>/dev/null; do cport=$((RANDOM % 10000 + 40000)); done

set -x
"$bin" swarm init --listen-addr "127.0.0.1:$cport"
"$bin" node ls
if [ "$driver" = docker ]; then
    "$bin" service create --name whoami --replicas 3 -p 8080:80 \
        shoal-demo:latest demo-app whoami --text "whoami v1"
else
    # The process driver ignores the image and runs the command; as the service publishes a
    # port, each task gets a node-local one in $PORT.
    "$bin" service create --name whoami --replicas 3 -p 8080:80 \
        shoal-demo:latest "$bin" demo-app whoami --text "whoami v1"
fi
"$bin" service ls
"$bin" service ps whoami
{ set +x; } 2>/dev/null

# The routing mesh answers on the published port and spreads requests over the replicas.
echo "+ curl http://127.0.0.1:8080/   (three times, through the routing mesh)"
for _ in 1 2 3; do
    answered=0
    for _ in $(seq 100); do curl -sf http://127.0.0.1:8080/ && { answered=1; break; }; sleep 0.2; done
    [ "$answered" = 1 ] || { echo "quickstart: nothing answered on port 8080" >&2; exit 1; }
done
