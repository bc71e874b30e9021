#!/usr/bin/env bash
# RPC round trips: gatehouse-bench rpc-server and rpc-load as two processes on loopback, release build.
# Usage: bench/rpc.sh [seconds] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
concurrency="${2:-64}"

swift build -c release --product GatehouseBench >&2
bench="$(swift build -c release --show-bin-path)/GatehouseBench"
export GATEHOUSE_RPC_SECRET="bench-secret-$(date +%s%N)"

"$bench" rpc-server --port 0 > /tmp/gatehouse-bench-rpc.$$ &
server=$!
trap 'kill $server 2>/dev/null; rm -f /tmp/gatehouse-bench-rpc.$$' EXIT
for _ in $(seq 50); do grep -q listening /tmp/gatehouse-bench-rpc.$$ && break; sleep 0.1; done
port="$(sed -n 's/.*:\([0-9]*\)$/\1/p' /tmp/gatehouse-bench-rpc.$$)"

for connections in 1 2; do
    "$bench" rpc-load --port "$port" --seconds "$seconds" --concurrency "$concurrency" --connections "$connections"
done
