#!/usr/bin/env bash
# Redis client throughput: gatehouse-bench redis-load next to redis-benchmark, same server, same run.
# Usage: bench/redis.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-5}"

swift build -c release --product GatehouseBench >&2
bench="$(swift build -c release --show-bin-path)/GatehouseBench"

dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize no > "$dir/log" &
redis=$!
trap 'kill $redis 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

script="return redis.call('INCR', KEYS[1])"
# redis-benchmark redraws a progress line with carriage returns; keep only its final figure.
rb() { redis-benchmark -p "$port" "$@" | tr '\r' '\n' | grep "requests per second" | tail -1; }
sha="$(redis-cli -p "$port" script load "$script")"
requests=$((seconds * 400000))

echo "== redis-benchmark, 1 connection, -P 16"
rb -c 1 -P 16 -n "$requests" -q -t ping_mbulk
rb -c 1 -P 16 -n "$requests" -q evalsha "$sha" 1 gatehouse-bench:counter
echo "== redis-benchmark, 50 connections, -P 16"
rb -c 50 -P 16 -n "$requests" -q -t ping_mbulk
rb -c 50 -P 16 -n "$requests" -q evalsha "$sha" 1 gatehouse-bench:counter
for connections in 1 2; do
    echo "== gatehouse RedisClient, $connections connection(s), 64 commands in flight"
    "$bench" redis-load --port "$port" --seconds "$seconds" --concurrency 64 --connections "$connections"
done
