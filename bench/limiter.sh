#!/usr/bin/env bash
# Limiter decisions: the release `limiter` on its own Redis, loaded over RPC by gatehouse-bench limiter-load,
# next to redis-benchmark running the limiter's own script with EVALSHA in the same run.
# Usage: bench/limiter.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
. bench/steal.sh
steal_start="$(steal_ticks)"
# Each section below ends with the CPU time stolen during it, so a slowed section shows as one.
section_start="$steal_start"
stolen() { echo "   (stolen from the cores during this section: $(steal_ms_since "$section_start") ms)"; section_start="$(steal_ticks)"; }

swift build -c release --product limiter >&2
swift build -c release --product GatehouseBench >&2
bin="$(swift build -c release --show-bin-path)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir="$(mktemp -d)"
redis_port="$(free_port)"
rpc_port="$(free_port)"
admin_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize no > "$dir/redis.log" &
redis=$!
limiter=""
echo_server=""
redis_echo_server=""
trap 'kill $limiter $redis $echo_server $redis_echo_server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

cat > "$dir/policies.yaml" <<POLICIES
policies:
  - {name: bench, limit: 1000000000, period: 1h, key: [ip]}
  - {name: tiny, limit: 1, period: 1h, key: [ip]}
POLICIES
export GATEHOUSE_RPC_SECRET="bench-secret-$(date +%s%N)"
LIMITER_RPC_SECRET="$GATEHOUSE_RPC_SECRET" LIMITER_RPC_PORT="$rpc_port" LIMITER_ADMIN_PORT="$admin_port" \
    LIMITER_REDIS_PORT="$redis_port" LIMITER_POLICIES_FILE="$dir/policies.yaml" LIMITER_LOG_LEVEL=warning \
    "$bin/limiter" > "$dir/limiter.log" 2>&1 &
limiter=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$rpc_port") 2>/dev/null && break; sleep 0.1; done

echo "== redis-benchmark: the limiter's script (one gcra item, 10,000 keys) with EVALSHA"
args="$("$bin/GatehouseBench" limiter-decide --print-command "$dir/script.lua")"
redis-cli -p "$redis_port" script load "$(cat "$dir/script.lua")" > /dev/null
requests=$((seconds * 100000))
rb() { redis-benchmark -p "$redis_port" -r 10000 "$@" | tr '\r' '\n' | grep "requests per second" | tail -1; }
echo -n "-c 1 -P 16:  "; rb -c 1 -P 16 -n "$requests" -q evalsha $args
echo -n "-c 64 -P 1:  "; rb -c 64 -P 1 -n "$requests" -q evalsha $args

stolen
echo "== limiter over RPC, 64 callers, decided in Redis"
out="$("$bin/GatehouseBench" limiter-load --port "$rpc_port" --mode allowed --seconds "$seconds")"
echo "$out"
max="$(echo "$out" | sed -n 's/.*: \([0-9]*\) checks\/s.*/\1/p')"
stolen
echo "== limiter over RPC, open loop at half of that maximum, 3 runs, each next to an RPC echo and an echo through Redis at that rate"
# One run's p99 moves by 2x and more within minutes on this machine (the host takes and slows the cores in
# waves, not all of it shown as steal), so the verdict is the median of three runs, each printed with the
# time stolen during it. After each, an RPC echo with nothing behind it (rpc-server) at the same rate shows
# the machine's own tail in the same minutes.
"$bin/GatehouseBench" rpc-server --port 0 > "$dir/echo.log" &
echo_server=$!
# The control: an echo that first waits for a batched script call deciding nothing in the same Redis (the
# limiter idles meanwhile), the floor of any design that decides each check in Redis on these cores.
"$bin/GatehouseBench" rpc-server --port 0 --redis-port "$redis_port" > "$dir/redis-echo.log" &
redis_echo_server=$!
for _ in $(seq 50); do grep -q listening "$dir/echo.log" && grep -q listening "$dir/redis-echo.log" && break; sleep 0.1; done
echo_port="$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$dir/echo.log")"
redis_echo_port="$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$dir/redis-echo.log")"
p99_of() { sed -n 's/.*p99 \([0-9]*\) us.*/\1/p'; }
median_of_3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
p99s=()
echo_p99s=()
redis_echo_p99s=()
# Where a check's time goes, from the limiter's own histograms over each run: its wait in the batcher's
# queue, the script call (Redis round trip), and the whole RPC handler (from the frame read to the answer);
# then Redis' own time running the script (its commandstats, reset before the run), and the CPU time per
# check of the limiter and of Redis, next to the echo server's per call: at "half" the limiter's maximum
# the machine is far busier than at the same rate of echoes.
stages() {
    local name metric labels
    while IFS='|' read -r name metric labels; do
        # shellcheck disable=SC2086
        echo "    $(python3 bench/histogram-quantiles.py "$name" "$metric" "$dir/before.metrics" "$dir/after.metrics" $labels)"
    done <<STAGES
queue wait|gatehouse_limiter_queue_wait_seconds|
script call|gatehouse_limiter_redis_duration_seconds|
RPC handler|gatehouse_rpc_server_duration_seconds|method=limiter.Check
STAGES
    local checks script
    checks="$(check_count "$dir/after.metrics")"
    checks=$((checks - $(check_count "$dir/before.metrics")))
    script="$(redis-cli -p "$redis_port" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2/p')"
    read -r calls usec <<<"${script:-0 0}"
    echo "    Redis running the script: $calls calls, $((usec / (calls > 0 ? calls : 1))) us each, $((checks / (calls > 0 ? calls : 1))) checks per call"
    echo "    CPU per check: limiter $(cpu_us_per "$server_ticks" "$checks") us, Redis $(cpu_us_per "$redis_ticks" "$checks") us; cores busy: $busy"
}
# Checks the limiter's RPC server answered, from a /metrics snapshot.
check_count() { sed -n 's/^gatehouse_rpc_server_duration_seconds_count{.*method="limiter.Check".*} \([0-9.e+]*\)$/\1/p' "$1" | awk '{s += $1} END {printf "%d", s}'; }
# Microseconds of CPU per unit from clock ticks and a count.
# Usage: cpu_us_per TICKS COUNT
cpu_us_per() { echo $(( $1 * 1000000 / $(getconf CLK_TCK) / ($2 > 0 ? $2 : 1) )); }
# The share of both cores' time that was busy (everything on the machine, the load generator included) since
# the `cpu_line` BEFORE.
cpu_line() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
busy_since() { echo "$(cpu_line) $1" | awk '{printf "%d%%", 100 * ($1 - $3) / (($2 - $4) > 0 ? $2 - $4 : 1)}'; }
# Runs a load generator, setting `out` to its line, `server_ticks` and `redis_ticks` to the CPU clock ticks the
# server under load and Redis used meanwhile, and `busy` to how busy the cores were.
# Usage: measured SERVER_PID COMMAND...
measured() {
    local server="$1" machine; shift
    server_ticks="$(cpu_ticks "$server")"
    redis_ticks="$(cpu_ticks "$redis")"
    machine="$(cpu_line)"
    out="$("$@")"
    server_ticks=$(($(cpu_ticks "$server") - server_ticks))
    redis_ticks=$(($(cpu_ticks "$redis") - redis_ticks))
    busy="$(busy_since "$machine")"
}
# One echo run at the half rate, printed with the CPU time per call of its server and of Redis (none for the
# plain echo) and how busy the cores were; leaves the load generator's line in `out`.
# Usage: echo_run LABEL SERVER_PID PORT
echo_run() {
    local label="$1" server="$2" port="$3" start calls
    start="$(steal_ticks)"
    measured "$server" "$bin/GatehouseBench" rpc-load --port "$port" --connections 2 --rate "$((max / 2))" --seconds "$seconds"
    # The calls measured, plus the warm-up second's, which the CPU time includes too.
    calls=$(($(echo "$out" | sed -n 's/.*(\([0-9]*\) calls,.*/\1/p') + max / 2))
    echo "  $label$out   (stolen: $(steal_ms_since "$start") ms; server CPU per call: $(cpu_us_per "$server_ticks" "$calls") us, Redis $(cpu_us_per "$redis_ticks" "$calls") us; cores busy: $busy)"
}
for run in 1 2 3; do
    run_start="$(steal_ticks)"
    redis-cli -p "$redis_port" config resetstat > /dev/null
    curl -s "http://127.0.0.1:$admin_port/metrics" > "$dir/before.metrics"
    measured "$limiter" "$bin/GatehouseBench" limiter-load --port "$rpc_port" --mode allowed --rate "$((max / 2))" --seconds "$seconds"
    curl -s "http://127.0.0.1:$admin_port/metrics" > "$dir/after.metrics"
    echo "$out   (stolen: $(steal_ms_since "$run_start") ms)"
    stages
    p99s+=("$(echo "$out" | p99_of)")
    echo_run "" "$echo_server" "$echo_port"
    echo_p99s+=("$(echo "$out" | p99_of)")
    echo_run "through Redis: " "$redis_echo_server" "$redis_echo_port"
    redis_echo_p99s+=("$(echo "$out" | p99_of)")
done
kill $echo_server $redis_echo_server; echo_server=""; redis_echo_server=""
echo "median p99 of the 3 runs: $(median_of_3 "${p99s[@]}") us (the echo's: $(median_of_3 "${echo_p99s[@]}") us; through Redis: $(median_of_3 "${redis_echo_p99s[@]}") us)"
stolen
echo "== limiter over RPC, 64 callers, repeats of denied keys (denial cache)"
"$bin/GatehouseBench" limiter-load --port "$rpc_port" --mode denied --seconds "$seconds"
stolen
echo "== LimiterDecider in process (no RPC), 64 callers"
"$bin/GatehouseBench" limiter-decide --port "$redis_port" --seconds "$((seconds / 2 > 0 ? seconds / 2 : 1))"
stolen
echo "== CPU time the hypervisor stole from the cores during the script: $(steal_ms_since "$steal_start") ms"
