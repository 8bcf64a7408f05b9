#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (the stock docker CLI,
# used as a conformance test client), then formatting, lints and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker >/dev/null 2>&1; then
  echo "== installing the docker CLI (Debian docker.io) for the conformance tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy -j2 --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test -j2 --workspace
