#!/usr/bin/env bash
# The bench tool's own overhead: `switchyard bench` against a zero-delay simulator, side by side
# with `loadgen` (the project's minimal hyper client, one thread, no parsing) on the same
# simulator, interleaved over rounds. The simulator runs on --sim-core, the generators on
# --gen-core. Reports, as medians over rounds:
#   - latency floor at concurrency 1 (p50/p99): what the tool adds to every request it times;
#   - max closed-loop throughput at 64 users, as a ratio to loadgen;
#   - CPU time per request of the tool;
#   - open loop at --rate: how late the tool sends against its schedule (send lag p50/p99).
# Usage: scripts/bench/tool-overhead.sh [--rounds N] [--duration S] [--rate R] [--out FILE.md]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=3 DURATION=3 RATE=2000 OUT="$ROOT/target/bench/tool-overhead.md" PORT=18190
SIM_CORE=1 GEN_CORE=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --port) PORT=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done
cd "$ROOT"
cargo build --release --locked -p switchyard --bin switchyard -p switchyard-benches --bin loadgen >&2
BIN="$ROOT/target/release"
TMP=$(mktemp -d /tmp/switchyard-tool-overhead.XXXXXX)
SIM_PID=""
cleanup() { [[ -n "$SIM_PID" ]] && kill "$SIM_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
taskset -c "$SIM_CORE" "$BIN/switchyard" sim --zero-delay --model bench-model \
    --listen "127.0.0.1:$PORT" >"$TMP/sim.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT"
CLK_TCK=$(getconf CLK_TCK)

# The same request as loadgen sends: a short chat prompt, max_tokens 8.
bench() { # NAME, then bench flags; CPU seconds of the process go to NAME.cpu
    local name=$1; shift
    /usr/bin/env time -f "%U %S" -o "$TMP/$name.cpu" taskset -c "$GEN_CORE" "$BIN/switchyard" bench \
        --url "$URL" --model bench-model --input-len 3 --output-len 8 --no-stream --no-progress \
        --threads 1 --duration "${DURATION}s" --warmup 500ms --out "$TMP/$name.json" "$@" >/dev/null 2>"$TMP/$name.log"
}
loadgen() { # NAME, then loadgen flags
    local name=$1; shift
    taskset -c "$GEN_CORE" "$BIN/loadgen" --target "sim=$URL" --pid "sim=$SIM_PID" --clk-tck "$CLK_TCK" \
        --duration "$DURATION" --warmup 0.5 "$@" >"$TMP/$name.json" 2>/dev/null
}
for ((round = 1; round <= ROUNDS; round++)); do
    echo "round $round/$ROUNDS" >&2
    if ((round % 2)); then
        bench "bench-c1-$round" --concurrency 1; loadgen "loadgen-c1-$round" --mode closed --connections 1
        bench "bench-c64-$round" --concurrency 64; loadgen "loadgen-c64-$round" --mode closed --connections 64
    else
        loadgen "loadgen-c1-$round" --mode closed --connections 1; bench "bench-c1-$round" --concurrency 1
        loadgen "loadgen-c64-$round" --mode closed --connections 64; bench "bench-c64-$round" --concurrency 64
    fi
    bench "bench-open-$round" --rate "$RATE" --arrivals constant
done
mkdir -p "$(dirname "$OUT")"
python3 - "$TMP" "$ROUNDS" "$RATE" "$CLK_TCK" >"$OUT" <<'PY'
import json, statistics, sys
tmp, rounds, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def bench(name):
    return json.load(open(f"{tmp}/{name}.json"))["overall"]
def loadgen(name):
    return json.load(open(f"{tmp}/{name}.json"))["targets"][0]
def cpu(name, requests):
    user, sys_ = map(float, open(f"{tmp}/{name}.cpu").read().split()[-2:])
    return (user + sys_) / max(requests, 1) * 1e6
med = statistics.median
rows = []
b1 = [bench(f"bench-c1-{r}") for r in range(1, rounds + 1)]
l1 = [loadgen(f"loadgen-c1-{r}") for r in range(1, rounds + 1)]
b64 = [bench(f"bench-c64-{r}") for r in range(1, rounds + 1)]
l64 = [loadgen(f"loadgen-c64-{r}") for r in range(1, rounds + 1)]
op = [bench(f"bench-open-{r}") for r in range(1, rounds + 1)]
p50b, p50l = med(s["e2e_ms"]["p50"] * 1000 for s in b1), med(t["latency_us"]["p50"] for t in l1)
p99b, p99l = med(s["e2e_ms"]["p99"] * 1000 for s in b1), med(t["latency_us"]["p99"] for t in l1)
rps_b, rps_l = med(s["request_throughput"] for s in b64), med(t["rps_median"] for t in l64)
cpu_b = med(cpu(f"bench-c64-{r}", b64[r-1]["requests_ok"] + b64[r-1]["requests_failed"]) for r in range(1, rounds + 1))
lag50 = med(s["send_lag_ms"]["p50"] * 1000 for s in op)
lag99 = med(s["send_lag_ms"]["p99"] * 1000 for s in op)
achieved = med(s["request_throughput"] for s in op)
print(f"# switchyard bench: the tool's own overhead (zero-delay simulator, {rounds} interleaved rounds, medians)\n")
print("| figure | switchyard bench | loadgen (minimal client) | bench - loadgen or bench/loadgen |")
print("|---|---|---|---|")
print(f"| latency p50 at concurrency 1 (us) | {p50b:.0f} | {p50l:.0f} | {p50b - p50l:+.0f} us |")
print(f"| latency p99 at concurrency 1 (us) | {p99b:.0f} | {p99l:.0f} | {p99b - p99l:+.0f} us |")
print(f"| max throughput, 64 users, one thread (req/s) | {rps_b:.0f} | {rps_l:.0f} | x{rps_b / rps_l:.2f} |")
print(f"| tool CPU per request at 64 users (us) | {cpu_b:.1f} | | |")
print(f"\nOpen loop at {rate} req/s (constant arrivals): achieved {achieved:.0f} req/s; send lag p50 {lag50:.0f} us, p99 {lag99:.0f} us.")
PY
cat "$OUT"
