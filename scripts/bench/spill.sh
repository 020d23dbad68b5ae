#!/usr/bin/env bash
# Spill-over at twice the local capacity, on two real vLLM CPU instances (sharing CPU 0) and a
# FAKE OpenAI provider (switchyard-fakes): measures the local capacity (closed loop, 16 users),
# offers twice that (Poisson, 30 s after a 5 s warm-up), then a quarter of it (30 s), and prints
# the figures README quotes. The test asserts them: no failed request, spilled share within 0.10
# of the excess, local p99 TTFT within the 2 s target, no spill later than two evaluation periods
# after the load drops.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
scripts/vllm/install.sh >/dev/null
cargo test --locked -p switchyard-tests --test real_vllm_spill -- --ignored --nocapture 2>&1 \
  | tee /dev/stderr | grep '^SPILL_RESULTS' | sed 's/^SPILL_RESULTS //'
