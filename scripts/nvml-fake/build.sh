#!/usr/bin/env bash
# Builds the FAKE NVML library (fake_nvml.c, for tests on machines without a GPU) as
# OUT_DIR/libnvidia-ml.so.1 and prints that path as the last line on stdout.
#
#   scripts/nvml-fake/build.sh OUT_DIR
#
# The official nvml.h comes from the PyPI wheel nvidia-nvml-dev==13.5.37, downloaded once
# (pip download --no-deps) into ${SWITCHYARD_CACHE_DIR:-ROOT/.cache}/nvml-dev-13.5.37 and
# reused from there. The library is rebuilt only when fake_nvml.c, the header or this script
# is newer than it. Progress goes to stderr.
#
# Use: SWITCHYARD_FAKE_NVML_STATE=/path/state  and load OUT_DIR/libnvidia-ml.so.1, e.g.
# Nvml::builder().lib_path(path).init(). See the top of fake_nvml.c for the state format.
#
# Env: SWITCHYARD_CACHE_DIR, SWITCHYARD_PYTHON (default python3), CC (default gcc).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NVML_DEV_VERSION=13.5.37

log() { printf '[nvml-fake] %s\n' "$*" >&2; }
die() {
  printf '[nvml-fake] error: %s\n' "$*" >&2
  exit 1
}

[[ $# -eq 1 && -n "$1" ]] || die "usage: $0 OUT_DIR"
OUT_DIR="$1"

CC="${CC:-gcc}"
command -v "$CC" >/dev/null 2>&1 ||
  die "C compiler '$CC' not found (install gcc, e.g. apt-get install gcc, or set CC)"

CACHE="${SWITCHYARD_CACHE_DIR:-$ROOT/.cache}/nvml-dev-$NVML_DEV_VERSION"
INCLUDE="$CACHE/include"
HEADER="$INCLUDE/nvml.h"

fetch_header() {
  local py="${SWITCHYARD_PYTHON:-python3}" pip=()
  if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then
    pip=("$py" -m pip)
  elif command -v pip3 >/dev/null 2>&1; then
    pip=(pip3)
  elif command -v pip >/dev/null 2>&1; then
    pip=(pip)
  else
    die "pip is not available ($py -m pip, pip3, pip): needed once to download nvidia-nvml-dev==$NVML_DEV_VERSION for nvml.h"
  fi
  command -v "$py" >/dev/null 2>&1 || py=python3
  mkdir -p "$CACHE"
  local tmp
  tmp="$(mktemp -d "$CACHE/download.XXXXXX")"
  # The wheel holds only a header; ask for the x86_64 one on any host so the download
  # does not depend on this machine's platform.
  log "downloading nvidia-nvml-dev==$NVML_DEV_VERSION (for nvml.h) into $CACHE"
  if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "${pip[@]}" download --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 --progress-bar off \
    -d "$tmp" "nvidia-nvml-dev==$NVML_DEV_VERSION" 1>&2; then
    rm -rf "$tmp"
    die "could not download nvidia-nvml-dev==$NVML_DEV_VERSION from PyPI (offline? proxy?); alternatively put nvml.h at $HEADER"
  fi
  local wheel=""
  for wheel in "$tmp"/nvidia_nvml_dev-*.whl; do break; done
  [[ -f "$wheel" ]] || {
    rm -rf "$tmp"
    die "pip download produced no nvidia_nvml_dev wheel in $tmp"
  }
  # Extract just the header (python's zipfile: no dependency on unzip).
  if ! "$py" - "$wheel" "$tmp/nvml.h" <<'EOF'; then
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith("/include/nvml.h")]
    if not names:
        sys.exit("no include/nvml.h in " + wheel)
    with open(out, "wb") as f:
        f.write(z.read(names[0]))
EOF
    rm -rf "$tmp"
    die "could not extract nvml.h from $wheel"
  fi
  mkdir -p "$INCLUDE"
  mv -f "$tmp/nvml.h" "$HEADER" # atomic: a complete header or none
  cp -f "$wheel" "$CACHE/" 2>/dev/null || true
  rm -rf "$tmp"
  log "nvml.h cached at $HEADER"
}

[[ -s "$HEADER" ]] || fetch_header

SRC="$HERE/fake_nvml.c"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
LIB="$OUT_DIR/libnvidia-ml.so.1"

if [[ -f "$LIB" && ! "$SRC" -nt "$LIB" && ! "$HEADER" -nt "$LIB" && ! "${BASH_SOURCE[0]}" -nt "$LIB" ]]; then
  log "up to date: $LIB"
else
  log "compiling $SRC"
  tmp_lib="$OUT_DIR/.libnvidia-ml.so.1.$$"
  # NVML_NO_UNVERSIONED_FUNC_DEFS: keep nvml.h from #defining nvmlInit -> nvmlInit_v2 etc.,
  # so the unversioned and the _v2 entry points can both be defined.
  if ! "$CC" -shared -fPIC -O2 -Wall -Werror -fvisibility=hidden -pthread \
    -DNVML_NO_UNVERSIONED_FUNC_DEFS -I"$INCLUDE" \
    -Wl,-soname,libnvidia-ml.so.1 -o "$tmp_lib" "$SRC" -ldl; then
    rm -f "$tmp_lib"
    die "compiling $SRC failed"
  fi
  # Every entry point the tests rely on must be exported.
  if command -v nm >/dev/null 2>&1; then
    exported="$(nm -D --defined-only "$tmp_lib" | awk '{print $NF}')"
    missing=()
    for sym in nvmlInit_v2 nvmlInitWithFlags nvmlShutdown nvmlErrorString \
      nvmlSystemGetDriverVersion nvmlSystemGetNVMLVersion nvmlDeviceGetCount_v2 \
      nvmlDeviceGetHandleByIndex_v2 nvmlDeviceGetIndex nvmlDeviceGetName nvmlDeviceGetUUID \
      nvmlDeviceGetMemoryInfo nvmlDeviceGetMemoryInfo_v2 nvmlDeviceGetUtilizationRates \
      nvmlDeviceGetTemperature nvmlDeviceGetPowerUsage nvmlDeviceGetCurrentClocksThrottleReasons \
      nvmlDeviceGetCurrentClocksEventReasons nvmlDeviceGetTotalEccErrors; do
      grep -qx "$sym" <<<"$exported" || missing+=("$sym")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
      rm -f "$tmp_lib"
      die "symbols not exported: ${missing[*]}"
    fi
  else
    log "nm not found; skipping the exported-symbol check"
  fi
  mv -f "$tmp_lib" "$LIB" # atomic, so a program loading it never sees half a file
  log "built $LIB"
fi

printf '%s\n' "$LIB"
