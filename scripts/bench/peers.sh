# Starting the systems under test for overhead.sh (sourced, not run). Uses overhead.sh's
# globals: ROOT, TMP, ROUTER_CORE, UPSTREAM_PORT, VENV_DIR, SGLANG_VENV_DIR, LITELLM_VENV_DIR,
# and start_bg (sets LAST_PID).
# Each start_* function sets LAST_PID to the process whose CPU time and RSS are reported.

# Switchyard: the config format the router reads; one tokio worker thread.
start_switchyard() {
    local port=$1 busy_poll=${2:-0s} name=${3:-switchyard}
    cat >"$TMP/$name.yaml" <<EOF
server:
  workers: 1
  busy_poll: $busy_poll
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
    start_bg "$name" taskset -c "$ROUTER_CORE" "$ROOT/target/release/switchyard" \
        serve --config "$TMP/$name.yaml"
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

# SGLang's Rust router (PyPI sglang-router), in its own virtual environment. SGLANG_ROUTER_VERSION
# pins it (unset: the newest); a venv holding another version is reinstalled.
ensure_sglang_router() {
    local want=${SGLANG_ROUTER_VERSION:-}
    if ! "$SGLANG_VENV_DIR/bin/python" -c 'import sglang_router' 2>/dev/null ||
        [[ -n "$want" && "$(sglang_router_version)" != "$want" ]]; then
        echo "installing sglang-router${want:+==$want} into $SGLANG_VENV_DIR" >&2
        python3 -m venv "$SGLANG_VENV_DIR" || return 1
        "$SGLANG_VENV_DIR/bin/pip" install -q "sglang-router${want:+==$want}" || return 1
    fi
}

sglang_router_version() {
    "$SGLANG_VENV_DIR/bin/pip" show sglang-router 2>/dev/null | awk '/^Version:/ {print $2}'
}

# One process: the Python launcher runs the Rust router in-process (it renames itself
# "sglang::router"). No worker-thread flag: tokio sizes its runtime from the allowed CPUs, so
# taskset gives one worker, and TOKIO_WORKER_THREADS=1 says so explicitly. At start-up it asks
# the worker for /server_info, /get_server_info, /model_info and /get_model_info; the echo
# upstream answers 404 to all four, which it only warns about (the worker is registered with
# model id "unknown" and serves every model). Health checks go to /health, every 60 s.
# Startup polling every second instead of 30 s; metrics on their own local port (the default
# is 0.0.0.0:29000).
SGLANG_ROUTER_FLAGS="--policy round_robin --log-level warn --worker-startup-check-interval 1"
start_sglang_router() {
    local port=$1 metrics_port=$2
    # shellcheck disable=SC2086
    TOKIO_WORKER_THREADS=1 start_bg sglang-router taskset -c "$ROUTER_CORE" \
        "$SGLANG_VENV_DIR/bin/python" -m sglang_router.launch_router --host 127.0.0.1 --port "$port" \
        --worker-urls "http://127.0.0.1:$UPSTREAM_PORT" $SGLANG_ROUTER_FLAGS \
        --prometheus-host 127.0.0.1 --prometheus-port "$metrics_port"
}

# The LiteLLM proxy (PyPI litellm[proxy]; Python), in its own virtual environment. Pinned by
# default: litellm's PyPI releases have been hijacked before (1.82.7 and 1.82.8 carried a
# credential stealer in a litellm_init.pth start-up hook), and its newest releases need
# dependency versions that a registry may not hold yet. LITELLM_VERSION picks another version;
# a venv holding another version is reinstalled. A litellm that ships a .pth start-up hook is
# refused.
LITELLM_DEFAULT_VERSION=1.106.2
ensure_litellm() {
    local want=${LITELLM_VERSION:-$LITELLM_DEFAULT_VERSION} record
    if [[ ! -x "$LITELLM_VENV_DIR/bin/litellm" || "$(litellm_version)" != "$want" ]]; then
        echo "installing litellm[proxy]==$want into $LITELLM_VENV_DIR" >&2
        python3 -m venv "$LITELLM_VENV_DIR" || return 1
        "$LITELLM_VENV_DIR/bin/pip" install -q "litellm[proxy]==$want" || return 1
    fi
    for record in "$LITELLM_VENV_DIR"/lib/python3*/site-packages/litellm-*.dist-info/RECORD; do
        if grep -q '\.pth,' "$record" 2>/dev/null; then
            echo "litellm $want ships a .pth start-up hook ($(grep '\.pth,' "$record" | cut -d, -f1)):" \
                "not running it; remove $LITELLM_VENV_DIR" >&2
            return 1
        fi
    done
}

litellm_version() {
    "$LITELLM_VENV_DIR/bin/pip" show litellm 2>/dev/null | awk '/^Version:/ {print $2}'
}

# One uvicorn worker in the launching process (--num_workers 1 does not fork), on uvloop.
# Nothing phones home: the model cost map and the other catalogues come from the package's
# bundled copies, no telemetry, no database (DATABASE_URL unset), no master key (recent versions
# refuse to start without one unless the config says it is a local setup), log level WARNING
# (no access-log line per request, like the Rust routers at warn).
LITELLM_FLAGS="--num_workers 1"
LITELLM_ENV="LITELLM_TELEMETRY=False LITELLM_LOG=WARNING LITELLM_LOCAL_MODEL_COST_MAP=True"
LITELLM_ENV+=" LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True LITELLM_LOCAL_BLOG_POSTS=True"
LITELLM_ENV+=" LITELLM_LOCAL_POLICY_TEMPLATES=True LITELLM_LOCAL_AUTOROUTER_PRESETS=True"
LITELLM_ENV+=" LITELLM_DONT_SHOW_FEEDBACK_BOX=True HF_HUB_OFFLINE=1"
LITELLM_CONFIG_NOTE="config: bench-model -> openai/bench-model at the upstream's /v1 with a dummy api_key"
LITELLM_CONFIG_NOTE+=", telemetry false, dangerously_permit_weak_or_unset_master_key (no master key), no DB"
start_litellm() {
    local port=$1
    cat >"$TMP/litellm.yaml" <<EOF
model_list:
  - model_name: bench-model
    litellm_params:
      model: openai/bench-model
      api_base: http://127.0.0.1:$UPSTREAM_PORT/v1
      api_key: sk-bench-dummy
litellm_settings:
  telemetry: false
general_settings:
  dangerously_permit_weak_or_unset_master_key: true
EOF
    # shellcheck disable=SC2086
    start_bg litellm env -u DATABASE_URL -u LITELLM_MASTER_KEY $LITELLM_ENV \
        taskset -c "$ROUTER_CORE" "$LITELLM_VENV_DIR/bin/litellm" --config "$TMP/litellm.yaml" \
        --host 127.0.0.1 --port "$port" $LITELLM_FLAGS
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
