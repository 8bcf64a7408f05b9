#!/usr/bin/env bash
# Quickstart: build shoal, start a daemon with the embedded defaults in a scratch directory,
# make it a single-node swarm and show it. Ctrl-C (or the end of the script) stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -j2 -p shoal
bin=$PWD/target/debug/shoal
dir=$(mktemp -d /tmp/shoal-quickstart-XXXX)
export SHOAL_HOST=unix://$dir/shoal.sock
"$bin" daemon --data-dir "$dir/data" >"$dir/daemon.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; echo "daemon stopped; its files are in $dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/shoal.sock" ] && break; sleep 0.1; done
set -x
"$bin" swarm init --listen-addr 127.0.0.1:2377
"$bin" node ls
"$bin" node update --label-add zone=a self
"$bin" node inspect --pretty self
"$bin" info
DOCKER_HOST=$SHOAL_HOST docker node ls 2>/dev/null || true
