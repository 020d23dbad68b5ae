# Starting the systems under test for overhead.sh (sourced, not run). Uses overhead.sh's
# globals: ROOT, TMP, ROUTER_CORE, UPSTREAM_PORT, VENV_DIR, and start_bg (sets LAST_PID).
# Each start_* function sets LAST_PID to the process whose CPU time and RSS are reported.

# Switchyard: the config format the router reads; one tokio worker thread.
start_switchyard() {
    local port=$1
    cat >"$TMP/switchyard.yaml" <<EOF
server:
  workers: 1
listeners:
  - address: 127.0.0.1:$port
logging: { level: warn }
pools:
  bench:
    policy: round_robin
    endpoints:
      - url: http://127.0.0.1:$UPSTREAM_PORT
        kind: openai
models:
  bench-model:
    pool: bench
EOF
    start_bg switchyard taskset -c "$ROUTER_CORE" "$ROOT/target/release/switchyard" \
        serve --config "$TMP/switchyard.yaml"
}

# vLLM's Rust router (PyPI vllm-router), in its own virtual environment.
ensure_vllm_router() {
    if [[ ! -x "$VENV_DIR/bin/vllm-router" ]]; then
        echo "installing vllm-router${VLLM_ROUTER_VERSION:+==$VLLM_ROUTER_VERSION} into $VENV_DIR" >&2
        python3 -m venv "$VENV_DIR"
        "$VENV_DIR/bin/pip" install -q "vllm-router${VLLM_ROUTER_VERSION:+==$VLLM_ROUTER_VERSION}"
    fi
}

vllm_router_version() {
    "$VENV_DIR/bin/pip" show vllm-router 2>/dev/null | awk '/^Version:/ {print $2}'
}

# It has no worker-thread flag. Its tokio runtime sizes itself from the CPUs it may run on,
# so taskset to one core gives one worker; TOKIO_WORKER_THREADS=1 says the same explicitly.
# Startup health polling every second instead of 30 s; metrics on their own local port.
VLLM_ROUTER_FLAGS="--policy round_robin --log-level warning --worker-startup-check-interval 1"
start_vllm_router() {
    local port=$1 metrics_port=$2
    # shellcheck disable=SC2086
    TOKIO_WORKER_THREADS=1 start_bg vllm-router taskset -c "$ROUTER_CORE" \
        "$VENV_DIR/bin/vllm-router" --host 127.0.0.1 --port "$port" \
        --worker-urls "http://127.0.0.1:$UPSTREAM_PORT" $VLLM_ROUTER_FLAGS \
        --prometheus-host 127.0.0.1 --prometheus-port "$metrics_port"
}

# nginx: one worker process, proxy_pass with upstream keep-alive, no buffering of answers.
# LAST_PID becomes the worker process (the master only supervises).
start_nginx() {
    local port=$1 prefix="$TMP/nginx"
    mkdir -p "$prefix/logs" "$prefix/tmp"
    cat >"$prefix/nginx.conf" <<EOF
worker_processes 1;
error_log $prefix/logs/error.log warn;
pid $prefix/logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/client;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    tcp_nodelay on;
    upstream echo {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 256;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
    start_bg nginx taskset -c "$ROUTER_CORE" nginx -p "$prefix" -c "$prefix/nginx.conf" \
        -g 'daemon off;'
    local master=$LAST_PID worker="" _
    for _ in $(seq 1 50); do
        worker=$(cat "/proc/$master/task/$master/children" 2>/dev/null | awk '{print $1}')
        [[ -n "$worker" ]] && break
        sleep 0.1
    done
    [[ -n "$worker" ]] || { echo "nginx started no worker; see $TMP/nginx.log" >&2; return 1; }
    LAST_PID=$worker
}
