#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit and simulator
# tests (the bench tool's included), the OpenAI SDK compatibility tests, and
# the tests against two real vLLM instances, the router's and switchyard
# bench's, and against two real Triton and two real TorchServe servers (each
# installed on first use; a missing or broken server fails the run, it is
# never skipped).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
step() { printf '\n==> %s\n' "$*"; }

# The bench report's charts are drawn with a TrueType font (DejaVu Sans).
if [[ -z "${SWITCHYARD_FONT:-}" && ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then
  step "installing fonts-dejavu-core (chart font for switchyard bench reports)"
  if [[ $EUID == 0 ]]; then
    apt-get update -qq && apt-get install -y -qq fonts-dejavu-core
  else
    echo "no chart font: install fonts-dejavu-core or set SWITCHYARD_FONT" >&2; exit 1
  fi
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit and simulator integration tests"
cargo test --workspace --locked

step "OpenAI Python SDK through the router"
# `cargo test` builds a package's binary only for that package's own tests;
# --workspace keeps the feature set (and so the build cache) of the tests.
cargo build --locked --workspace --bins
scripts/sdk-test.sh "$ROOT/target/debug/switchyard"

step "real vLLM (CPU): behind the router, under switchyard bench, embeddings batched by the router, and spill-over at twice the local capacity"
scripts/vllm/install.sh >/dev/null
cargo test --locked -p switchyard-tests --test real_vllm --test real_vllm_bench --test real_vllm_kv --test real_vllm_embeddings --test real_vllm_spill -- --ignored --test-threads=1

step "real Triton and TorchServe: their own clients (HTTP and gRPC) through the router"
scripts/triton/install.sh >/dev/null
scripts/torchserve/install.sh >/dev/null
cargo test --locked -p switchyard-tests --test real_triton --test real_torchserve -- --ignored --test-threads=1
