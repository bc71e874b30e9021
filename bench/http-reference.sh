# Shared by the HTTP benchmarks (sourced): the nginx reference, the static API and the wrk runs.
. "$(dirname "${BASH_SOURCE[0]}")/steal.sh"

# Installs wrk and nginx when missing.
require_wrk_and_nginx() {
    command -v wrk >/dev/null || scripts/install-dependencies --bench
    command -v nginx >/dev/null || { apt-get install -y -qq nginx-light >&2 || apt-get install -y -qq nginx >&2; }
}

# nginx (2 workers) with limit_req (never binding) and proxy_cache in front of a static copy of DIR/doc.json,
# on 127.0.0.1:PORT, its static upstream on UPSTREAM_PORT; its PID is added to `pids`.
# Usage: start_reference_nginx DIR PORT UPSTREAM_PORT
start_reference_nginx() {
    local dir="$1" nginx_port="$2" upstream_port="$3"
    mkdir -p "$dir/nginx/cache"
    cat > "$dir/nginx/nginx.conf" <<CONF
worker_processes 2;
# The workers read this run's temporary folder, which only its owner may enter.
user $(id -un);
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    proxy_cache_path $dir/nginx/cache keys_zone=docs:10m;
    limit_req_zone \$binary_remote_addr zone=perip:10m rate=1000000r/s;
    upstream static { server 127.0.0.1:$upstream_port; keepalive 32; }
    server {
        listen 127.0.0.1:$upstream_port;
        root $dir;
        default_type application/json;
        location / { try_files /doc.json =404; }
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            limit_req zone=perip burst=1000000 nodelay;
            proxy_cache docs;
            proxy_cache_valid 200 1h;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://static;
        }
    }
}
CONF
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g 'daemon off;' & pids+=($!)
    sleep 0.5
}

# The API the upstream benchmarks forward to: nginx (1 worker) answering every GET with one small JSON
# document (DIR/api/doc.json), keep-alive without a request cap, on 127.0.0.1:PORT; its PID is added to `pids`.
# Usage: start_static_api DIR PORT
start_static_api() {
    local dir="$1" api_port="$2"
    mkdir -p "$dir/api"
    printf '{"id":"1","title":"Hello","body":"the first article","author":"gatehouse","tags":["news","gatehouse"]}' > "$dir/api/doc.json"
    cat > "$dir/api/nginx.conf" <<CONF
worker_processes 1;
user $(id -un);
pid $dir/api/nginx.pid;
error_log $dir/api/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$api_port;
        root $dir/api;
        default_type application/json;
        location / { try_files /doc.json =404; }
    }
}
CONF
    nginx -p "$dir/api" -c "$dir/api/nginx.conf" -g 'daemon off;' & pids+=($!)
}

# Runs wrk -t2 -c32 for `seconds`, `runs` times; prints each run (with the CPU time the hypervisor stole
# from the two cores during it, and with `cpu_pid` set, that process's CPU time per request) and the median
# requests/s.
# Usage: [cpu_pid=PID] run NAME WRK-ARGUMENTS...
run() {
    local name="$1"; shift
    local rates=() cpus=()
    for _ in $(seq "$runs"); do
        local steal_start cpu_start=0 cpu=""
        steal_start="$(steal_ticks)"
        [ -n "${cpu_pid:-}" ] && cpu_start="$(cpu_ticks "$cpu_pid")"
        out="$(wrk -t2 -c32 -d"${seconds}s" --latency "$@")"
        rate="$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')"
        p50="$(echo "$out" | sed -n 's/^ *50% *\(.*\)$/\1/p')"; p99="$(echo "$out" | sed -n 's/^ *99% *\(.*\)$/\1/p')"
        non2xx="$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p')"
        if [ -n "${cpu_pid:-}" ]; then
            requests="$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')"
            cpus+=("$(( ($(cpu_ticks "$cpu_pid") - cpu_start) * 1000000 / $(getconf CLK_TCK) / (requests > 0 ? requests : 1) ))")
            cpu=", ${cpus[-1]} us CPU per request"
        fi
        echo "$name: $rate req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}, stolen $(steal_ms_since "$steal_start") ms$cpu"
        rates+=("$rate")
    done
    printf '%s\n' "${rates[@]}" | sort -n | awk -v name="$name" '{a[NR]=$1} END {print name " median: " a[int((NR+1)/2)] " req/s"}'
    if [ ${#cpus[@]} -gt 0 ]; then
        printf '%s\n' "${cpus[@]}" | sort -n | awk -v name="$name" '{a[NR]=$1} END {print name " median CPU per request: " a[int((NR+1)/2)] " us"}'
    fi
}
