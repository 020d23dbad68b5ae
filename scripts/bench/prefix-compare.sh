#!/usr/bin/env bash
# KV-cache-aware routing compared on one shared-prefix workload, every system in one run:
# Switchyard's round_robin, least_connections, power_of_two, cache_aware with the approximate
# index, cache_aware with the event index (engines publish KV events; the simulator too),
# the hand-pinned oracle (each group's system prompt pinned to one engine, no router), and
# SGLang's router (PyPI sglang-router, --policy cache_aware). Caches are reset before each
# system. Hit rates and request counts come from the engines' own counters.
# Two more systems separate what a router in the path costs from what its routing costs (not
# in the default list): oracle_routed (the oracle's pinning, each engine behind its own
# Switchyard) and oracle_sglang (the same behind sglang-router).
#
#   scripts/bench/prefix-compare.sh [--engines vllm|sim] [--skew S] [--requests N] [--repeat R]
#       [--first-round K] [--concurrency C | --rate R] [--prefix-len WORDS] [--suffix-len WORDS] [--unique-questions]
#       [--systems "..."] [--out DIR] [--no-build] [--state FILE] [--model DIR] [--own-cpu]
#       [--variant NAME "key: value, ..."]...
#
# --prefix-len: words per group's system prompt (default 100, about 250 tokens with the chat
# template; the model's context is 512 tokens, so at most about 170).
# --rate R: open loop, Poisson arrivals at R requests/s, instead of C closed-loop users. In a
# closed loop mean latency is concurrency / throughput (Little's law), so it shows what a
# policy does to throughput; at a fixed rate it shows the queueing that imbalance causes.
# --suffix-len: words per question (default 12).
# --unique-questions: every request asks a new question (SGLang's generated-shared-prefix
# bench), so only the system prompt can hit; by default each group has 4 users whose
# questions repeat, which makes nearly every prompt a full hit once seen.
# --model: the vLLM model directory (default: the tiny test model), e.g. a larger one built by
# `make_tiny_model.py DIR --hidden 512 --layers 8`, where prefill costs more than the
# per-request overhead.
# --own-cpu: confine each vLLM instance (all its processes) to a core of its own, so the two
# replicas do not take compute from each other, as GPU replicas each have their own device.
# Without it both engines' processes share both cores, and a request on an idle engine still
# waits for CPU behind the other engine's work, so spreading load buys little here.
# --state: use a running vLLM fleet (scripts/vllm/start.sh --state FILE --kv-events --dev-mode
# --num-gpu-blocks 96) instead of starting one; it is left running.
#
# vllm: 2 real vLLM CPU instances, 96 KV blocks of 32 tokens each (small, so eviction is real).
# sim:  8 simulated engines (`switchyard sim`), 96 blocks of 16 tokens each.
# SCRAPE_INTERVAL: how often Switchyard reads the engines' /metrics (default 1s, its own
# default; on CPU vLLM each scrape takes CPU from the engine).
# ROUTER_LOG: Switchyard's log filter (e.g. switchyard::policy=debug); its logs go to DIR.
# CACHE_AWARE_EXTRA: YAML lines (6-space indent) added to both cache_aware configurations.
# --variant NAME "key: value, key: value": cache_aware settings for the systems
# approximate+NAME and events+NAME (e.g. --variant tight "fair_share_slack: 0.1,
# recent_half_life: 512" --systems "events events+tight oracle"), to compare settings in
# one run.
# --repeat R runs every system R times (rounds interleaved, seed 10+round); the table gives
# medians over rounds, ratios taken within each round. --first-round K numbers the rounds from
# K and keeps the results already in DIR, to add rounds to an earlier run.
# Writes DIR/<system>-r<round>.json (switchyard-bench/1), DIR/table.md and DIR/chart.svg.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENGINES=vllm STATE="" OWN_CPU=() SKEW=0 REPEAT=1 FIRST_ROUND=1 MODEL_DIR="" REQUESTS=256 CONCURRENCY=6 RATE="" BUILD=1 OUT=""
SYSTEMS="round_robin least_connections power_of_two approximate events oracle sglang"
declare -A VARIANTS=()
GROUP_COUNT=16 USERS=4 PREFIX_LEN=100 SUFFIX_LEN=12 OUTPUT_LEN=4 UNIQUE=()
while (($#)); do
    case $1 in
        --engines) ENGINES=$2; shift 2 ;;
        --skew) SKEW=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --first-round) FIRST_ROUND=$2; shift 2 ;;
        --requests) REQUESTS=$2; shift 2 ;;
        --concurrency) CONCURRENCY=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --prefix-len) PREFIX_LEN=$2; shift 2 ;;
        --suffix-len) SUFFIX_LEN=$2; shift 2 ;;
        --unique-questions) UNIQUE=(--unique-questions); shift ;;
        --systems) SYSTEMS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --state) STATE=$2; shift 2 ;;
        --model) MODEL_DIR=$2; shift 2 ;;
        --own-cpu) OWN_CPU=(--own-cpu); shift ;;
        --variant) VARIANTS[$2]=$3; shift 3 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
for system in $SYSTEMS; do
    if [[ $system == *+* && -z ${VARIANTS[${system#*+}]+set} ]]; then
        echo "$system: no --variant ${system#*+}" >&2; exit 2
    fi
done
OUT=${OUT:-$ROOT/benches/results/prefix-$ENGINES-skew$SKEW}
mkdir -p "$OUT"
TMP=$(mktemp -d)
SGLANG_VENV_DIR="$ROOT/.cache/venvs/sglang-router"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [[ -f $TMP/state.json ]]; then "$ROOT/scripts/vllm/stop.sh" --state "$TMP/state.json" >/dev/null 2>&1 || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

((BUILD)) && cargo build --release --locked -p switchyard >&2
BIN="$ROOT/target/release/switchyard"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
    for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "$1 did not answer" >&2; return 1
}

URLS=() KV=() REPLAY=()
if [[ $ENGINES == vllm ]]; then
    BLOCK_TOKENS=32 MODEL=tiny-llama
    MODEL_DIR=${MODEL_DIR:-$ROOT/.cache/models/tiny-llama}
    if [[ -z $STATE ]]; then
        STATE=$TMP/state.json
        model_arg=()
        [[ $MODEL_DIR != "$ROOT/.cache/models/tiny-llama" ]] && model_arg=(--model "$MODEL_DIR")
        "$ROOT/scripts/vllm/start.sh" --state "$STATE" --count 2 --kv-events --dev-mode \
            --num-gpu-blocks 96 "${model_arg[@]}" "${OWN_CPU[@]}" >/dev/null
    fi
    mapfile -t URLS < <(python3 -c 'import json,sys; [print(i["url"]) for i in json.load(open(sys.argv[1]))["instances"]]' "$STATE")
    mapfile -t KV < <(python3 -c 'import json,sys; [print(i["kv_events"]["endpoint"].replace("*", i["host"])) for i in json.load(open(sys.argv[1]))["instances"]]' "$STATE")
    mapfile -t REPLAY < <(python3 -c 'import json,sys; [print(i["kv_events"]["replay_endpoint"].replace("*", i["host"])) for i in json.load(open(sys.argv[1]))["instances"]]' "$STATE")
    TOKENIZER="path: $MODEL_DIR"
elif [[ $ENGINES == sim ]]; then
    BLOCK_TOKENS=16 MODEL=sim-model
    for i in $(seq 0 7); do
        port=$(free_port) kv_port=$(free_port) replay_port=$(free_port)
        printf 'served_model_name: %s\nseed: %d\nnum_blocks: 96\nblock_size: 16\nmax_num_seqs: 4\nkv_events:\n  endpoint: tcp://127.0.0.1:%s\n  replay_endpoint: tcp://127.0.0.1:%s\n' \
            "$MODEL" "$i" "$kv_port" "$replay_port" >"$TMP/sim-$i.yaml"
        "$BIN" sim --config "$TMP/sim-$i.yaml" --listen "127.0.0.1:$port" >"$TMP/sim-$i.log" 2>&1 &
        PIDS+=($!)
        URLS+=("http://127.0.0.1:$port")
        KV+=("tcp://127.0.0.1:$kv_port")
        REPLAY+=("tcp://127.0.0.1:$replay_port")
    done
    for u in "${URLS[@]}"; do wait_http "$u/health"; done
    TOKENIZER="kind: simulator"
else
    echo "--engines is vllm or sim" >&2; exit 2
fi

switchyard_config() { # policy, extra cache_aware lines, port
    local policy=$1 cache=$2 port=$3 i
    [[ -n $cache ]] && cache+=$'\n' # $(...) dropped the trailing newline
    printf 'listeners:\n  - address: 127.0.0.1:%s\nlogging: { level: "%s" }\nscrape:\n  interval: %s\npools:\n  main:\n    policy: %s\n%s    endpoints:\n' \
        "$port" "${ROUTER_LOG:-warn}" "${SCRAPE_INTERVAL:-1s}" "$policy" "$cache"
    for i in "${!URLS[@]}"; do
        printf '      - url: %s\n        name: e%d\n        kind: vllm\n' "${URLS[$i]}" "$((i + ${NAME_OFFSET:-0}))"
        if [[ -n ${KV[$i]:-} ]]; then
            printf '        kv_events: { endpoint: "%s", replay_endpoint: "%s", topic: kv }\n' "${KV[$i]}" "${REPLAY[$i]}"
        fi
    done
    printf 'models:\n  %s:\n    pool: main\n' "$MODEL"
}

start_sglang() { # port, worker URL... (appends to PIDS)
    local port=$1 url="http://127.0.0.1:$1"
    shift
    if ! "$SGLANG_VENV_DIR/bin/python" -c 'import sglang_router' 2>/dev/null; then
        python3 -m venv "$SGLANG_VENV_DIR" && "$SGLANG_VENV_DIR/bin/pip" install -q sglang-router
    fi
    "$SGLANG_VENV_DIR/bin/python" -m sglang_router.launch_router --host 127.0.0.1 --port "$port" \
        --worker-urls "$@" --policy cache_aware --log-level warn \
        --worker-startup-check-interval 1 --prometheus-host 127.0.0.1 \
        --prometheus-port "$(free_port)" >"$TMP/sglang-$port.log" 2>&1 &
    PIDS+=($!)
    wait_http "$url/health" || { tail -20 "$TMP/sglang-$port.log" >&2; return 1; }
    # Its /health answers before its workers are admitted ("no available workers"):
    # wait until it serves a request, so none of the measured ones fail for that.
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null -H 'content-type: application/json' \
            -d "{\"model\":\"$MODEL\",\"prompt\":\"ready\",\"max_tokens\":1}" \
            "$url/v1/completions" && return 0
        sleep 0.1
    done
    echo "sglang-router did not serve a request within 30 s" >&2; tail -20 "$TMP/sglang-$port.log" >&2
    return 1
}

variant_extra() { # system -> its variant's cache_aware settings (approximate+NAME), as YAML lines
    [[ $1 == *+* ]] || return 0
    local setting settings
    IFS=, read -ra settings <<<"${VARIANTS[${1#*+}]}"
    printf '\n'
    for setting in "${settings[@]}"; do
        setting=${setting#"${setting%%[![:space:]]*}"} # leading blanks off; quotes kept
        printf '      %s\n' "$setting"
    done
}

start_system() { # system, port -> sets TARGET_URL and PIN
    local system=$1 port=$2
    PIN=""
    TARGET_URL="http://127.0.0.1:$port"
    case $system in
        round_robin | least_connections | power_of_two)
            switchyard_config "$system" "" "$port" >"$TMP/router.yaml" ;;
        approximate | approximate+*)
            switchyard_config cache_aware "$(printf '    cache_aware:\n      index: approximate\n%s%s' "${CACHE_AWARE_EXTRA:-}" "$(variant_extra "$system")")" "$port" >"$TMP/router.yaml" ;;
        events | events+*)
            switchyard_config cache_aware "$(printf '    cache_aware:\n      index: events\n      block_tokens: %s\n      tokenizer: { %s }\n%s%s' "$BLOCK_TOKENS" "$TOKENIZER" "${CACHE_AWARE_EXTRA:-}" "$(variant_extra "$system")")" "$port" >"$TMP/router.yaml" ;;
        oracle)
            TARGET_URL=$(IFS=,; echo "${URLS[*]}"); PIN=--pin-prefixes; return 0 ;;
        oracle_routed)
            # The oracle's pinning, each engine behind its own Switchyard: what the router in
            # the path costs, apart from its routing.
            local all=("${URLS[@]}") kv_all=("${KV[@]}") replay_all=("${REPLAY[@]}") targets=() i p
            for i in "${!all[@]}"; do
                p=$(free_port)
                URLS=("${all[$i]}") KV=() REPLAY=() # round_robin reads no KV events
                NAME_OFFSET=$i switchyard_config round_robin "" "$p" >"$TMP/router-pinned-$i.yaml"
                "$BIN" serve --config "$TMP/router-pinned-$i.yaml" >"$TMP/router-pinned-$i.log" 2>&1 &
                PIDS+=($!)
                targets+=("http://127.0.0.1:$p")
            done
            URLS=("${all[@]}") KV=("${kv_all[@]}") REPLAY=("${replay_all[@]}")
            for p in "${targets[@]}"; do wait_http "$p/health"; done
            TARGET_URL=$(IFS=,; echo "${targets[*]}"); PIN=--pin-prefixes; return 0 ;;
        sglang)
            start_sglang "$port" "${URLS[@]}"; return ;;
        oracle_sglang)
            # The oracle's pinning, each engine behind its own sglang-router.
            local targets=() u p
            for u in "${URLS[@]}"; do
                p=$(free_port)
                start_sglang "$p" "$u" || return 1
                targets+=("http://127.0.0.1:$p")
            done
            TARGET_URL=$(IFS=,; echo "${targets[*]}"); PIN=--pin-prefixes; return 0 ;;
        *) echo "unknown system $system" >&2; return 1 ;;
    esac
    "$BIN" serve --config "$TMP/router.yaml" >"$TMP/router-$system.log" 2>&1 &
    PIDS+=($!)
    wait_http "$TARGET_URL/health" || { tail -20 "$TMP/router-$system.log" >&2; return 1; }
    sleep 0.5 # KV-event subscriptions settle
}

if [[ -n $RATE ]]; then LOAD=(--rate "$RATE"); else LOAD=(--concurrency "$CONCURRENCY"); fi
scrapes=()
for i in "${!URLS[@]}"; do scrapes+=(--scrape "e$i=${URLS[$i]}/metrics"); done
((FIRST_ROUND == 1)) && rm -f "$OUT"/*.json
# One unrecorded pass straight to the engines first, so no system measures the engines'
# first requests (the caches are reset before each system anyway).
"$BIN" bench --url "$(IFS=,; echo "${URLS[*]}")" --pin-prefixes --model "$MODEL" --no-progress \
    --seed 1 --workload shared-prefix --groups "$GROUP_COUNT" --users "$USERS" \
    --prefix-len "$PREFIX_LEN" --suffix-len "$SUFFIX_LEN" --output-len "$OUTPUT_LEN" \
    --concurrency 2 --requests 16 --warmup-requests 0 --out "$TMP/warmup.json" >/dev/null
for round in $(seq "$FIRST_ROUND" $((FIRST_ROUND + REPEAT - 1))); do
for system in $SYSTEMS; do
    for u in "${URLS[@]}"; do curl -sf -X POST "$u/reset_prefix_cache" -o /dev/null; done
    port=$(free_port)
    start_system "$system" "$port"
    echo "== round $round: $system" >&2
    # shellcheck disable=SC2086
    "$BIN" bench --url "$TARGET_URL" $PIN --model "$MODEL" --no-progress --seed $((10 + round)) \
        --workload shared-prefix --groups "$GROUP_COUNT" --users "$USERS" --prefix-len "$PREFIX_LEN" \
        --suffix-len "$SUFFIX_LEN" --output-len "$OUTPUT_LEN" --skew "$SKEW" "${UNIQUE[@]}" \
        "${LOAD[@]}" --requests "$REQUESTS" --warmup-requests 0 \
        "${scrapes[@]}" --out "$OUT/$system-r$round.json" >/dev/null
    if [[ -n ${ROUTER_LOG:-} && -f $TMP/router-$system.log ]]; then cp "$TMP/router-$system.log" "$OUT/"; fi
    case $system in
        oracle) ;;
        oracle_routed | oracle_sglang) for _ in "${URLS[@]}"; do kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'; done ;;
        *) kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]' ;;
    esac
done
done
python3 "$ROOT/scripts/bench/prefix_table.py" "$OUT" $SYSTEMS | tee "$OUT/table.md"
