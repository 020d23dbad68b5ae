#!/usr/bin/env bash
# The official `openai` Python SDK against the router: two simulated
# engines (`switchyard sim`), one of which breaks every stream after three
# events, behind a router started from a generated config.
#   scripts/sdk-test.sh [path/to/switchyard [pytest args...]]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/procs.sh
source "$ROOT/scripts/lib/procs.sh"
BIN="${1:-}"
shift $(( $# > 0 ? 1 : 0 ))  # the rest goes to pytest
if [[ -z "$BIN" ]]; then
  cargo build --quiet -p switchyard --bin switchyard --manifest-path "$ROOT/Cargo.toml"
  BIN="$ROOT/target/debug/switchyard"
fi
[[ -x "$BIN" ]] || { echo "no switchyard binary at $BIN" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'stop_started; rm -rf "$WORK"' EXIT
# On any failure, show what the servers said.
show_logs() { for f in "$WORK"/*.log; do echo "--- $f"; tail -30 "$f"; done; }

healthy_port=$(free_port); broken_port=$(free_port); router_port=$(free_port)
"$BIN" sim --listen "127.0.0.1:$healthy_port" --model sim-model --seed 1 >"$WORK/sim-a.log" 2>&1 & started $!
"$BIN" sim --listen "127.0.0.1:$broken_port" --model sim-model --seed 2 >"$WORK/sim-b.log" 2>&1 & started $!
wait_http "http://127.0.0.1:$healthy_port/health" 30 || { show_logs; exit 1; }
wait_http "http://127.0.0.1:$broken_port/health" 30 || { show_logs; exit 1; }
curl -fsS -X POST "http://127.0.0.1:$broken_port/sim/fault" \
  -H 'content-type: application/json' -d '{"abort_stream_after":{"chunks":3}}' >/dev/null

cat >"$WORK/router.yaml" <<YAML
listeners:
  - address: 127.0.0.1:$router_port
logging:
  level: warn
retries:
  max_attempts: 1
pools:
  healthy:
    policy: least_connections
    endpoints:
      - url: http://127.0.0.1:$healthy_port
        kind: vllm
  broken:
    endpoints:
      - url: http://127.0.0.1:$broken_port
        kind: vllm
models:
  sim-model:
    pool: healthy
  failing-model:
    pool: broken
    served_name: sim-model
YAML
"$BIN" config check "$WORK/router.yaml"
"$BIN" serve --config "$WORK/router.yaml" >"$WORK/router.log" 2>&1 & started $!
wait_http "http://127.0.0.1:$router_port/ready" 30 || { show_logs; exit 1; }

SWITCHYARD_URL="http://127.0.0.1:$router_port/v1" \
SWITCHYARD_MODEL=sim-model \
SWITCHYARD_EMBED_MODEL=sim-model \
SWITCHYARD_FAILING_MODEL=failing-model \
  "$ROOT/tests/python/run.sh" "$@" || { status=$?; show_logs; exit $status; }
