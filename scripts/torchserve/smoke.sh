#!/usr/bin/env bash
# End-to-end check of the TorchServe scripts: start 2 instances, run tests/python/torchserve_clients.py
# (--direct --proto-from-jar: TorchServe's own gRPC error codes accepted) against each, Prometheus
# metrics, a short load, stop one (it and its Java must go), restart it on the same ports, stop all
# (no process of either instance may remain). About 20 s warm. Exit 0 only if every check passed.
#   scripts/torchserve/smoke.sh [WORKDIR]        (default: a temporary directory, removed at the end)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
T="$ROOT/scripts/torchserve"
WORK="${1:-}"
if [[ -z "$WORK" ]]; then
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/torchserve-smoke.XXXXXX")"
  trap '"$T/stop.sh" --state "$WORK/state.json" || true; rm -rf "$WORK"' EXIT
else
  mkdir -p "$WORK"
  trap '"$T/stop.sh" --state "$WORK/state.json" || true' EXIT
fi
STATE="$WORK/state.json"
PY="$("$T/install.sh")/bin/python"
pass=0 fail=0
check() { # check NAME COMMAND...
  if "${@:2}"; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instances"][int(sys.argv[2])][sys.argv[3]])' "$STATE" "$1" "$2"; }
clients() { "$PY" "$ROOT/tests/python/torchserve_clients.py" --http-url "$(field "$1" http_url)" \
  --grpc-url "$(field "$1" grpc_url)" --proto-from-jar --direct >"$WORK/clients-$1.log" 2>&1 ||
  { cat "$WORK/clients-$1.log"; return 1; }; }
metrics_ok() { # (no `curl | grep -q`: with pipefail, grep's early exit fails curl with SIGPIPE)
  local m
  m="$(curl -sf --max-time 10 "$1/metrics")" && grep -q '^ts_inference_requests_total{model_name="echo",' <<<"$m"
}
down() { ! curl -sf --max-time 2 "$1/ping" >/dev/null; }
# No process of instance I left: nothing names its tmpdir (Java: -Djava.io.tmpdir=..., workers: --sock-name).
gone() { ! pgrep -f -- "$(field "$1" tmpdir)" >/dev/null; }

t0=$SECONDS
"$T/start.sh" --state "$STATE" --count 2 >"$WORK/start.env"
echo "started 2 instances in $((SECONDS - t0)) s"
for i in 0 1; do
  check "instance $i client checks" clients "$i"
  check "instance $i prometheus metrics" metrics_ok "$(field "$i" metrics_url)"
done
check "load 400 over instance 0" "$PY" "$ROOT/tests/python/torchserve_clients.py" --http-url "$(field 0 http_url)" --load 400
url1="$(field 1 http_url)"
"$T/stop.sh" --state "$STATE" --index 1
check "instance 1 down after stop" down "$url1"
check "instance 1 processes gone" gone 1
check "instance 0 still up" clients 0
t0=$SECONDS
"$T/restart-one.sh" --state "$STATE" --index 1 >/dev/null
echo "restarted instance 1 in $((SECONDS - t0)) s"
check "instance 1 back on the same url" test "$(field 1 http_url)" = "$url1"
check "instance 1 client checks after restart" clients 1
"$T/status.sh" --state "$STATE"
"$T/stop.sh" --state "$STATE"
check "all down after stop" down "$url1"
check "instance 0 processes gone" gone 0
check "instance 1 processes gone" gone 1
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
