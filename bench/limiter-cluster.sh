#!/usr/bin/env bash
# Limiter decisions on one Redis server and on a Redis Cluster (3 primaries, 3 replicas), all on this
# machine, side by side: the release `limiter` loaded over RPC by gatehouse-bench limiter-load (64 callers,
# 10,000 keys, so the cluster's counters are on every primary), at its maximum, then open loop at one fixed
# rate (half the single server's maximum) for the p99 of both at the same load.
# Usage: bench/limiter-cluster.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-5}"

swift build -c release --product limiter >&2
swift build -c release --product GatehouseBench >&2
bin="$(swift build -c release --show-bin-path)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT

# Starts redis-server on PORT with further options and waits until it answers.
# Usage: start_redis PORT [OPTION…]
start_redis() {
    local port="$1"; shift
    mkdir -p "$dir/redis-$port"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/redis-$port" --save "" --appendonly no "$@" > "$dir/redis-$port/log" &
    pids+=($!)
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}

cat > "$dir/policies.yaml" <<POLICIES
policies:
  - {name: bench, limit: 1000000000, period: 1h, key: [ip]}
  - {name: tiny, limit: 1, period: 1h, key: [ip]}
POLICIES
secret="bench-secret-$(date +%s%N)"
# Starts the limiter with further LIMITER_* variables and waits until it listens; sets rpc_port and limiter.
# Usage: start_limiter VARIABLE=VALUE…
start_limiter() {
    rpc_port="$(free_port)"
    env LIMITER_RPC_SECRET="$secret" LIMITER_RPC_PORT="$rpc_port" LIMITER_ADMIN_PORT="$(free_port)" \
        LIMITER_POLICIES_FILE="$dir/policies.yaml" LIMITER_LOG_LEVEL=warning "$@" \
        "$bin/limiter" > "$dir/limiter-$rpc_port.log" 2>&1 &
    limiter=$!
    pids+=("$limiter")
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$rpc_port") 2>/dev/null && break; sleep 0.1; done
}
export GATEHOUSE_RPC_SECRET="$secret"
load() { "$bin/GatehouseBench" limiter-load --port "$rpc_port" --mode allowed --seconds "$seconds" "$@"; }

redis_port="$(free_port)"
start_redis "$redis_port"
start_limiter LIMITER_REDIS_PORT="$redis_port"
echo "== one Redis server: maximum, 64 callers"
out="$(load)"
echo "$out"
rate=$(( $(echo "$out" | sed -n 's/.*: \([0-9]*\) checks\/s.*/\1/p') / 2 ))
echo "== one Redis server: open loop at $rate checks/s"
load --rate "$rate"
kill "$limiter"

seeds=()
for _ in 1 2 3 4 5 6; do
    port="$(free_port)"
    # The bus port is chosen too: the default, port + 10000, may be past 65535.
    start_redis "$port" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000 --cluster-require-full-coverage no --cluster-port "$(free_port)"
    seeds+=("127.0.0.1:$port")
done
redis-cli --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes > "$dir/cluster-create.log"
for seed in "${seeds[@]}"; do
    for _ in $(seq 100); do redis-cli -p "${seed#*:}" cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
done
start_limiter LIMITER_REDIS_MODE=cluster LIMITER_REDIS_CLUSTER_SEEDS="$(IFS=,; echo "${seeds[*]}")"
echo "== Redis Cluster, 3 primaries and 3 replicas: maximum, 64 callers"
load
echo "== Redis Cluster: open loop at $rate checks/s"
load --rate "$rate"
