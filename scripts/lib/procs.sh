# Helpers for scripts that start local servers: free ports, readiness
# waits, and cleanup of everything started. Source it; bash only.

# Prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL TIMEOUT_S: waits until URL answers 2xx, or fails.
wait_http() {
  local url="$1" timeout="${2:-30}" start=$SECONDS
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if (( SECONDS - start > timeout )); then
      echo "timed out after ${timeout}s waiting for $url" >&2
      return 1
    fi
    sleep 0.2
  done
}

# Background PIDs to stop on exit; add with `started $!`.
STARTED_PIDS=()
started() { STARTED_PIDS+=("$1"); }
stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  STARTED_PIDS=()
}
