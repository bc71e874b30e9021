#!/usr/bin/env bash
# The edge router's own cost per request in instructions, counted by valgrind's callgrind: a count that does
# not move with the machine's load, unlike wall or CPU time on a shared machine. The edge (release build) runs
# under callgrind behind the services of bench/edge.sh; for each scenario the counters are zeroed after a
# warm-up, wrk (1 thread, 8 connections) loads the edge for SECONDS, and the instructions the edge executed
# in user space, every thread counted, are divided by the requests wrk saw answered. The kernel's share (the
# system calls) is not counted.
#   A: one cached document, valid JWT, a policy that never binds
#   C: one client over its limit (all 429, from the edge's memory)
#   M: every request forwarded to an HTTP API (a route with `upstream:` in front of the static nginx API of
#      bench/upstream.sh), valid JWT, a policy that never binds
# Each scenario prints its instructions per request and its TOP functions by their own (exclusive) instructions;
# with KEEP=DIR the callgrind files are kept there as A.callgrind, C.callgrind and M.callgrind (callgrind_annotate,
# kcachegrind).
# Usage: bench/edge-instructions.sh [seconds] [top]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
top="${2:-30}"
command -v valgrind >/dev/null && command -v wrk >/dev/null || scripts/install-dependencies --bench
. bench/http-reference.sh
require_wrk_and_nginx

. bench/edge-stack.sh
prepare_edge_stack
start_edge_stack 2
edge_port="$(free_port)"
api_port="$(free_port)"
start_static_api "$dir" "$api_port"
wait_for_port "$api_port"
# (M)'s route, first in the file: every request forwarded to the API, no cache.
sed -i "s|^routes:\$|routes:\n  - path: /forwarded/{collection}/{id}\n    methods: [GET]\n    auth: optional\n    upstream: {addresses: [http://127.0.0.1:$api_port]}|" "$dir/routes.yaml"
# Valgrind 3.19 (Debian 12) cannot read the DWARF 5 of the build (function names come from the symbol table
# instead), and its rt_sigsuspend writes into the signal mask it is given, which libdispatch passes from
# read-only memory: the edge runs without debug information, with a sigsuspend that passes a copy.
objcopy --strip-debug "$bin/edge-router" "$dir/edge-router"
printf '%s\n' '#define _GNU_SOURCE' '#include <signal.h>' '#include <unistd.h>' '#include <sys/syscall.h>' \
    'int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return (int)syscall(SYS_rt_sigsuspend, &copy, 8); }' > "$dir/sigsuspend.c"
cc -shared -fPIC -O2 -o "$dir/sigsuspend.so" "$dir/sigsuspend.c"
EDGE_HTTP_PORT="$edge_port" EDGE_ADMIN_PORT=0 SWIFT_BACKTRACE=enable=no LD_PRELOAD="$dir/sigsuspend.so" \
    valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" "$dir/edge-router" > "$dir/edge.log" 2>&1 & pids+=($!)
edge_pid=${pids[-1]}
wait_for_port "$edge_port" 1200
edge="http://127.0.0.1:$edge_port"
token="$(token_for admin bench-admin-password)"
# The edge loads the issuer's keys in the background: wait until a token is taken.
for _ in $(seq 300); do curl -sf -o /dev/null -H "Authorization: Bearer $token" "$edge/v1/articles/doc-000001" && break; sleep 0.2; done
cat > "$dir/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA

dumps=0
measure() { # name, wrk arguments...
    local name="$1"; shift
    wrk -t1 -c8 -d3s "$@" > /dev/null  # warm-up: connections, leases, the verified token, the cache entry
    callgrind_control -z "$edge_pid" > /dev/null
    local out
    out="$(wrk -t1 -c8 -d"${seconds}s" "$@")"
    callgrind_control -d "$edge_pid" > /dev/null
    dumps=$((dumps + 1))
    local file="$dir/callgrind.out.$dumps"
    for _ in $(seq 100); do [ -s "$file" ] && grep -q '^totals:' "$file" && break; sleep 0.1; done
    local requests instructions
    requests="$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')"
    instructions="$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$file")"
    echo "$name: $requests requests, $instructions instructions, $((instructions / requests)) instructions per request"
    echo "$name: top $top functions by their own instructions (% of the total):"
    callgrind_annotate --threshold=100 "$file" > "$dir/annotated.txt" 2>/dev/null
    grep -E '^ *[0-9,]+ \(' "$dir/annotated.txt" | grep -v 'PROGRAM TOTALS' | sed -n "1,${top}p" | swift demangle --simplified \
        | sed -E 's/^ *[0-9,]+ \( *([0-9.]+)%\) +/\1% /; s/ \[[^]]*\]$//; s/^([0-9.]+% )\?\?\?:/\1/' | cut -c1-160
    [ -z "${KEEP:-}" ] || cp "$file" "$KEEP/${name%% *}.callgrind"
}
measure "A edge, one cached document, JWT" -s "$dir/auth.lua" "$edge/v1/articles/doc-000001"
for _ in $(seq 25); do curl -s -o /dev/null "$edge/v1/articles/doc-000002"; done
measure "C edge, one client over its limit" "$edge/v1/articles/doc-000002"
measure "M edge, every request forwarded to an HTTP API, JWT" -s "$dir/auth.lua" "$edge/forwarded/articles/1"
