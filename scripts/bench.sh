#!/usr/bin/env bash
# Builds the release host and the crews, then runs the benchmarks and writes
# the results table into BENCHMARKS.md.
#
# Usage: scripts/bench.sh [--quick]
#   --quick  smaller counts for a quick look; BENCHMARKS.md is not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --target wasm32-wasip2 --target-dir target/crews -p crew-echo -p crew-testbed -p http-echo -p hostile-memory-bomb
cargo build --release -p crewhost --bins
target/release/crewhost-bench "$@"
