#!/usr/bin/env bash
# Router overhead bench: the latency Switchyard adds and its top throughput, side by side with
# vLLM's Rust router (PyPI vllm-router), SGLang's Rust router (PyPI sglang-router), nginx and
# the LiteLLM proxy (PyPI litellm[proxy], Python), all in front of the same echo upstream.
#
# Pinning: the router under test on core 0 (--router-core); the load generator and the
# upstream share core 1 (--gen-core). Everything listens on 127.0.0.1.
#
# Interleaving: every measurement is split into --rounds rounds; in each round each target
# gets one short segment (warm-up, then --duration seconds), in target order, reversed every
# other round. Reported numbers are medians across rounds; "added" is the median over rounds
# of (target - direct) from the same round. This keeps a noisy shared machine from favouring
# whichever target ran in a quiet moment. The closed-loop runs also alternate loadgen and wrk.
#
# --spin-idle keeps both cores from going idle with a SCHED_IDLE busy loop on each (it yields
# at once to any other task): on a VM an idle vCPU halts, and waking it again costs tens of
# microseconds per hop, which the router path (four cross-core hops) pays and direct does not.
# It makes p50 closer to bare metal but lengthens the direct path's p99 (same-core busy loop),
# so added p99 is not meaningful with it. The busy loops stop before the throughput runs.
#
# switchyard-busy-poll is Switchyard with `server.busy_poll: 10ms`: its worker polls instead of
# sleeping while requests arrive, which removes the two wake-ups of the router's core; it
# sleeps again 10 ms after its last request, so it does not hold core 0 while others are
# measured.
#
# Usage: scripts/bench/overhead.sh [--out FILE] [--rounds N] [--duration S] [--quick]
#        [--targets "direct switchyard switchyard-busy-poll vllm-router sglang-router nginx litellm"]
#        [--no-build]
#        [--port-base P] [--spin-idle]
# Writes FILE (default target/bench/overhead.json) and FILE with .md, and prints the tables.
# The PyPI peers go into virtual environments under .cache/venvs/ (installed on first use);
# VLLM_ROUTER_VERSION, SGLANG_ROUTER_VERSION and LITELLM_VERSION pin their versions. A target
# that cannot be installed or started is left out with a message.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/scripts/bench"
OUT="$ROOT/target/bench/overhead.json"
ROUNDS=5
DURATION=3
WARMUP=0.5
RATES="1000 2000 5000"
STREAM_RATE=1000
STREAM_DELAY_MS=2
OPEN_CONNS=32
CLOSED_CONNS=64
TARGETS="direct switchyard switchyard-busy-poll vllm-router sglang-router nginx litellm"
BUILD=1
SPIN_IDLE=0
PORT_BASE=18100
ROUTER_CORE=0
GEN_CORE=1
VENV_DIR="$ROOT/.cache/venvs/vllm-router"
SGLANG_VENV_DIR="$ROOT/.cache/venvs/sglang-router"
LITELLM_VENV_DIR="$ROOT/.cache/venvs/litellm"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) OUT=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --rates) RATES=$2; shift 2 ;;
        --targets) TARGETS=$2; shift 2 ;;
        --quick) ROUNDS=3; DURATION=2; shift ;;
        --no-build) BUILD=0; shift ;;
        --spin-idle) SPIN_IDLE=1; shift ;;
        --port-base) PORT_BASE=$2; shift 2 ;;
        --router-core) ROUTER_CORE=$2; shift 2 ;;
        --gen-core) GEN_CORE=$2; shift 2 ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done
[[ "$DURATION" =~ ^[0-9]+$ ]] || { echo "--duration takes whole seconds (wrk needs them)" >&2; exit 2; }

UPSTREAM_PORT=$((PORT_BASE + 1))
declare -A PORT=([direct]=$UPSTREAM_PORT [switchyard]=$((PORT_BASE + 2))
                 [vllm-router]=$((PORT_BASE + 3)) [nginx]=$((PORT_BASE + 4))
                 [sglang-router]=$((PORT_BASE + 6)) [litellm]=$((PORT_BASE + 7))
                 [switchyard-busy-poll]=$((PORT_BASE + 9)))
VLLM_METRICS_PORT=$((PORT_BASE + 5))
SGLANG_METRICS_PORT=$((PORT_BASE + 8))

TMP=$(mktemp -d /tmp/switchyard-bench.XXXXXX)
chmod 755 "$TMP"
RES="$TMP/results"
mkdir -p "$RES" "$(dirname "$OUT")"
STARTED=()
LAST_PID=""

cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STARTED[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ -n "${KEEP_TMP:-}" ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a command in the background with its output in $TMP/NAME.log; sets LAST_PID.
start_bg() {
    local name=$1; shift
    "$@" >"$TMP/$name.log" 2>&1 &
    LAST_PID=$!
    STARTED+=("$LAST_PID")
}

# Waits until POST /v1/chat/completions answers 200 (at most 90 s).
wait_ready() {
    local name=$1 port=$2 pid=$3 body='{"model":"bench-model","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'
    for _ in $(seq 1 450); do
        kill -0 "$pid" 2>/dev/null || { echo "$name exited; its log:" >&2; tail -20 "$TMP/$name.log" >&2; return 1; }
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 -H 'content-type: application/json' \
            -d "$body" "http://127.0.0.1:$port/v1/chat/completions" || true)
        [[ "$code" == 200 ]] && return 0
        sleep 0.2
    done
    echo "$name did not answer on port $port; its log:" >&2; tail -20 "$TMP/$name.log" >&2
    return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# shellcheck source=scripts/bench/peers.sh
source "$HERE/peers.sh"

cd "$ROOT"
if [[ $BUILD == 1 ]]; then
    cargo build --release -p switchyard-benches --bins
    if [[ " $TARGETS " == *" switchyard"* ]]; then
        cargo build --release -p switchyard --bin switchyard ||
            { echo "switchyard does not build: leaving it out" >&2; TARGETS=${TARGETS//switchyard-busy-poll/}; TARGETS=${TARGETS//switchyard/}; }
    fi
fi
need_tool() { command -v "$1" >/dev/null || { [[ $EUID == 0 ]] && { apt-get update -qq && apt-get install -y -qq "$2"; } >&2; }; }
need_tool wrk wrk || echo "wrk missing: max throughput from loadgen only" >&2
if [[ " $TARGETS " == *" nginx "* ]]; then
    need_tool nginx nginx || { echo "nginx missing: leaving it out" >&2; TARGETS=${TARGETS//nginx/}; }
fi
if [[ " $TARGETS " == *" vllm-router "* ]]; then
    ensure_vllm_router || { echo "vllm-router install failed: leaving it out" >&2; TARGETS=${TARGETS//vllm-router/}; }
fi
if [[ " $TARGETS " == *" sglang-router "* ]]; then
    ensure_sglang_router || { echo "sglang-router install failed: leaving it out" >&2; TARGETS=${TARGETS//sglang-router/}; }
fi
if [[ " $TARGETS " == *" litellm "* ]]; then
    ensure_litellm || { echo "litellm install failed: leaving it out" >&2; TARGETS=${TARGETS//litellm/}; }
fi
BIN="$ROOT/target/release"

for t in $TARGETS; do port_free "${PORT[$t]}" || { echo "port ${PORT[$t]} ($t) is taken; use --port-base" >&2; exit 1; }; done

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_BEFORE" 'BEGIN {exit !(l > 0.5)}'; then
    echo "warning: load average $LOAD_BEFORE before the bench: other work shares these cores, expect noise" >&2
fi
SPINNERS=()
if ((SPIN_IDLE)); then
    for core in "$ROUTER_CORE" "$GEN_CORE"; do
        start_bg "spin-$core" chrt -i 0 taskset -c "$core" sh -c 'while :; do :; done'
        SPINNERS+=("$LAST_PID")
    done
fi
declare -A PID
start_bg upstream taskset -c "$GEN_CORE" "$BIN/echo-upstream" --port "$UPSTREAM_PORT" \
    --workers 1 --stream-delay-ms "$STREAM_DELAY_MS"
PID[direct]=$LAST_PID
wait_ready upstream "$UPSTREAM_PORT" "${PID[direct]}"
READY=(direct)
for t in $TARGETS; do
    case $t in
        direct) continue ;;
        switchyard) start_switchyard "${PORT[$t]}" ;;
        switchyard-busy-poll) start_switchyard "${PORT[$t]}" 10ms switchyard-busy-poll ;;
        vllm-router) start_vllm_router "${PORT[$t]}" "$VLLM_METRICS_PORT" ;;
        sglang-router) start_sglang_router "${PORT[$t]}" "$SGLANG_METRICS_PORT" ;;
        nginx) start_nginx "${PORT[$t]}" ;;
        litellm) start_litellm "${PORT[$t]}" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    PID[$t]=$LAST_PID
    if wait_ready "$t" "${PORT[$t]}" "${PID[$t]}"; then READY+=("$t"); else echo "leaving $t out" >&2; fi
done
echo "targets: ${READY[*]}; router core $ROUTER_CORE, generator+upstream core $GEN_CORE" >&2

TARGET_ARGS=()
for t in "${READY[@]}"; do
    TARGET_ARGS+=(--target "$t=http://127.0.0.1:${PORT[$t]}" --pid "$t=${PID[$t]}")
done
CLK_TCK=$(getconf CLK_TCK)

# One loadgen run over all targets: NAME then loadgen flags.
loadgen() {
    local name=$1; shift
    echo "== $name" >&2
    timeout 900 taskset -c "$GEN_CORE" "$BIN/loadgen" "${TARGET_ARGS[@]}" --baseline direct \
        --rounds "$ROUNDS" --duration "$DURATION" --warmup "$WARMUP" --clk-tck "$CLK_TCK" "$@" \
        >"$RES/$name.json"
}

for rate in $RATES; do
    loadgen "open-$rate" --mode open --rate "$rate" --connections "$OPEN_CONNS"
done
loadgen "stream-$STREAM_RATE" --mode open --rate "$STREAM_RATE" --stream --connections "$CLOSED_CONNS"

# Cross-check with the project's bench tool: its A/B mode, direct vs Switchyard, same rounds.
if [[ " ${READY[*]} " == *" switchyard "* ]]; then
    echo "== switchyard bench A/B at 2000 req/s" >&2
    timeout 300 taskset -c "$GEN_CORE" "$BIN/switchyard" bench --url "http://127.0.0.1:${PORT[switchyard]}" \
        --direct-url "http://127.0.0.1:${PORT[direct]}" --model bench-model --no-stream --no-progress \
        --threads 1 --rate 2000 --arrivals constant --duration "${DURATION}s" --warmup "${WARMUP}s" \
        --rounds "$ROUNDS" --input-len 3 --output-len 8 --out "$RES/bench-ab.json" >/dev/null 2>"$TMP/bench-ab.log" ||
        echo "switchyard bench A/B failed: $(tail -2 "$TMP/bench-ab.log")" >&2
fi

# The busy loops are for the latency runs only: they cost vllm-router ~25% of its throughput.
for pid in "${SPINNERS[@]}"; do kill "$pid" 2>/dev/null || true; done

# Max throughput: closed loop, 64 connections, with loadgen and with wrk (one thread). Both
# generators are interleaved with each other as well as over targets, so that a burst of
# other work on the machine does not land on one of them only.
HAVE_WRK=0; command -v wrk >/dev/null && HAVE_WRK=1
: >"$RES/closed.jsonl"; : >"$RES/wrk.jsonl"
echo "== closed loop (loadgen$( ((HAVE_WRK)) && echo " and wrk"))" >&2
closed_loadgen() {
    timeout 300 taskset -c "$GEN_CORE" "$BIN/loadgen" --mode closed --connections "$CLOSED_CONNS" \
        --target "$1=http://127.0.0.1:${PORT[$1]}" --pid "$1=${PID[$1]}" --rounds 1 \
        --duration "$DURATION" --warmup "$WARMUP" --clk-tck "$CLK_TCK" >>"$RES/closed.jsonl"
}
closed_wrk() {
    local out rps non2xx sockerr
    out=$(timeout 120 taskset -c "$GEN_CORE" wrk -t1 -c"$CLOSED_CONNS" -d"${DURATION}s" \
        -s "$HERE/post.lua" "http://127.0.0.1:${PORT[$1]}/v1/chat/completions" 2>&1 || true)
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    sockerr=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out")
    printf '{"target":"%s","round":%d,"rps":%s,"non2xx":%s,"socket_errors":%s}\n' \
        "$1" "$2" "${rps:-null}" "${non2xx:-0}" "${sockerr:-0}" >>"$RES/wrk.jsonl"
    echo "wrk          ${rps:-?} req/s ($1, round $2)" >&2
}
for ((round = 1; round <= ROUNDS; round++)); do
    order=("${READY[@]}")
    if ((round % 2 == 0)); then
        order=(); for ((i = ${#READY[@]} - 1; i >= 0; i--)); do order+=("${READY[$i]}"); done
    fi
    for t in "${order[@]}"; do
        if ((HAVE_WRK && round % 2 == 0)); then closed_wrk "$t" "$round"; fi
        closed_loadgen "$t"
        if ((HAVE_WRK && round % 2 == 1)); then closed_wrk "$t" "$round"; fi
    done
done

threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo null; }
cat >"$RES/meta.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "cpus": $(nproc), "router_core": $ROUTER_CORE,
 "generator_core": $GEN_CORE, "rounds": $ROUNDS, "duration_s": $DURATION, "warmup_s": $WARMUP,
 "open_connections": $OPEN_CONNS, "closed_connections": $CLOSED_CONNS,
 "spin_idle": $( ((SPIN_IDLE)) && echo true || echo false), "stream_rate": $STREAM_RATE, "stream_chunk_delay_ms": $STREAM_DELAY_MS,
 "targets": "$(echo "${READY[*]}")",
 "loadavg_before": $LOAD_BEFORE, "loadavg_after": $(cut -d' ' -f1 /proc/loadavg),
 "git_rev": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)",
 "nginx": "$(nginx -v 2>&1 | sed 's/.*\///')", "wrk": "$(wrk -v 2>&1 | head -1 | awk '{print $2}')",
 "vllm_router": "$(vllm_router_version || true)",
 "vllm_router_flags": "$VLLM_ROUTER_FLAGS, TOKIO_WORKER_THREADS=1, taskset -c $ROUTER_CORE",
 "sglang_router": "$(sglang_router_version || true)",
 "sglang_router_flags": "$SGLANG_ROUTER_FLAGS, TOKIO_WORKER_THREADS=1, taskset -c $ROUTER_CORE",
 "litellm": "$(litellm_version || true)",
 "litellm_flags": "$LITELLM_FLAGS, $LITELLM_CONFIG_NOTE, env $LITELLM_ENV, taskset -c $ROUTER_CORE",
 "threads": {$(for t in "${READY[@]}"; do printf '"%s": %s,' "$t" "$(threads_of "${PID[$t]}")"; done | sed 's/,$//')}}
EOF

python3 "$HERE/report.py" "$RES" "$OUT"
