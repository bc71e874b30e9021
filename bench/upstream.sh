#!/usr/bin/env bash
# The edge router in front of an HTTP API (a route with `upstream:`) against nginx in front of the same API,
# in the same run: wrk -t2 -c32, SECONDS per run, median of RUNS runs, the time stolen by the host printed
# with each run. The API is a second nginx (1 worker) answering every GET with one small static JSON
# document on loopback, keep-alive without a request cap.
#   nginx:     proxy_pass (keep-alive pool) + limit_req (per address, never binding), with proxy_cache (A)
#              or without (M)
#   Gatehouse: the edge (release) with an upstream route, callers without a token under a per-address
#              policy that never binds (the same work as nginx's limit_req: no token on either side), with
#              the route's cache (A) or without (M)
#   A: one cached answer (cache hits)   M: every request forwarded to the API (no cache)
# The edge's CPU time per request is printed with each of its runs; the ratios Gatehouse/nginx at the end.
# With PROFILE=1, (M) runs once more under `perf record -g` on the edge and the top entries are printed.
# Usage: bench/upstream.sh [seconds] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/http-reference.sh
seconds="${1:-10}"
runs="${2:-3}"
require_wrk_and_nginx

. bench/edge-stack.sh
prepare_edge_stack
start_edge_stack 1
api_port="$(free_port)"; nginx_port="$(free_port)"; edge_port="$(free_port)"; edge_admin="$(free_port)"

start_static_api "$dir" "$api_port"
mkdir -p "$dir/front/cache"
# The reference front: the same limit_req on both locations, proxy_cache on /cached/ only.
cat > "$dir/front/nginx.conf" <<CONF
worker_processes 2;
user $(id -un);
pid $dir/front/nginx.pid;
error_log $dir/front/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    proxy_cache_path $dir/front/cache keys_zone=api:10m;
    limit_req_zone \$binary_remote_addr zone=perip:10m rate=1000000r/s;
    upstream api { server 127.0.0.1:$api_port; keepalive 32; keepalive_requests 100000000; }
    server {
        listen 127.0.0.1:$nginx_port;
        limit_req zone=perip burst=1000000 nodelay;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /cached/ { proxy_cache api; proxy_cache_valid 200 1h; proxy_pass http://api; }
        location /forwarded/ { proxy_pass http://api; }
    }
}
CONF
nginx -p "$dir/front" -c "$dir/front/nginx.conf" -g 'daemon off;' & pids+=($!)

# The edge: the same two paths, callers without a token under a policy that never binds.
cat >> "$dir/policies.yaml" <<YAML
  - {name: bench_ip, limit: 1000000000, period: 1h, key: [ip]}
YAML
cat > "$dir/upstream-routes.yaml" <<YAML
routes:
  - path: /cached/{collection}/{id}
    methods: [GET]
    auth: optional
    cache: {ttl: 1h, scope: public}
    upstream: {addresses: [http://127.0.0.1:$api_port]}
  - path: /forwarded/{collection}/{id}
    methods: [GET]
    auth: optional
    upstream: {addresses: [http://127.0.0.1:$api_port]}
tiers:
  anonymous: [bench_ip]
YAML
sleep 2  # the limiter reloads its policy file within a second of a change
EDGE_ROUTES_FILE="$dir/upstream-routes.yaml" EDGE_HTTP_PORT="$edge_port" EDGE_ADMIN_PORT="$edge_admin" \
    "$bin/edge-router" > "$dir/edge.log" 2>&1 & pids+=($!)
edge_pid=${pids[-1]}
for port in "$api_port" "$nginx_port" "$edge_port"; do wait_for_port "$port"; done
for url in "http://127.0.0.1:$nginx_port/cached/articles/1" "http://127.0.0.1:$nginx_port/forwarded/articles/1" \
    "http://127.0.0.1:$edge_port/cached/articles/1" "http://127.0.0.1:$edge_port/forwarded/articles/1"; do
    curl -sf -o /dev/null "$url" || { echo "no answer from $url" >&2; cat "$dir/edge.log" "$dir/front/error.log" >&2; exit 1; }
done
curl -si "http://127.0.0.1:$edge_port/forwarded/articles/1" | grep -iE '^(ratelimit-policy|cache-status)' >&2 || true

results="$dir/results"
run "A nginx, proxy_cache + limit_req" "http://127.0.0.1:$nginx_port/cached/articles/1" | tee -a "$results"
cpu_pid=$edge_pid run "A edge, cached upstream route" "http://127.0.0.1:$edge_port/cached/articles/1" | tee -a "$results"
run "M nginx, limit_req, every request forwarded" "http://127.0.0.1:$nginx_port/forwarded/articles/1" | tee -a "$results"
cpu_pid=$edge_pid run "M edge, every request forwarded" "http://127.0.0.1:$edge_port/forwarded/articles/1" | tee -a "$results"
median() { sed -n "s/^$1.* median: \([0-9.]*\) req\/s$/\1/p" "$results"; }
for scenario in A M; do
    python3 -c "print(f'$scenario Gatehouse/nginx: {100 * $(median "$scenario edge") / $(median "$scenario nginx"):.0f}%')"
done
curl -s "http://127.0.0.1:$edge_admin/metrics" | grep -E '^gatehouse_edge_(responses_total|limiter_calls_total)\{' || true

if [ -n "${PROFILE:-}" ]; then
    # perf record on the edge under (M)'s load; symbols from the release build's debug information.
    wrk -t2 -c32 -d"${seconds}s" "http://127.0.0.1:$edge_port/forwarded/articles/1" > /dev/null &
    wrk_pid=$!
    sleep 1
    perf record -g -o "$dir/m.perf" -p "$edge_pid" -- sleep "$((seconds - 2))" > /dev/null 2>&1
    wait "$wrk_pid"
    # Both event loops' samples together (by shared object and symbol), Swift names demangled.
    report() { perf report -i "$dir/m.perf" --sort dso,sym --stdio "$@" 2>/dev/null | grep -E '^ +[0-9.]+%' | swift demangle --simplified | cut -c1-200; }
    echo "profile M, by shared object:"
    perf report -i "$dir/m.perf" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -8
    echo "profile M, self time (perf report --no-children), top entries:"
    report --no-children --percent-limit 0.7 | head -30
    echo "profile M, the edge's and NIO's steps with what they call (perf report --children):"
    report --children --percent-limit 1.5 | grep -E 'Edge[A-Z]|Upstream|ForwardedHeaders|Lease|RouteTable|EventLoopTaskExecutor|HTTP[A-Za-z]*(En|De)coder|ByteToMessage|writev|epoll_wait|Socket.read' | head -45
fi
