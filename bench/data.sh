#!/usr/bin/env bash
# Data service: point reads and single-document writes over RPC, release build, with its own Redis
# (receiving the invalidation events) and a fresh SQLite file seeded with 10,000 documents.
# Usage: bench/data.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"

swift build -c release --product data-service >&2
swift build -c release --product GatehouseBench >&2
bin="$(swift build -c release --show-bin-path)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir="$(mktemp -d)"
redis_port="$(free_port)"
rpc_port="$(free_port)"
admin_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize no > "$dir/redis.log" &
redis=$!
service=""
trap 'kill $service $redis 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

export GATEHOUSE_RPC_SECRET="bench-secret-$(date +%s%N)"
export DATA_RPC_SECRET="$GATEHOUSE_RPC_SECRET" DATA_RPC_PORT="$rpc_port" DATA_ADMIN_PORT="$admin_port" DATA_REDIS_PORT="$redis_port" \
    DATA_STORAGE_PATH="$dir/documents.sqlite" DATA_LOG_LEVEL=warning
"$bin/data-service" seed --count 10000
"$bin/data-service" > "$dir/data-service.log" 2>&1 &
service=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$rpc_port") 2>/dev/null && break; sleep 0.1; done

echo "== point reads of 1,000 hot documents, 64 callers"
"$bin/GatehouseBench" data-load --port "$rpc_port" --mode get --documents 1000 --seconds "$seconds"
echo "== single-document writes (replace) over 10,000 documents, 64 callers, each acknowledged after its group commit"
"$bin/GatehouseBench" data-load --port "$rpc_port" --mode put --documents 10000 --seconds "$seconds"
sleep 1
echo "== events published, outbox left, group-commit batches (from /metrics)"
curl -s "http://127.0.0.1:$admin_port/metrics" \
    | grep -E '^gatehouse_data_(events_published_total|outbox_depth|commit_batch_writes_(sum|count)) '
