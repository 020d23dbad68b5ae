#!/usr/bin/env bash
# End-to-end check of the vLLM scripts: start 2 instances, a completion and a chat completion on
# each, /metrics has vllm:num_requests_running, stop one (it must go down), restart it on the same
# port, stop all. About 70 s warm. Exit 0 only if every check passed.
#   scripts/vllm/smoke.sh [WORKDIR]        (default: a temporary directory, removed at the end)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
V="$ROOT/scripts/vllm"
WORK="${1:-}"
if [[ -z "$WORK" ]]; then
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/vllm-smoke.XXXXXX")"
  trap '"$V/stop.sh" --state "$WORK/state.json" || true; rm -rf "$WORK"' EXIT
else
  mkdir -p "$WORK"
  trap '"$V/stop.sh" --state "$WORK/state.json" || true' EXIT
fi
STATE="$WORK/state.json"
pass=0 fail=0
check() { # check NAME COMMAND...
  if "${@:2}"; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instances"][int(sys.argv[2])][sys.argv[3]])' "$STATE" "$1" "$2"; }
completion_ok() {
  curl -sf --max-time 60 "$1/v1/completions" -H 'content-type: application/json' \
    -d '{"model":"tiny-llama","prompt":"hello world","max_tokens":8}' |
    python3 -c 'import json,sys; u=json.load(sys.stdin)["usage"]; sys.exit(not (u["completion_tokens"]==8 and u["prompt_tokens"]>0 and isinstance(u["prompt_tokens_details"]["cached_tokens"],int)))'
}
chat_ok() {
  curl -sf --max-time 60 "$1/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"tiny-llama","messages":[{"role":"user","content":"hi"}],"max_tokens":4}' |
    python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not isinstance(r["choices"][0]["message"]["content"], str))'
}
metrics_ok() { curl -sf --max-time 10 "$1/metrics" | grep -q '^vllm:num_requests_running{'; }
down() { ! curl -sf --max-time 2 "$1/health" >/dev/null; }

t0=$SECONDS
"$V/start.sh" --state "$STATE" --count 2 >/dev/null
echo "started 2 instances in $((SECONDS - t0)) s"
for i in 0 1; do
  url="$(field "$i" url)"
  check "instance $i completion" completion_ok "$url"
  check "instance $i chat" chat_ok "$url"
  check "instance $i metrics" metrics_ok "$url"
done
url1="$(field 1 url)"
"$V/stop.sh" --state "$STATE" --index 1
check "instance 1 down after stop" down "$url1"
check "instance 0 still up" completion_ok "$(field 0 url)"
t0=$SECONDS
"$V/restart-one.sh" --state "$STATE" --index 1 >/dev/null
echo "restarted instance 1 in $((SECONDS - t0)) s"
check "instance 1 back on the same url" test "$(field 1 url)" = "$url1"
check "instance 1 completion after restart" completion_ok "$url1"
"$V/status.sh" --state "$STATE"
"$V/stop.sh" --state "$STATE"
check "all down after stop" down "$url1"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
