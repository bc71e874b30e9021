#!/usr/bin/env bash
# The floor under any HTTP front in Swift on this machine: `gatehouse-bench http-floor` answering every
# request with one fixed 300-byte JSON body on bare SwiftNIO (a ChannelHandler) and on Hummingbird (a
# Router), next to the nginx reference of bench/edge.sh serving the same body, all with the same wrk
# settings (2 threads, 32 connections), median of RUNS runs of SECONDS each. A third server is the bare
# SwiftNIO one making one loopback round trip per request to an echo server before it answers: the floor
# under a front that asks another process once per request, with nothing decided at either end.
# Usage: bench/http-floor.sh [seconds] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/http-reference.sh
seconds="${1:-10}"
runs="${2:-3}"
require_wrk_and_nginx

swift build -c release --product GatehouseBench >&2
bench="$(swift build -c release --show-bin-path)/GatehouseBench"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
dir="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
nginx_port="$(free_port)"; upstream_port="$(free_port)"; nio_port="$(free_port)"; hummingbird_port="$(free_port)"
echo_port="$(free_port)"; hop_port="$(free_port)"

"$bench" http-floor --server nio --port "$nio_port" > "$dir/nio.log" & pids+=($!)
"$bench" http-floor --server hummingbird --port "$hummingbird_port" > "$dir/hummingbird.log" 2>&1 & pids+=($!)
"$bench" http-floor --server echo --port "$echo_port" > "$dir/echo.log" & pids+=($!)
for _ in $(seq 100); do grep -q listening "$dir/echo.log" && break; sleep 0.1; done
"$bench" http-floor --server nio --port "$hop_port" --hop-port "$echo_port" > "$dir/hop.log" & pids+=($!)
for _ in $(seq 100); do grep -q listening "$dir/nio.log" && grep -q listening "$dir/hummingbird.log" && grep -q listening "$dir/hop.log" && break; sleep 0.1; done
curl -sf -o "$dir/doc.json" "http://127.0.0.1:$nio_port/v1/articles/doc-000001"
start_reference_nginx "$dir" "$nginx_port" "$upstream_port"
for port in "$nginx_port" "$hummingbird_port" "$hop_port"; do
    cmp -s "$dir/doc.json" <(curl -sf "http://127.0.0.1:$port/v1/articles/doc-000001") || { echo "port $port answers another body" >&2; exit 1; }
done

run "nginx, proxy_cache + limit_req" "http://127.0.0.1:$nginx_port/v1/articles/doc-000001"
run "bare SwiftNIO, fixed answer" "http://127.0.0.1:$nio_port/v1/articles/doc-000001"
run "Hummingbird, fixed answer" "http://127.0.0.1:$hummingbird_port/v1/articles/doc-000001"
run "bare SwiftNIO, one round trip to an echo server per request" "http://127.0.0.1:$hop_port/v1/articles/doc-000001"
