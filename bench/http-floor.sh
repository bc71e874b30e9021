#!/usr/bin/env bash
# The floor under any HTTP front in Swift on this machine: `gatehouse-bench http-floor` answering every
# request with one fixed 300-byte JSON body on bare SwiftNIO (a ChannelHandler) and on Hummingbird (a
# Router), next to the nginx reference of bench/edge.sh serving the same body, all with the same wrk
# settings (2 threads, 32 connections), median of RUNS runs of SECONDS each. A third server is the bare
# SwiftNIO one making one loopback round trip per request to an echo server before it answers: the floor
# under a front that asks another process once per request, with nothing decided at either end. A fourth is
# the bare SwiftNIO one asking a real release `limiter` (on its own Redis) for one decision per request
# through the limiter client's batched acquire, for its cost alone (--limiter-port; until 2026-12-07 a
# `limiter.Check`/`CheckBatch` per tick): the floor under the edge's scenario (A) if every request asked,
# with no token, route, cache or header work at all.
# Usage: bench/http-floor.sh [seconds] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/http-reference.sh
seconds="${1:-10}"
runs="${2:-3}"
require_wrk_and_nginx

swift build -c release --product GatehouseBench >&2
swift build -c release --product limiter >&2
bin="$(swift build -c release --show-bin-path)"
bench="$bin/GatehouseBench"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
dir="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
nginx_port="$(free_port)"; upstream_port="$(free_port)"; nio_port="$(free_port)"; hummingbird_port="$(free_port)"
echo_port="$(free_port)"; hop_port="$(free_port)"
redis_port="$(free_port)"; limiter_port="$(free_port)"; limited_port="$(free_port)"

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize no > "$dir/redis.log" & pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo 'policies: [{name: bench, limit: 1000000000, period: 1h, key: [sub]}]' > "$dir/policies.yaml"
export GATEHOUSE_RPC_SECRET="bench-secret-$(date +%s%N)"
LIMITER_RPC_SECRET="$GATEHOUSE_RPC_SECRET" LIMITER_RPC_PORT="$limiter_port" LIMITER_ADMIN_PORT=0 \
    LIMITER_REDIS_PORT="$redis_port" LIMITER_POLICIES_FILE="$dir/policies.yaml" LIMITER_LOG_LEVEL=warning \
    "$bin/limiter" > "$dir/limiter.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$limiter_port") 2>/dev/null && break; sleep 0.1; done

"$bench" http-floor --server nio --port "$nio_port" > "$dir/nio.log" & pids+=($!)
"$bench" http-floor --server hummingbird --port "$hummingbird_port" > "$dir/hummingbird.log" 2>&1 & pids+=($!)
"$bench" http-floor --server echo --port "$echo_port" > "$dir/echo.log" & pids+=($!)
for _ in $(seq 100); do grep -q listening "$dir/echo.log" && break; sleep 0.1; done
"$bench" http-floor --server nio --port "$hop_port" --hop-port "$echo_port" > "$dir/hop.log" & pids+=($!)
"$bench" http-floor --server nio --port "$limited_port" --limiter-port "$limiter_port" > "$dir/limited.log" 2>&1 & pids+=($!)
for log in nio hummingbird hop limited; do
    for _ in $(seq 100); do grep -q listening "$dir/$log.log" && break; sleep 0.1; done
done
curl -sf -o "$dir/doc.json" "http://127.0.0.1:$nio_port/v1/articles/doc-000001"
start_reference_nginx "$dir" "$nginx_port" "$upstream_port"
for port in "$nginx_port" "$hummingbird_port" "$hop_port" "$limited_port"; do
    cmp -s "$dir/doc.json" <(curl -sf "http://127.0.0.1:$port/v1/articles/doc-000001") || { echo "port $port answers another body" >&2; exit 1; }
done

run "nginx, proxy_cache + limit_req" "http://127.0.0.1:$nginx_port/v1/articles/doc-000001"
run "bare SwiftNIO, fixed answer" "http://127.0.0.1:$nio_port/v1/articles/doc-000001"
run "Hummingbird, fixed answer" "http://127.0.0.1:$hummingbird_port/v1/articles/doc-000001"
run "bare SwiftNIO, one round trip to an echo server per request" "http://127.0.0.1:$hop_port/v1/articles/doc-000001"
run "bare SwiftNIO, one real limiter decision per request" "http://127.0.0.1:$limited_port/v1/articles/doc-000001"
if grep -q "check failed" "$dir/limited.log"; then echo "limiter checks failed:" >&2; grep -m3 "check failed" "$dir/limited.log" >&2; exit 1; fi
