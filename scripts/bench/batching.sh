#!/usr/bin/env bash
# Router-side batching, measured: closed-loop clients at concurrency 1, 8 and 64 against
#   direct   the server itself,
#   router   Switchyard without batching,
#   batched  Switchyard batching the model (max_batch_size 64, max_queue_delay 5ms),
# interleaved in --rounds rounds (loadgen reverses the order every other round).
#   triton:     fixed_cost on one real Triton (20 ms per execute() call whatever its batch size,
#               no dynamic_batching), KServe v2 HTTP infer of one [1, 8] FP32 row;
#   embeddings: all-MiniLM-L6-v2 on one real vLLM CPU instance, /v1/embeddings of one sentence
#               (vLLM batches internally: the gain is fewer calls).
#   scripts/bench/batching.sh [--only triton|embeddings] [--rounds 2] [--duration 5] [--out FILE]
#                             [--no-eager]   (eager_when_quiet: false: every request waits for its batch)
# Writes a Markdown table (stdout, and --out if given).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ONLY="" ROUNDS=2 DURATION=5 OUT="" EAGER=true
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) ONLY="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-eager) EAGER=false; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cargo build --release --locked -p switchyard -p switchyard-benches --bins >&2
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/triton/stop.sh --state "$WORK/triton.json" >/dev/null 2>&1 || true
  scripts/vllm/stop.sh --state "$WORK/vllm.json" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# start_router NAME YAML_BODY: runs a router on a free port; prints its URL.
start_router() {
  local name="$1" port
  port="$(free_port)"
  printf 'listeners: [{address: "127.0.0.1:%s"}]\nlogging: {level: warn}\n%s' "$port" "$2" >"$WORK/$name.yaml"
  target/release/switchyard serve -c "$WORK/$name.yaml" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  echo "http://127.0.0.1:$port"
}

# run_levels LABEL PATH BODY_FILE TARGET...: one loadgen run per concurrency; JSON lines to $WORK/LABEL.jsonl.
run_levels() {
  local label="$1" path="$2" body="$3"; shift 3
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  for c in 1 8 64; do
    echo "== $label, concurrency $c" >&2
    target/release/loadgen --mode closed --connections "$c" --duration "$DURATION" --warmup 1 \
      --rounds "$ROUNDS" --path "$path" --body-file "$body" "${targets[@]}" \
      | python3 -c 'import json,sys; r=json.load(sys.stdin); r["concurrency"]='"$c"'; print(json.dumps(r))' \
      >>"$WORK/$label.jsonl"
  done
}

if [[ -z "$ONLY" || "$ONLY" == triton ]]; then
  eval "$(scripts/triton/start.sh --state "$WORK/triton.json" --count 1 | grep '^TRITON_0_' | sed 's/^/export /')"
  POOL="pools:
  triton:
    endpoints:
      - {url: \"$TRITON_0_HTTP_URL\", grpc_url: \"$TRITON_0_GRPC_URL\", kind: triton}
models:
  fixed_cost:
    pool: triton
"
  PLAIN="$(start_router plain "$POOL")"
  BATCHED="$(start_router batched "$POOL    batching: {max_batch_size: 64, max_queue_delay: 5ms, max_queued: 4096, eager_when_quiet: $EAGER}
")"
  for _ in $(seq 100); do
    curl -s "$BATCHED/metrics" | grep -q '^switchyard_batch_max_rows{model="fixed_cost"} 64' && break; sleep 0.1
  done
  python3 -c 'import json; print(json.dumps({"inputs":[{"name":"INPUT","shape":[1,8],"datatype":"FP32","data":[0.5,1,1.5,2,2.5,3,3.5,4]}]}))' >"$WORK/fixed_cost.json"
  run_levels triton /v2/models/fixed_cost/infer "$WORK/fixed_cost.json" \
    "direct=$TRITON_0_HTTP_URL" "router=$PLAIN" "batched=$BATCHED"
  scripts/triton/stop.sh --state "$WORK/triton.json" >/dev/null
fi

if [[ -z "$ONLY" || "$ONLY" == embeddings ]]; then
  scripts/vllm/install.sh >/dev/null
  eval "$(scripts/vllm/start.sh --state "$WORK/vllm.json" --count 1 --embedding | grep '^VLLM_0_URL\|^VLLM_MODEL' | sed 's/^/export /')"
  MODEL_DIR="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"])' "$WORK/vllm.json")"
  POOL="pools:
  minilm:
    endpoints:
      - {url: \"$VLLM_0_URL\", kind: vllm}
models:
  $VLLM_MODEL:
    pool: minilm
"
  PLAIN="$(start_router eplain "$POOL")"
  BATCHED="$(start_router ebatched "$POOL    batching: {max_batch_size: 64, max_queue_delay: 5ms, max_queued: 4096, eager_when_quiet: $EAGER, tokenizer: \"$MODEL_DIR\"}
")"
  python3 -c 'import json,sys; print(json.dumps({"model": sys.argv[1], "input": "Switchyard routes each request to the replica that will serve it best."}))' "$VLLM_MODEL" >"$WORK/embed.json"
  run_levels embeddings /v1/embeddings "$WORK/embed.json" \
    "direct=$VLLM_0_URL" "router=$PLAIN" "batched=$BATCHED"
fi

python3 - "$WORK" "$OUT" <<'PY'
import json, pathlib, sys
work, out = pathlib.Path(sys.argv[1]), sys.argv[2]
lines = []
for label, title in (("triton", "Triton fixed_cost (20 ms per call, no dynamic_batching), KServe v2 HTTP"),
                     ("embeddings", "all-MiniLM-L6-v2 on vLLM CPU, /v1/embeddings")):
    path = work / f"{label}.jsonl"
    if not path.exists():
        continue
    lines += [f"**{title}**", "",
              "| concurrency | target | req/s | p50 ms | p99 ms | errors | req/s vs direct | p99 vs direct |",
              "|---|---|---|---|---|---|---|---|"]
    for row in map(json.loads, path.read_text().splitlines()):
        targets = {t["name"]: t for t in row["targets"]}
        base = targets["direct"]
        for name in ("direct", "router", "batched"):
            t = targets[name]
            rps, p50, p99 = t["rps_median"], t["latency_us"]["p50"], t["latency_us"]["p99"]
            ratio = rps / base["rps_median"] if rps and base["rps_median"] else float("nan")
            p99_ratio = p99 / base["latency_us"]["p99"] if p99 and base["latency_us"]["p99"] else float("nan")
            lines.append(f"| {row['concurrency']} | {name} | {rps:.0f} | {p50/1000:.2f} | {p99/1000:.2f} | "
                         f"{t['errors']} | {ratio:.2f}x | {p99_ratio:.2f}x |")
    lines.append("")
text = "\n".join(lines)
print(text)
if out:
    pathlib.Path(out).write_text(text + "\n")
PY
