#!/usr/bin/env bash
# Auth issuer: client_credentials tokens, JWKS documents and password grants per second over HTTP with
# wrk (32 connections), release build, with its own Redis and limiter. The password grant uses the
# production bcrypt cost (12, or the cost given as the second argument).
# Usage: bench/auth.sh [seconds] [bcrypt-cost]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
cost="${2:-12}"
command -v wrk >/dev/null || scripts/install-dependencies --bench

swift build -c release --product auth-issuer >&2
swift build -c release --product limiter >&2
bin="$(swift build -c release --show-bin-path)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir="$(mktemp -d)"
redis_port="$(free_port)"
limiter_port="$(free_port)"
http_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize no > "$dir/redis.log" &
redis=$!
limiter=""
issuer=""
trap 'kill $issuer $limiter $redis 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

secret="bench-secret-$(date +%s%N)"
cat > "$dir/policies.yaml" <<YAML
policies:
  - {name: login_username, limit: 5, period: 1m, key: [sub]}
  - {name: login_ip, limit: 50, period: 1m, key: [ip]}
YAML
LIMITER_RPC_SECRET="$secret" LIMITER_RPC_PORT="$limiter_port" LIMITER_ADMIN_PORT=0 LIMITER_REDIS_PORT="$redis_port" \
    LIMITER_POLICIES_FILE="$dir/policies.yaml" LIMITER_LOG_LEVEL=warning "$bin/limiter" > "$dir/limiter.log" 2>&1 &
limiter=$!

export AUTH_RPC_SECRET="$secret" AUTH_RPC_PORT=0 AUTH_ADMIN_PORT=0 AUTH_HTTP_PORT="$http_port" AUTH_REDIS_PORT="$redis_port" \
    AUTH_LIMITER_PORT="$limiter_port" AUTH_STORAGE_PATH="$dir/auth.sqlite" AUTH_LOG_LEVEL=warning AUTH_PASSWORDS_BCRYPT_COST="$cost"
client_secret="$("$bin/auth-issuer" clients add bench-client --scopes read | sed -n 's/^client_secret=//p')"
BENCH_PASSWORD="bench-password-1" "$bin/auth-issuer" users add bench --password-env BENCH_PASSWORD >&2
"$bin/auth-issuer" > "$dir/auth-issuer.log" 2>&1 &
issuer=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$http_port") 2>/dev/null && break; sleep 0.1; done

basic="$(printf 'bench-client:%s' "$client_secret" | base64 -w0)"
cat > "$dir/client_credentials.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
cat > "$dir/password.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "grant_type=password&username=bench&password=bench-password-1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
url="http://127.0.0.1:$http_port"
curl -sf -o /dev/null -u "bench-client:$client_secret" -d grant_type=client_credentials "$url/oauth/token"

echo "== client_credentials tokens (ES256 signature, SQLite client lookup), 32 connections, ${seconds}s"
wrk -t2 -c32 -d"${seconds}s" --latency -s "$dir/client_credentials.lua" "$url/oauth/token"
echo "== JWKS documents, 32 connections, ${seconds}s"
wrk -t2 -c32 -d"${seconds}s" --latency "$url/.well-known/jwks.json"
echo "== password grants at bcrypt cost $cost (by design bounded by bcrypt), 32 connections, ${seconds}s"
wrk -t2 -c32 -d"${seconds}s" --timeout 10s --latency -s "$dir/password.lua" "$url/oauth/token"
