# shellcheck shell=bash
# Cached Python virtual environments, keyed by the hash of a pinned requirements file.
#
#   source "$ROOT/scripts/lib/venv.sh"
#   ensure_venv NAME REQUIREMENTS_FILE [extra pip install args...]
#
# Creates (if absent) .cache/venvs/NAME-<hash> under the repository root and installs
# REQUIREMENTS_FILE into it, with the shared pip cache .cache/pip. The hash covers the file's
# bytes, the extra pip args and the Python version, so editing the pins makes a new venv.
# On success it prints the venv path on stdout (pip's output goes to stderr) and sets and
# exports VENV_DIR (and SWITCHYARD_VENV_<NAME>). Both forms work:
#   ensure_venv tests tests/python/requirements.txt >/dev/null; "$VENV_DIR/bin/pytest" ...
#   dir="$(ensure_venv tests tests/python/requirements.txt)"
#
# Idempotent and safe to rerun or run concurrently: a flock serialises builders of one key,
# and a marker file written last says the venv is complete; a venv without it (an interrupted
# run) is deleted and rebuilt. Venvs are built in place (they are not relocatable).
# Older venvs of the same NAME are deleted after a successful build unless
# SWITCHYARD_KEEP_OLD_VENVS=1 (the vLLM one is about 6 GB).
#
# Env: SWITCHYARD_PYTHON (default python3), SWITCHYARD_CACHE_DIR (default ROOT/.cache).

SWITCHYARD_ROOT="${SWITCHYARD_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export SWITCHYARD_ROOT

_venv_log() { printf '[venv] %s\n' "$*" >&2; }

# venv_key NAME REQUIREMENTS_FILE [extra args...]: prints NAME-<16 hex digits>.
venv_key() {
  local name="$1" req="$2"
  shift 2
  local py="${SWITCHYARD_PYTHON:-python3}" pyver
  pyver="$("$py" -c 'import sys,platform;print(platform.python_implementation(),*sys.version_info[:3],platform.machine())')"
  local h
  h="$({ cat "$req"; printf '\0args:'; printf '%s\0' "$@"; printf '\0python:%s\n' "$pyver"; } |
    sha256sum | cut -c1-16)"
  printf '%s-%s\n' "$name" "$h"
}

# Explicit `|| return` on every step: `set -e` does not apply inside a function whose status
# the caller tests, so it cannot be relied on here.
_venv_build() {
  local dir="$1" req="$2" py="$3" cache="$4" marker="$5" key="$6"
  shift 6
  local start=$SECONDS
  if [[ -e "$dir" ]]; then
    _venv_log "removing incomplete venv $dir"
    rm -rf "$dir" || return 1
  fi
  _venv_log "creating $dir from $req"
  "$py" -m venv "$dir" || return 1
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/bin/python" -m pip install \
    --cache-dir "$cache/pip" --progress-bar off -r "$req" "$@" 1>&2 || return 1
  printf 'key=%s\nrequirements=%s\nargs=%s\ncreated=%s\n' \
    "$key" "$req" "$*" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$marker.tmp" || return 1
  mv -f "$marker.tmp" "$marker" || return 1 # atomic: the venv counts as built only now
  _venv_log "built $key in $((SECONDS - start)) s"
}

ensure_venv() {
  if [[ $# -lt 2 ]]; then
    _venv_log "usage: ensure_venv NAME REQUIREMENTS_FILE [extra pip args...]"
    return 2
  fi
  local name="$1" req="$2"
  shift 2
  if [[ ! "$name" =~ ^[A-Za-z0-9_.-]+$ ]]; then
    _venv_log "bad venv name: $name"
    return 2
  fi
  if [[ ! -f "$req" ]]; then
    _venv_log "requirements file not found: $req"
    return 2
  fi
  local py="${SWITCHYARD_PYTHON:-python3}"
  local cache="${SWITCHYARD_CACHE_DIR:-$SWITCHYARD_ROOT/.cache}"
  local key dir marker lockfile
  key="$(venv_key "$name" "$req" "$@")" || return 1
  dir="$cache/venvs/$key"
  marker="$dir/.switchyard-venv-complete"
  lockfile="$cache/venvs/.$key.lock"
  mkdir -p "$cache/venvs" "$cache/pip" || return 1

  if [[ ! -f "$marker" ]]; then
    local fd rc=0
    exec {fd}>"$lockfile" || return 1
    flock -x "$fd" || { exec {fd}>&-; return 1; }
    if [[ ! -f "$marker" ]]; then # re-check: another process may have finished it
      _venv_build "$dir" "$req" "$py" "$cache" "$marker" "$key" "$@" || rc=$?
    fi
    exec {fd}>&-
    if [[ $rc -ne 0 ]]; then
      _venv_log "failed to build $dir (exit $rc)"
      return "$rc"
    fi
    if [[ "${SWITCHYARD_KEEP_OLD_VENVS:-0}" != 1 ]]; then
      local old
      for old in "$cache/venvs/$name"-*; do
        [[ -d "$old" && "$old" != "$dir" && "$(basename "$old")" =~ ^"$name"-[0-9a-f]{16}$ ]] || continue
        _venv_log "removing old venv $old"
        rm -rf "$old" "$cache/venvs/.$(basename "$old").lock"
      done
    fi
  fi

  VENV_DIR="$dir"
  export VENV_DIR
  local var="SWITCHYARD_VENV_${name//[^A-Za-z0-9_]/_}"
  printf -v "$var" '%s' "$dir"
  export "${var?}"
  printf '%s\n' "$dir"
}
