# Shared by bench/edge.sh, bench/edge-instructions.sh and bench/upstream.sh (sourced): the services behind an
# edge router, in release, on free loopback ports, with the benchmark's policy and route files.
#   public: 20/min per address (anonymous)   bench: 1e9/h per subject (never binds)
#   binding: 5,000/s per subject, burst 50 (the role `binding`)
# Route: GET /v1/{collection}/{id} (auth optional, cached 1 h, public), PUT of the same (scope write).

# Builds the services and an edge router (and the EXTRA products named) in release, then sets `bin` (their
# folder), `dir` (a temporary folder, removed at exit) and `pids` (each PID added to it is killed at exit).
# Usage: prepare_edge_stack [EXTRA-PRODUCT...]
prepare_edge_stack() {
    local product
    for product in limiter data-service auth-issuer edge-router "$@"; do swift build -c release --product "$product" >&2; done
    bin="$(swift build -c release --show-bin-path)"
    dir="$(mktemp -d)"
    pids=()
    trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts redis, the limiter, the data service (DOCUMENTS documents seeded, their events published before it
# returns) and the auth issuer (user admin, password bench-admin-password) in the folder `dir`, with the
# binaries of `bin`; adds their PIDs to `pids`; sets `secret`, `auth_http`, `data_admin` and the other ports;
# exports the EDGE_* settings an edge-router needs besides EDGE_HTTP_PORT and EDGE_ADMIN_PORT.
# Usage: start_edge_stack DOCUMENTS
start_edge_stack() {
    local documents="$1"
    secret="bench-secret-$(date +%s%N)"
    redis_port="$(free_port)"; limiter_port="$(free_port)"; data_port="$(free_port)"; data_admin="$(free_port)"
    auth_http="$(free_port)"; auth_rpc="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no > "$dir/redis.log" & pids+=($!)
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    cat > "$dir/policies.yaml" <<YAML
policies:
  - {name: public, limit: 20, period: 1m, key: [ip]}
  - {name: bench, limit: 1000000000, period: 1h, key: [sub]}
  - {name: binding, limit: 5000, period: 1s, burst: 50, key: [sub]}
  - {name: login_username, limit: 5, period: 1m, key: [sub]}
  - {name: login_ip, limit: 50, period: 1m, key: [ip]}
  - {name: auth_failures, limit: 10, period: 1m, key: [ip]}
YAML
    cat > "$dir/routes.yaml" <<YAML
routes:
  - path: /v1/{collection}/{id}
    methods: [GET]
    auth: optional
    cache: {ttl: 1h, scope: public}
  - path: /v1/{collection}/{id}
    methods: [PUT]
    scopes: [write]
tiers:
  anonymous: [public]
  binding: [binding]
  authenticated: [bench]
YAML
    LIMITER_RPC_SECRET="$secret" LIMITER_RPC_PORT="$limiter_port" LIMITER_ADMIN_PORT=0 LIMITER_REDIS_PORT="$redis_port" \
        LIMITER_POLICIES_FILE="$dir/policies.yaml" LIMITER_LOG_LEVEL=warning "$bin/limiter" > "$dir/limiter.log" 2>&1 & pids+=($!)
    export DATA_RPC_SECRET="$secret" DATA_RPC_PORT="$data_port" DATA_ADMIN_PORT="$data_admin" DATA_REDIS_PORT="$redis_port" \
        DATA_STORAGE_PATH="$dir/documents.sqlite" DATA_LOG_LEVEL=warning
    "$bin/data-service" seed --count "$documents" > /dev/null
    "$bin/data-service" > "$dir/data.log" 2>&1 & pids+=($!)
    # The seed's events go out when the service starts; the edges start after, so invalidation figures
    # count only the benchmark's own writes.
    for _ in $(seq 600); do
        published="$(curl -s "http://127.0.0.1:$data_admin/metrics" | sed -n 's/^gatehouse_data_events_published_total \([0-9.e+]*\)$/\1/p' || true)"
        python3 -c "import sys; sys.exit(0 if float('${published:-0}') >= $documents else 1)" && break
        sleep 0.1
    done
    AUTH_RPC_SECRET="$secret" AUTH_RPC_PORT="$auth_rpc" AUTH_ADMIN_PORT=0 AUTH_HTTP_PORT="$auth_http" AUTH_REDIS_PORT="$redis_port" \
        AUTH_LIMITER_PORT="$limiter_port" AUTH_STORAGE_PATH="$dir/auth.sqlite" AUTH_LOG_LEVEL=warning AUTH_TOKENS_ISSUER="http://127.0.0.1:$auth_http" \
        AUTH_BOOTSTRAP_ADMIN_PASSWORD=bench-admin-password "$bin/auth-issuer" > "$dir/auth.log" 2>&1 & pids+=($!)
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$auth_http") 2>/dev/null && break; sleep 0.1; done
    sleep 1
    export EDGE_RPC_SECRET="$secret" EDGE_REDIS_PORT="$redis_port" EDGE_LIMITER_PORT="$limiter_port" \
        EDGE_DATA_PORT="$data_port" EDGE_AUTH_PORT="$auth_rpc" EDGE_AUTH_JWKS_URL="http://127.0.0.1:$auth_http/.well-known/jwks.json" \
        EDGE_AUTH_ISSUER="http://127.0.0.1:$auth_http" EDGE_ROUTES_FILE="$dir/routes.yaml" EDGE_POLICIES_FILE="$dir/policies.yaml" EDGE_LOG_LEVEL=warning EDGE_CACHE_MAX_BYTES=$((256 << 20))
}

# Waits until something listens on 127.0.0.1:PORT (at most TENTHS tenths of a second, default 100).
# Usage: wait_for_port PORT [TENTHS]
wait_for_port() {
    for _ in $(seq "${2:-100}"); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done
}

# An access token of the auth issuer's password grant.
# Usage: token_for USER PASSWORD
token_for() {
    curl -s "http://127.0.0.1:$auth_http/oauth/token" -d grant_type=password -d username="$1" --data-urlencode password="$2" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
