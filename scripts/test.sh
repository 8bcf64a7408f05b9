#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (the stock docker CLI,
# used as a conformance test client), then formatting, lints and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# The stock docker CLI is a conformance test client; busybox-static is what the docker
# driver's tests build their image from (no registry is reachable); the multi-node tests put
# each daemon in its own network namespace (ip, nsenter, iptables), and docker-driver ones give
# each node a Docker Engine of its own there (dockerd from docker.io, containerd).
missing=()
{ command -v docker && { [ -x /usr/sbin/dockerd ] || command -v dockerd; }; } >/dev/null 2>&1 ||
  missing+=(docker.io)
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]} (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy -j2 --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test -j2 --workspace
