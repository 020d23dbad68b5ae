#!/usr/bin/env python3
"""Start, stop, restart and inspect local Triton Inference Server 2.51 instances for tests.
Standard library only.

The server is the standalone `tritonserver` binary shipped inside the nvidia-pytriton wheel (not the
PyTriton Python API), serving a normal model repository (default: scripts/triton/models, Python
backend models). Normally used through start.sh / stop.sh / restart-one.sh / status.sh beside this file:

    start.sh   --state FILE [--count 2] [--model-repository DIR] [--timeout 60] [-- TRITONSERVER ARGS...]
    start.sh   --state FILE --index I --restart      (same ports, same arguments)
    stop.sh    --state FILE [--index I] [--timeout 30]
    status.sh  --state FILE                          (readiness and RSS of each instance)

start prints, on stdout, for each instance i (all bound to 127.0.0.1, ports picked free):

    TRITON_<i>_HTTP_URL=http://127.0.0.1:P      KServe v2 HTTP/REST (+ generate extension)
    TRITON_<i>_GRPC_URL=http://127.0.0.1:Q      gRPC inference.GRPCInferenceService
    TRITON_<i>_GRPC_ADDR=127.0.0.1:Q            the same, as tritonclient.grpc wants it (no scheme)
    TRITON_<i>_METRICS_URL=http://127.0.0.1:R/metrics   Prometheus text
    TRITON_<i>_PID=1234

plus TRITON_STATE=FILE, TRITON_HTTP_URLS=..., TRITON_GRPC_URLS=..., TRITON_GRPC_ADDRS=... (comma
lists). Progress and failures (with the log tail) go to stderr.

The state file is JSON (written atomically; updates are serialised with FILE.lock):

    {"version": 1, "state_file": FILE, "venv": DIR, "run_dir": DIR, "model_repository": DIR,
     "backend_directory": DIR,
     "instances": [{"index": 0, "host": "127.0.0.1",
                    "http_port": P, "grpc_port": Q, "metrics_port": R,
                    "http_url": "http://127.0.0.1:P", "grpc_url": "http://127.0.0.1:Q",
                    "grpc_addr": "127.0.0.1:Q", "metrics_url": "http://127.0.0.1:R/metrics",
                    "pid": 1234, "pgid": 1234, "start_ticks": 5678,
                    "status": "running" | "stopped" | "failed" | "starting",
                    "log": ".../triton-0.log", "ready_s": 1.4, "started_at": "2026-01-01T00:00:00",
                    "argv": [...], "env": {...}}, ...]}

Traps handled (see shared/BACKENDS.md): LD_LIBRARY_PATH starts with the wheel's nvidia_pytriton.libs
and then the LIBDIR of the Python the venv was made from (else the Python backend stub links the
system libpython3.11 against the venv's stdlib and model load fails with "'_thread.RLock' object has
no attribute '_recursion_count'"); the backend directory (RUN_DIR/backends/python) holds the Python
backend and the stub for the venv's Python version; the stub ignores PYTHONPATH, so the venv's
site-packages go to model.py in SWITCHYARD_TRITON_SITE_PACKAGES (the models put it on sys.path
before importing numpy). Each instance gets its own Python-backend shared-memory prefix.

Each instance runs in its own session/process group (tritonserver forks one
triton_python_backend_stub per model instance), so stop signals the whole group: SIGTERM (Triton
then unloads its models, waiting up to --exit-timeout-secs for in-flight requests), SIGKILL after
the timeout. A pid is trusted only while its start time matches the one recorded, so a stale state
file never signals an unrelated process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from fleet_common import (  # noqa: E402
    proc_stat,
    group_members,
    owns_group,
    alive,
    signal_group,
    terminate_group,
    memory_kib,
    rss_kib,
    free_ports,
    state_lock,
    read_state,
    write_state,
    log_tail,
    find,
)
DEFAULT_MODEL_REPOSITORY = ROOT / "scripts" / "triton" / "models"
HOST = "127.0.0.1"
SITE_PACKAGES_ENV = "SWITCHYARD_TRITON_SITE_PACKAGES"


def log(msg: str) -> None:
    print(f"[triton] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes


def stop_instance(inst: dict, timeout: float) -> None:
    took = terminate_group(inst, timeout, log)
    if took is not None:
        log(f"instance {inst['index']} (http {inst['http_url']}) stopped in {took:.1f}s")
    if inst.get("status") == "stopped":
        cleanup_shm(inst)


def cleanup_shm(inst: dict) -> None:
    """Remove Python-backend shared-memory regions a killed instance left in /dev/shm."""
    prefix = inst.get("shm_prefix")
    if not prefix:
        return
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir("/dev/shm"):
            if name.startswith(prefix):
                with contextlib.suppress(OSError):
                    os.unlink(f"/dev/shm/{name}")


# ---------------------------------------------------------------- ports, state


# ---------------------------------------------------------------- the venv's Triton


def venv_layout(venv: str) -> dict:
    """Paths inside the triton venv, asked of its own python (fleet.py may run under another)."""
    code = (
        "import json, sys, sysconfig;"
        "print(json.dumps({'purelib': sysconfig.get_paths()['purelib'],"
        " 'libdir': sysconfig.get_config_var('LIBDIR'),"
        " 'pyver': '%d.%d' % sys.version_info[:2]}))"
    )
    out = subprocess.run([f"{venv}/bin/python", "-c", code], check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    site = Path(info["purelib"])
    ts = site / "pytriton" / "tritonserver"
    layout = {
        "site_packages": str(site),
        "python_libdir": info["libdir"],
        "pyver": info["pyver"],
        "tritonserver": str(ts / "bin" / "tritonserver"),
        "wheel_libs": str(site / "nvidia_pytriton.libs"),
        "backend_src": str(ts / "backends" / "python"),
        "stub": str(ts / "python_backend_stubs" / info["pyver"] / "triton_python_backend_stub"),
    }
    for key in ("tritonserver", "wheel_libs", "backend_src", "stub"):
        if not Path(layout[key]).exists():
            raise SystemExit(f"{layout[key]} missing: is {venv} the triton venv (scripts/triton/install.sh)?")
    return layout


def make_backend_dir(layout: dict, run_dir: Path) -> Path:
    """RUN_DIR/backends/python: the Python backend plus the stub for the venv's Python (Triton runs
    BACKEND_DIR/python/triton_python_backend_stub). Copies, so $ORIGIN lookups stay unambiguous."""
    backends = run_dir / "backends"
    py = backends / "python"
    py.mkdir(parents=True, exist_ok=True)
    src = Path(layout["backend_src"])
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        shutil.copy2(src / name, py / name)
    shutil.copy2(layout["stub"], py / "triton_python_backend_stub")
    return backends


# ---------------------------------------------------------------- launching


def ready(http_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{http_url}/v2/health/ready", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def launch(inst: dict) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(inst["env"])
    old = os.environ.get("LD_LIBRARY_PATH")
    if old:
        env["LD_LIBRARY_PATH"] = f"{inst['env']['LD_LIBRARY_PATH']}:{old}"
    cleanup_shm(inst)
    with open(inst["log"], "ab") as logf:
        logf.write(f"==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: http {inst['http_port']} "
                   f"grpc {inst['grpc_port']} metrics {inst['metrics_port']}\n".encode())
        logf.flush()
        proc = subprocess.Popen(
            inst["argv"],
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(Path(inst["log"]).parent),
            start_new_session=True,  # own session and process group: pgid == pid
        )
    st = proc_stat(proc.pid)
    inst.update(pid=proc.pid, pgid=proc.pid, start_ticks=st[2] if st else None, status="starting",
                started_at=time.strftime("%Y-%m-%dT%H:%M:%S"), ready_s=None)
    return proc


def wait_ready(pending: list[tuple[dict, subprocess.Popen, float]], timeout: float) -> list[dict]:
    """Wait for /v2/health/ready of each; returns the instances that failed (marked 'failed')."""
    failed = []
    todo = list(pending)
    while todo:
        for item in list(todo):
            inst, proc, t0 = item
            if ready(inst["http_url"]):
                inst["status"] = "running"
                inst["ready_s"] = round(time.monotonic() - t0, 2)
                log(f"instance {inst['index']} ready on {inst['http_url']} (grpc {inst['grpc_url']}) in "
                    f"{inst['ready_s']}s (pid {inst['pid']}, RSS {rss_kib(inst['pgid']) // 1024} MiB)")
                todo.remove(item)
            elif proc.poll() is not None:
                log(f"instance {inst['index']} exited with {proc.returncode} before it was ready; "
                    f"log {inst['log']}:\n{log_tail(inst['log'])}")
                stop_instance(inst, 10)  # reap orphaned backend stubs, if any
                inst["status"] = "failed"
                failed.append(inst)
                todo.remove(item)
            elif time.monotonic() - t0 > timeout:
                log(f"instance {inst['index']} not ready after {timeout:.0f}s; log {inst['log']}:\n"
                    f"{log_tail(inst['log'])}")
                stop_instance(inst, 10)
                inst["status"] = "failed"
                failed.append(inst)
                todo.remove(item)
        if todo:
            time.sleep(0.1)
    return failed


def set_ports(inst: dict, http: int, grpc: int, metrics: int) -> None:
    inst.update(
        http_port=http, grpc_port=grpc, metrics_port=metrics,
        http_url=f"http://{HOST}:{http}", grpc_url=f"http://{HOST}:{grpc}", grpc_addr=f"{HOST}:{grpc}",
        metrics_url=f"http://{HOST}:{metrics}/metrics",
    )
    argv = inst["base_argv"] + [
        f"--http-port={http}", f"--grpc-port={grpc}", f"--metrics-port={metrics}",
    ] + inst["extra_args"]
    inst["argv"] = argv


def build_instance(args, index: int, ports: tuple[int, int, int], layout: dict, backends: Path,
                   run_dir: Path) -> dict:
    # Unique per fleet and instance: Python-backend shm regions live in /dev/shm by name.
    shm_prefix = f"swy-triton-{os.getpid()}-{index}-"
    base_argv = [
        layout["tritonserver"],
        f"--model-repository={args.model_repository}",
        f"--backend-directory={backends}",
        f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
        f"--http-address={HOST}", f"--grpc-address={HOST}", f"--metrics-address={HOST}",
        f"--exit-timeout-secs={args.exit_timeout_secs}",
        "--allow-gpu-metrics=false",  # no NVML/DCGM probing (and its error line) at start
    ]
    env = {
        "LD_LIBRARY_PATH": f"{layout['wheel_libs']}:{layout['python_libdir']}",
        SITE_PACKAGES_ENV: layout["site_packages"],
        # The stub's embedded interpreter ignores PYTHON* variables (PYTHONPATH, and also
        # PYTHONDONTWRITEBYTECODE: it leaves __pycache__ in each model's version directory).
    }
    inst = {
        "index": index, "host": HOST,
        "pid": None, "pgid": None, "start_ticks": None, "status": "new",
        "log": str(run_dir / f"triton-{index}.log"), "ready_s": None, "shm_prefix": shm_prefix,
        "base_argv": base_argv, "extra_args": list(args.triton_args), "env": env,
    }
    set_ports(inst, *ports)
    return inst


def print_env(state: dict) -> None:
    insts = state["instances"]
    print(f"TRITON_STATE={state['state_file']}")
    print(f"TRITON_HTTP_URLS={','.join(i['http_url'] for i in insts)}")
    print(f"TRITON_GRPC_URLS={','.join(i['grpc_url'] for i in insts)}")
    print(f"TRITON_GRPC_ADDRS={','.join(i['grpc_addr'] for i in insts)}")
    for i in insts:
        n = i["index"]
        print(f"TRITON_{n}_HTTP_URL={i['http_url']}")
        print(f"TRITON_{n}_GRPC_URL={i['grpc_url']}")
        print(f"TRITON_{n}_GRPC_ADDR={i['grpc_addr']}")
        print(f"TRITON_{n}_METRICS_URL={i['metrics_url']}")
        print(f"TRITON_{n}_PID={i['pid']}")
    sys.stdout.flush()


def bind_failure(inst: dict) -> bool:
    text = log_tail(inst["log"], 40).lower()
    # Triton 2.51: "failed to start HTTP service: Unavailable - Socket '127.0.0.1:P' already in use"
    return any(s in text for s in ("already in use", "failed to bind", "failed to start"))


def cmd_start(args) -> int:
    state_path = Path(args.state).resolve()
    if args.restart:
        return cmd_restart(args, state_path)
    venv = str(Path(args.venv).resolve())
    args.model_repository = str(Path(args.model_repository).resolve())
    if not Path(args.model_repository).is_dir():
        raise SystemExit(f"model repository {args.model_repository} is not a directory")
    layout = venv_layout(venv)
    with state_lock(state_path):
        if state_path.exists():
            old = json.loads(state_path.read_text())
            if any(alive(i) for i in old.get("instances", [])):
                raise SystemExit(f"{state_path} describes running instances; stop.sh them first")
        run_dir = Path(args.run_dir).resolve() if args.run_dir else state_path.with_name(state_path.name + ".run")
        run_dir.mkdir(parents=True, exist_ok=True)
        backends = make_backend_dir(layout, run_dir)
        n = args.count
        ports = free_ports(3 * n)
        instances = [build_instance(args, i, tuple(ports[3 * i:3 * i + 3]), layout, backends, run_dir)
                     for i in range(n)]
        state = {"version": 1, "state_file": str(state_path), "venv": venv, "run_dir": str(run_dir),
                 "model_repository": args.model_repository, "backend_directory": str(backends),
                 "layout": layout, "instances": instances}
        t0 = time.monotonic()
        for inst in instances:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(inst["log"])
        todo = list(instances)
        for attempt in range(3):
            pending = []
            for inst in todo:
                pending.append((inst, launch(inst), time.monotonic()))
                write_state(state_path, state)  # pids known: a stop.sh from elsewhere can clean up now
            failed = wait_ready(pending, args.timeout)
            write_state(state_path, state)
            # A port picked free can be taken before Triton binds it: retry those on new ports.
            todo = [i for i in failed if bind_failure(i)]
            if not todo or len(todo) != len(failed) or attempt == 2:
                break
            for inst in todo:
                log(f"instance {inst['index']}: a port was taken; retrying on new ports")
                set_ports(inst, *free_ports(3))
        failed = [i for i in instances if i["status"] != "running"]
        if failed:
            for inst in instances:
                stop_instance(inst, args.stop_timeout)
                if inst in failed:
                    inst["status"] = "failed"
            write_state(state_path, state)
            log(f"failed to start instance(s) {[i['index'] for i in failed]}")
            return 1
        write_state(state_path, state)
        log(f"{n} instance(s) ready in {time.monotonic() - t0:.1f}s; state {state_path}")
        print_env(state)
    return 0


def cmd_restart(args, state_path: Path) -> int:
    if args.index is None:
        raise SystemExit("--restart needs --index I")
    with state_lock(state_path):
        state = read_state(state_path)
        inst = find(state, args.index)
        stop_instance(inst, args.stop_timeout)
        write_state(state_path, state)
        if not Path(state["backend_directory"], "python", "triton_python_backend_stub").exists():
            make_backend_dir(state["layout"], Path(state["run_dir"]))
        t0 = time.monotonic()
        proc = launch(inst)  # same argv: same ports
        write_state(state_path, state)
        failed = wait_ready([(inst, proc, t0)], args.timeout)
        write_state(state_path, state)
        if failed:
            return 1
        print_env(state)
    return 0


def cmd_stop(args) -> int:
    state_path = Path(args.state).resolve()
    if not state_path.exists():
        log(f"{state_path} not found; nothing to stop")
        return 0
    with state_lock(state_path):
        state = read_state(state_path)
        targets = [find(state, args.index)] if args.index is not None else state["instances"]
        for inst in targets:
            stop_instance(inst, args.timeout)
        write_state(state_path, state)
    return 0


def cmd_status(args) -> int:
    state = read_state(Path(args.state).resolve())
    bad = 0
    for inst in state["instances"]:
        up = alive(inst)
        ok = up and ready(inst["http_url"])
        rss = memory_kib(inst["pgid"], "Rss") // 1024 if up else 0
        pss = memory_kib(inst["pgid"], "Pss") // 1024 if up else 0
        procs = len(group_members(inst["pgid"])) if up else 0
        print(f"instance {inst['index']}: http={inst['http_url']} grpc={inst['grpc_url']} "
              f"metrics={inst['metrics_url']} state={inst['status']} alive={up} ready={ok} pid={inst['pid']} "
              f"procs={procs} rss_mib={rss} pss_mib={pss} ready_s={inst.get('ready_s')} log={inst['log']}")
        bad += inst["status"] == "running" and not ok
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    st = sub.add_parser("start", help="start N instances, or restart one with --index I --restart")
    st.add_argument("--state", required=True, help="state file (JSON) to write")
    st.add_argument("--venv", required=True, help="the triton venv (start.sh passes it)")
    st.add_argument("--count", "-n", type=int, default=2)
    st.add_argument("--index", type=int, help="with --restart: the instance to restart")
    st.add_argument("--restart", action="store_true", help="restart --index I on its old ports")
    st.add_argument("--model-repository", default=str(DEFAULT_MODEL_REPOSITORY),
                    help="model repository (default: scripts/triton/models)")
    st.add_argument("--run-dir", help="where logs and the backend directory go (default: STATE.run/)")
    st.add_argument("--timeout", type=float, default=float(os.environ.get("TRITON_START_TIMEOUT", 60)),
                    help="seconds to wait for /v2/health/ready (default 60)")
    st.add_argument("--stop-timeout", type=float, default=30)
    st.add_argument("--exit-timeout-secs", type=int, default=5,
                    help="tritonserver --exit-timeout-secs: how long SIGTERM waits for in-flight "
                         "requests (Triton's default is 30)")
    st.add_argument("triton_args", nargs="*", help="extra tritonserver arguments, after --")

    sp = sub.add_parser("stop", help="stop all instances, or one with --index I")
    sp.add_argument("--state", required=True)
    sp.add_argument("--index", type=int)
    sp.add_argument("--timeout", type=float, default=30, help="seconds between SIGTERM and SIGKILL")

    ss = sub.add_parser("status", help="readiness and RSS of each instance")
    ss.add_argument("--state", required=True)

    args = ap.parse_args()
    if args.cmd == "start" and args.count < 1:
        raise SystemExit("--count must be >= 1")
    return {"start": cmd_start, "stop": cmd_stop, "status": cmd_status}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
