#!/usr/bin/env bash
# Latency the router adds to KServe v2 infer calls, over gRPC and HTTP, in front of one real
# Triton (scripts/triton, model add_sub). Open loop at --rate req/s; targets interleaved in
# --rounds rounds (direct, then through Switchyard, reversed every other round); "added" is the
# median over rounds of (switchyard - direct) in the same round. The router runs on core 0 with
# one worker; the load generators on core 1; Triton floats.
#   scripts/bench/kserve-overhead.sh [--rate 1000] [--rounds 5] [--duration 3]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RATE=1000 ROUNDS=5 DURATION=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rate) RATE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cargo build --release --locked -p switchyard -p switchyard-benches --bins >&2
WORK="$(mktemp -d)"
STATE="$WORK/triton.json"
ROUTER_PID=""
cleanup() {
  [[ -n "$ROUTER_PID" ]] && kill "$ROUTER_PID" 2>/dev/null || true
  scripts/triton/stop.sh --state "$STATE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
eval "$(scripts/triton/start.sh --state "$STATE" --count 1 | grep '^TRITON_0_' | sed 's/^/export /')"
PORT="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
cat >"$WORK/router.yaml" <<YAML
listeners: [{address: "127.0.0.1:$PORT"}]
server: {workers: 1}
pools:
  triton:
    policy: least_connections
    endpoints:
      - {url: "$TRITON_0_HTTP_URL", grpc_url: "$TRITON_0_GRPC_URL", metrics_url: "${TRITON_0_METRICS_URL%/metrics}", kind: triton}
models:
  add_sub: {pool: triton}
YAML
taskset -c 0 target/release/switchyard serve -c "$WORK/router.yaml" >"$WORK/router.log" 2>&1 &
ROUTER_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break; sleep 0.1; done
echo '{"inputs":[{"name":"INPUT0","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]},{"name":"INPUT1","shape":[1,4],"datatype":"FP32","data":[0.5,0.5,0.5,0.5]}]}' >"$WORK/infer.json"
echo "== KServe v2 gRPC ModelInfer, $RATE req/s"
taskset -c 1 target/release/grpc-loadgen --rate "$RATE" --duration "$DURATION" --rounds "$ROUNDS" \
  --target "direct=$TRITON_0_GRPC_URL" --target "switchyard=http://127.0.0.1:$PORT" >/dev/null
echo "== KServe v2 HTTP /v2/models/add_sub/infer, $RATE req/s"
taskset -c 1 target/release/loadgen --mode open --rate "$RATE" --duration "$DURATION" --rounds "$ROUNDS" \
  --path /v2/models/add_sub/infer --body-file "$WORK/infer.json" \
  --target "direct=$TRITON_0_HTTP_URL" --target "switchyard=http://127.0.0.1:$PORT" >/dev/null
