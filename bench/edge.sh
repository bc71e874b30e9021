#!/usr/bin/env bash
# Edge router under wrk (32 connections, 10 s, median of 3 runs) with every service in release, next to
# nginx with limit_req and proxy_cache in front of a static copy of the same JSON document, same settings.
#   A: one cached document, valid JWT      B: 1,000 documents uniformly, valid JWT, after a warm-up
#   C: one client over its limit (all 429) D: like B with 10% of requests PUTs of one of the 1,000 documents
#   L: one cached document, JWT of a user whose policy binds at 5,000/s (gcra, burst 50), wrk on both edges
#      at once: the admitted rate against the limit (never above, at most 1% under)
#   nginx: the same document through proxy_cache and limit_req
#   front: bare SwiftNIO answering a fixed body (gatehouse-bench http-floor --server nio): the cheapest
#          front on this machine, whose CPU per request the edge's (A) and (C) are compared with
# Each edge and front run prints the process's CPU time per request (from /proc/PID/stat).
# With PROFILE=1, (A) and (C) run once more under `perf record -g` on edge A and the top entries are printed.
# A second edge replica receives the invalidations: both report the commit-to-edge lag, under D's load and
#   E: one writer pacing 10 ms between PUTs, nothing else running.
# Last, edge A is filled with 100,000 distinct documents (cache.max_bytes 256 MiB) and its RSS is reported.
# Usage: bench/edge.sh [seconds] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/http-reference.sh
seconds="${1:-10}"
runs="${2:-3}"
require_wrk_and_nginx

. bench/edge-stack.sh
prepare_edge_stack GatehouseBench
# 100,000 documents: scenarios B and D use the first 1,000, the memory figure all of them.
start_edge_stack 100000
edge_port="$(free_port)"; edge_admin="$(free_port)"; edge_b_port="$(free_port)"; edge_b_admin="$(free_port)"; nginx_port="$(free_port)"; upstream_port="$(free_port)"
floor_port="$(free_port)"
EDGE_HTTP_PORT="$edge_port" EDGE_ADMIN_PORT="$edge_admin" "$bin/edge-router" > "$dir/edge.log" 2>&1 & pids+=($!)
edge_pid=${pids[-1]}
EDGE_HTTP_PORT="$edge_b_port" EDGE_ADMIN_PORT="$edge_b_admin" "$bin/edge-router" > "$dir/edge-b.log" 2>&1 & pids+=($!)
for port in "$edge_port" "$edge_b_port"; do wait_for_port "$port"; done
sleep 1

token="$(token_for admin bench-admin-password)"
AUTH_STORAGE_PATH="$dir/auth.sqlite" AUTH_RPC_SECRET="$secret" NEW_PASSWORD=bench-binder-password \
    "$bin/auth-issuer" users add binder --roles binding --password-env NEW_PASSWORD > /dev/null
binder_token="$(token_for binder bench-binder-password)"
edge="http://127.0.0.1:$edge_port"
curl -sf -o "$dir/doc.json" -H "Authorization: Bearer $token" "$edge/v1/articles/doc-000001"

start_reference_nginx "$dir" "$nginx_port" "$upstream_port"
curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/v1/articles/doc-000001" || { cat "$dir/nginx/error.log" >&2; exit 1; }
"$bin/GatehouseBench" http-floor --server nio --port "$floor_port" \
    > "$dir/floor.log" 2>&1 & pids+=($!)
floor_pid=${pids[-1]}
for _ in $(seq 100); do grep -q listening "$dir/floor.log" && break; sleep 0.1; done

cat > "$dir/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA
cat > "$dir/uniform.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
request = function()
  return wrk.format("GET", string.format("/v1/articles/doc-%06d", math.random(1, 1000)))
end
LUA
cat > "$dir/writes.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local path = string.format("/v1/articles/doc-%06d", math.random(1, 1000))
  if math.random(1, 10) == 1 then
    return wrk.format("PUT", path, nil, '{"title":"rewritten","n":' .. math.random(1, 1000000) .. '}')
  end
  return wrk.format("GET", path)
end
LUA
for n in $(seq 1000); do printf -v id 'doc-%06d' "$n"; curl -s -o /dev/null -H "Authorization: Bearer $token" "$edge/v1/articles/$id"; done
for _ in $(seq 25); do curl -s -o /dev/null "$edge/v1/articles/doc-000002"; done

# Limiter calls per 100 requests during A, from the edge's own counters.
calls_and_requests() {
    curl -s "http://127.0.0.1:$edge_admin/metrics" | python3 -c '
import re, sys
text = sys.stdin.read()
calls = sum(float(v) for v in re.findall(r"^gatehouse_edge_limiter_calls_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))
answers = sum(float(v) for v in re.findall(r"^gatehouse_edge_responses_total\{.*\} ([0-9.e+]+)$", text, re.M))
print(calls, answers)'
}
read -r calls_before answers_before <<< "$(calls_and_requests)"
cpu_pid=$edge_pid run "A edge, one cached document, JWT" -s "$dir/auth.lua" "$edge/v1/articles/doc-000001"
read -r calls_after answers_after <<< "$(calls_and_requests)"
python3 -c "print(f'A limiter calls per 100 requests: {100 * ($calls_after - $calls_before) / max(1, $answers_after - $answers_before):.3f}')"
run "nginx, proxy_cache + limit_req" "http://127.0.0.1:$nginx_port/v1/articles/doc-000001"
cpu_pid=$floor_pid run "front: bare SwiftNIO, fixed answer" "http://127.0.0.1:$floor_port/v1/articles/doc-000001"
cpu_pid=$edge_pid run "B edge, 1,000 documents, JWT" -s "$dir/uniform.lua" "$edge/v1/articles/doc-000001"
cpu_pid=$edge_pid run "C edge, one client over its limit" "$edge/v1/articles/doc-000002"
cpu_pid=$edge_pid run "D edge, 1,000 documents, 10% writes" -s "$dir/writes.lua" "$edge/v1/articles/doc-000001"
if [ -n "${PROFILE:-}" ]; then
    # perf record on edge A under A's and C's load; symbols from the release build's debug information.
    profile() { # name, wrk arguments...
        local name="$1"; shift
        wrk -t2 -c32 -d"${seconds}s" "$@" > /dev/null &
        local wrk_pid=$!
        sleep 1
        perf record -g -o "$dir/$name.perf" -p "$edge_pid" -- sleep "$((seconds - 2))" > /dev/null 2>&1
        wait "$wrk_pid"
        echo "profile $name (perf report --no-children, top entries):"
        perf report -i "$dir/$name.perf" --no-children --percent-limit 1.5 --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -25
    }
    profile A -s "$dir/auth.lua" "$edge/v1/articles/doc-000001"
    profile C "$edge/v1/articles/doc-000002"
fi

# L: a policy that binds, 5,000/s for one subject across both edges, wrk on each edge at once.
cat > "$dir/binding.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $binder_token"
LUA
wrk -t1 -c16 -d2s -s "$dir/binding.lua" "$edge/v1/articles/doc-000001" > /dev/null  # the subject's token verified, its leases sized
sleep 2
for round in $(seq "$runs"); do
    wrk -t1 -c16 -d"${seconds}s" -s "$dir/binding.lua" "$edge/v1/articles/doc-000001" > "$dir/l-a.out" &
    wrk_a=$!
    wrk -t1 -c16 -d"${seconds}s" -s "$dir/binding.lua" "http://127.0.0.1:$edge_b_port/v1/articles/doc-000001" > "$dir/l-b.out"
    wait "$wrk_a"
    python3 - "$dir/l-a.out" "$dir/l-b.out" "$seconds" <<'PY'
import re, sys
total = admitted = 0
seconds = 0.0
for path in sys.argv[1:3]:
    text = open(path).read()
    found = re.search(r"(\d+) requests in ([0-9.]+)(m?s)", text)
    requests = int(found.group(1))
    seconds = max(seconds, float(found.group(2)) / (1000 if found.group(3) == "ms" else 1))
    refused = int((re.search(r"Non-2xx or 3xx responses: (\d+)", text) or [0, 0])[1])
    total += requests
    admitted += requests - refused
rate = admitted / seconds
print(f"L binding 5,000/s across 2 edges: {total} requests in {seconds:.2f} s, {admitted} admitted = {rate:.0f}/s ({100 * rate / 5000:.2f}% of the limit; at most {100 * (5000 * seconds + 50) / (5000 * seconds):.2f}% allowed by the burst)")
PY
    sleep 2  # the next round starts from a full budget
done
echo "edge RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$edge_pid/status)"
curl -s "http://127.0.0.1:$edge_admin/metrics" | grep -E '^gatehouse_edge_(cache_entries|cache_bytes|data_calls_total) '

# Commit-to-edge invalidation lag: edge A takes the writes (its own entries go before it answers, then
# the event arrives), edge B only hears the events. Under D's load (both cores saturated), and at a
# paced 100 writes/s with nothing else running (E).
lag() { # name, metrics before, metrics after: p50, p99 (linear within buckets) and the share within 5 ms
    python3 bench/histogram-quantiles.py "$1" gatehouse_edge_invalidation_lag_seconds "$2" "$3" --within 0.005
}
: > "$dir/empty.metrics"
curl -s "http://127.0.0.1:$edge_admin/metrics" > "$dir/a-d.metrics"; curl -s "http://127.0.0.1:$edge_b_admin/metrics" > "$dir/b-d.metrics"
lag "D invalidation lag, edge A (writer)" "$dir/empty.metrics" "$dir/a-d.metrics"
lag "D invalidation lag, edge B" "$dir/empty.metrics" "$dir/b-d.metrics"
cat > "$dir/paced.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
delay = function() return 10 end
request = function()
  return wrk.format("PUT", string.format("/v1/articles/doc-%06d", math.random(1, 1000)), nil, '{"title":"paced","n":' .. math.random(1, 1000000) .. '}')
end
LUA
wrk -t1 -c1 -d"${seconds}s" -s "$dir/paced.lua" "$edge/v1/articles/doc-000001" > /dev/null
curl -s "http://127.0.0.1:$edge_admin/metrics" > "$dir/a-e.metrics"; curl -s "http://127.0.0.1:$edge_b_admin/metrics" > "$dir/b-e.metrics"
lag "E invalidation lag, edge A (writer)" "$dir/a-d.metrics" "$dir/a-e.metrics"
lag "E invalidation lag, edge B" "$dir/b-d.metrics" "$dir/b-e.metrics"

# Memory: edge A holding 100,000 distinct documents.
cat > "$dir/fill.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
-- Documents are read in order from the one after the entries already cached (the first argument).
init = function(args) counter = tonumber(args[1]) end
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("/v1/articles/doc-%06d", (counter - 1) % 100000 + 1))
end
LUA
entries=0
for _ in $(seq 10); do
    wrk -t1 -c16 -d5s -s "$dir/fill.lua" "$edge/v1/articles/doc-000001" -- "$(printf '%.0f' "${entries:-0}")" > /dev/null
    entries="$(curl -s "http://127.0.0.1:$edge_admin/metrics" | sed -n 's/^gatehouse_edge_cache_entries \([0-9.e+]*\)$/\1/p' || true)"
    python3 -c "import sys; sys.exit(0 if float('${entries:-0}') >= 100000 else 1)" && break
done
echo "edge RSS with $(printf '%.0f' "${entries:-0}") cached entries (cache.max_bytes 256 MiB): $(awk '/VmRSS/ {print $2, $3}' /proc/$edge_pid/status)"
curl -s "http://127.0.0.1:$edge_admin/metrics" | grep -E '^gatehouse_edge_(cache_entries|cache_bytes) '
