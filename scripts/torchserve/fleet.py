#!/usr/bin/env python3
"""Start, stop, restart and inspect local TorchServe 0.12 instances for tests. Standard library only.

Normally used through start.sh / stop.sh / restart-one.sh / status.sh beside this file:

    start.sh   --state FILE [--count 2] [--models echo,echo_batched,echo_stream] [--timeout 120]
    start.sh   --state FILE --index I --restart      (same ports, same config)
    stop.sh    --state FILE [--index I] [--timeout 30]
    status.sh  --state FILE                          (health, models and RSS of each instance)

Several instances share one machine: each gets its own five ports (inference, management,
metrics with metrics_mode=prometheus, gRPC inference, gRPC management), its own TMPDIR (TorchServe
keeps its pid file, TMPDIR/.model_server.pid, there: two instances with one TMPDIR collide), its own
java.io.tmpdir (the worker sockets .ts.sock.9000... and extracted models live there), log dir and
model store, and a generated config.properties. Layout under the run dir (default STATE.run/):

    ts-<i>/config.properties  ts-<i>/model-store/*.mar  ts-<i>/tmp/  ts-<i>/logs/  ts-<i>/torchserve.log

The models (default all three; handlers in handlers/, see their docstrings) are archived once with
torch-model-archiver into .cache/torchserve/mar/<hash of handler files + settings>/ and copied into
each model store; config.properties registers them at start (`load_models` + `models`):

    echo          handlers/echo.py         batchSize 1
    echo_batched  handlers/echo.py         batchSize 4, maxBatchDelay 50 ms (server-side batching)
    echo_stream   handlers/echo_stream.py  batchSize 1; 3 intermediate + 1 final response
                  (HTTP: chunked; gRPC: StreamPredictions only -- a unary Predictions call on it
                   returns the first chunk and wedges that model's worker for good)

An instance counts as ready when GET /ping answers 200 and every model shows a READY worker in
GET management /models/NAME.

The state file is JSON (written atomically; updates are serialised with FILE.lock):

    {"version": 1, "state_file": FILE, "venv": DIR, "run_dir": DIR, "models": ["echo", ...],
     "instances": [{"index": 0, "host": "127.0.0.1",
                    "ports": {"http": P, "management": P, "metrics": P, "grpc": P, "grpc_management": P},
                    "http_url": "http://127.0.0.1:P",          (inference API)
                    "management_url": "http://127.0.0.1:P", "metrics_url": "http://127.0.0.1:P",
                    "grpc_url": "http://127.0.0.1:P", "grpc_management_url": "http://127.0.0.1:P",
                    "pid": JAVA_PID,          (the server; SIGKILL it to simulate a crash)
                    "java_start_ticks": N,
                    "pgid": LAUNCHER_PID,     (the `torchserve --foreground` launcher leads the group
                                               holding Java and the Python workers)
                    "launcher_pid": LAUNCHER_PID, "start_ticks": N (the launcher's),
                    "status": "running" | "stopped" | "failed", "ready_s": 3.1,
                    "dir": ".../ts-0", "config": ".../config.properties", "tmpdir": ".../tmp",
                    "log": ".../torchserve.log", "logs_dir": ".../logs", "model_store": "...",
                    "started_at": "...", "argv": [...], "env": {...}}, ...]}

Stopping: `torchserve --stop` with the instance's TMPDIR (it SIGTERMs Java, which stops its
workers; killing only the launcher would leave Java running), then wait for the launcher's process
group and every process whose command line names the instance's tmpdir (Java has
-Djava.io.tmpdir=..., workers --sock-name TMPDIR/.ts.sock.N) to go; SIGTERM, then SIGKILL, after
the timeout. A pid is trusted only while its start time matches the one recorded, so a stale state
file never signals an unrelated process.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from fleet_common import (  # noqa: E402
    free_ports,
    state_lock,
    read_state,
    write_state,
    log_tail,
    find,
)
HANDLERS = HERE / "handlers"
HOST = "127.0.0.1"
MODEL_VERSION = "1.0"
PORT_NAMES = ("http", "management", "metrics", "grpc", "grpc_management")

# name -> handler, extra files, per-model settings for config.properties `models=`.
MODELS: dict[str, dict] = {
    "echo": {"handler": "echo.py", "extra": [], "batchSize": 1, "maxBatchDelay": 50},
    "echo_batched": {"handler": "echo.py", "extra": [], "batchSize": 4, "maxBatchDelay": 50},
    "echo_stream": {"handler": "echo_stream.py", "extra": ["echo.py"], "batchSize": 1, "maxBatchDelay": 50},
}
DEFAULT_MODELS = ",".join(MODELS)


def log(msg: str) -> None:
    print(f"[torchserve] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgrp, starttime ticks) of a live process, or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[2]), int(fields[19])


def live(pid: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def all_pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def group_members(pgid: int) -> list[int]:
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[1] == pgid and st[0] not in ("Z", "X"):
            out.append(pid)
    return out


def owns_group(inst: dict) -> bool:
    """True if signalling inst's process group cannot hit an unrelated process."""
    pgid = inst.get("pgid")
    if not pgid:
        return False
    st = proc_stat(pgid)
    if st is None:
        return True  # leader gone; a pgid is not reused while any member lives, so survivors are ours
    return st[2] == inst.get("start_ticks")


def tagged_processes(inst: dict) -> list[int]:
    """Live processes whose command line names this instance's tmpdir (Java, its Python workers),
    wherever they are in the process tree."""
    tag = inst.get("tmpdir")
    if not tag:
        return []
    tag_b = tag.encode()
    me = os.getpid()
    out = []
    for pid in all_pids():
        if pid == me:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # Whole arguments: Java's -Djava.io.tmpdir=TAG, a worker's --sock-name TAG/.ts.sock.N.
        for arg in cmd.split(b"\0"):
            if arg == b"-Djava.io.tmpdir=" + tag_b or arg.startswith(tag_b + b"/.ts.sock."):
                if live(pid):
                    out.append(pid)
                break
    return out


def instance_pids(inst: dict) -> list[int]:
    pids = set(tagged_processes(inst))
    if owns_group(inst):
        pids.update(group_members(inst["pgid"]))
    return sorted(pids)


def alive(inst: dict) -> bool:
    return bool(instance_pids(inst))


def signal_all(inst: dict, sig: int) -> None:
    if owns_group(inst):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(inst["pgid"], sig)
    for pid in tagged_processes(inst):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_gone(inst: dict, timeout: float) -> bool:
    t0 = time.monotonic()
    while instance_pids(inst):
        if time.monotonic() - t0 > timeout:
            return False
        time.sleep(0.1)
    return True


def instance_env(inst: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TS_CONFIG_FILE", "PYTHONPATH")}
    env.update(inst["env"])
    return env


def stop_instance(inst: dict, timeout: float, venv: str) -> None:
    if not instance_pids(inst):
        if inst.get("status") == "running":
            log(f"instance {inst['index']}: not running (already gone)")
        inst["status"] = "stopped"
        return
    t0 = time.monotonic()
    # 1. The polite way: `torchserve --stop` reads TMPDIR/.model_server.pid and SIGTERMs Java.
    try:
        r = subprocess.run([f"{venv}/bin/torchserve", "--stop"], env=instance_env(inst), cwd=inst["dir"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        out = (r.stdout + r.stderr).strip()
        if out and "has stopped" not in out:
            log(f"instance {inst['index']}: torchserve --stop: {out}")
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"instance {inst['index']}: torchserve --stop failed: {e}")
    if not wait_gone(inst, timeout):
        # 2. Signals to the group and to anything else carrying the instance's tmpdir.
        log(f"instance {inst['index']}: still running {timeout:.0f}s after torchserve --stop; SIGTERM")
        signal_all(inst, signal.SIGTERM)
        if not wait_gone(inst, 10):
            log(f"instance {inst['index']}: SIGKILL {instance_pids(inst)}")
            signal_all(inst, signal.SIGKILL)
            if not wait_gone(inst, 10):
                raise SystemExit(f"instance {inst['index']}: processes {instance_pids(inst)} survived SIGKILL")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(Path(inst["tmpdir"]) / ".model_server.pid")
    log(f"instance {inst['index']} ({inst['http_url']}) stopped in {time.monotonic() - t0:.1f}s")
    inst["status"] = "stopped"


def memory_kib(pids: list[int], field: str = "Rss") -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
    return total


# ---------------------------------------------------------------- ports, state


# ---------------------------------------------------------------- model archives


def archive_models(venv: str, names: list[str]) -> dict[str, Path]:
    """NAME -> cached .mar, built with torch-model-archiver on first use."""
    cache = Path(os.environ.get("SWITCHYARD_CACHE_DIR", ROOT / ".cache")) / "torchserve" / "mar"
    out = {}
    for name in names:
        spec = MODELS[name]
        files = [spec["handler"], *spec["extra"]]
        h = hashlib.sha256()
        h.update(json.dumps([name, MODEL_VERSION, files], sort_keys=True).encode())
        for f in files:
            h.update(b"\0" + (HANDLERS / f).read_bytes())
        key = h.hexdigest()[:16]
        final = cache / f"{name}-{key}" / f"{name}.mar"
        if not final.is_file():
            final.parent.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=final.parent.parent) as tmp:
                cmd = [f"{venv}/bin/torch-model-archiver", "--model-name", name, "--version", MODEL_VERSION,
                       "--handler", str(HANDLERS / spec["handler"]), "--export-path", tmp, "--force"]
                if spec["extra"]:
                    cmd += ["--extra-files", ",".join(str(HANDLERS / f) for f in spec["extra"])]
                subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(Path(tmp) / f"{name}.mar", final)  # atomic: concurrent builders agree
            log(f"archived {name} -> {final}")
        out[name] = final
    return out


# ---------------------------------------------------------------- launching


def http_json(url: str, timeout: float = 2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


def ping_ok(inst: dict) -> bool:
    code, body = http_json(f"{inst['http_url']}/ping")
    return code == 200 and isinstance(body, dict) and body.get("status") == "Healthy"


def models_ready(inst: dict, models: list[str]) -> tuple[bool, dict[str, str]]:
    """(all ready, NAME -> 'READY' or what was seen)."""
    seen = {}
    for name in models:
        code, body = http_json(f"{inst['management_url']}/models/{name}")
        if code != 200 or not isinstance(body, list) or not body:
            seen[name] = f"http {code}"
            continue
        statuses = [w.get("status") for w in body[0].get("workers", [])]
        seen[name] = "READY" if "READY" in statuses else (",".join(map(str, statuses)) or "no workers")
    return all(v == "READY" for v in seen.values()), seen


def write_config(inst: dict, models: list[str], args_cfg: dict) -> None:
    p = inst["ports"]
    models_json = {
        name: {MODEL_VERSION: {
            "defaultVersion": True, "marName": f"{name}.mar",
            "minWorkers": args_cfg["workers"], "maxWorkers": args_cfg["workers"],
            "batchSize": MODELS[name]["batchSize"], "maxBatchDelay": MODELS[name]["maxBatchDelay"],
            "responseTimeout": args_cfg["response_timeout"],
        }}
        for name in models
    }
    lines = [
        f"# Generated by scripts/torchserve/fleet.py for instance {inst['index']}; rewritten on each (re)start.",
        f"inference_address=http://{HOST}:{p['http']}",
        f"management_address=http://{HOST}:{p['management']}",
        f"metrics_address=http://{HOST}:{p['metrics']}",
        f"grpc_inference_address={HOST}",
        f"grpc_inference_port={p['grpc']}",
        f"grpc_management_address={HOST}",
        f"grpc_management_port={p['grpc_management']}",
        "metrics_mode=prometheus",
        f"model_store={inst['model_store']}",
        f"load_models={','.join(f'{m}.mar' for m in models)}",
        "models=" + json.dumps(models_json, separators=(",", ":")),
        f"default_workers_per_model={args_cfg['workers']}",
        f"default_response_timeout={args_cfg['response_timeout']}",
        f"enable_model_api={'true' if args_cfg['model_api'] else 'false'}",
        f"disable_system_metrics={'false' if args_cfg['system_metrics'] else 'true'}",
        # java.io.tmpdir comes from the TEMP variable (the launcher turns it into -Djava.io.tmpdir).
        f"vmargs={args_cfg['jvm_args']}",
    ]
    Path(inst["config"]).write_text("\n".join(lines) + "\n")


def build_instance(index: int, ports: list[int], run_dir: Path) -> dict:
    d = run_dir / f"ts-{index}"
    p = dict(zip(PORT_NAMES, ports))
    tmp = d / "tmp"
    logs = d / "logs"
    return {
        "index": index, "host": HOST, "ports": p,
        "http_url": f"http://{HOST}:{p['http']}",
        "management_url": f"http://{HOST}:{p['management']}",
        "metrics_url": f"http://{HOST}:{p['metrics']}",
        "grpc_url": f"http://{HOST}:{p['grpc']}",
        "grpc_management_url": f"http://{HOST}:{p['grpc_management']}",
        "pid": None, "java_start_ticks": None, "pgid": None, "launcher_pid": None, "start_ticks": None,
        "status": "new", "ready_s": None, "started_at": None,
        "dir": str(d), "config": str(d / "config.properties"), "tmpdir": str(tmp),
        "log": str(d / "torchserve.log"), "logs_dir": str(logs), "model_store": str(d / "model-store"),
        "argv": ["--start", "--foreground", "--ncs", "--disable-token-auth", "--ts-config", str(d / "config.properties")],
        "env": {
            "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp),
            "LOG_LOCATION": str(logs), "METRICS_LOCATION": str(logs),
            "SWITCHYARD_TS_INSTANCE": str(index),  # echoed by the handlers as "instance"
            "PYTHONUNBUFFERED": "1",
        },
    }


def prepare_dirs(inst: dict, mars: dict[str, Path]) -> None:
    tmp = Path(inst["tmpdir"])
    # A fresh tmp each start: it holds the pid file, worker sockets and extracted models.
    if tmp.exists():
        shutil.rmtree(tmp)
    for sub in (tmp, Path(inst["logs_dir"]), Path(inst["model_store"])):
        sub.mkdir(parents=True, exist_ok=True)
    store = Path(inst["model_store"])
    for old in store.glob("*.mar"):
        if old.stem not in mars:
            old.unlink()
    for name, mar in mars.items():
        shutil.copyfile(mar, store / f"{name}.mar")


def launch(inst: dict, venv: str) -> subprocess.Popen:
    with open(inst["log"], "ab") as logf:
        logf.write(f"==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting instance {inst['index']} "
                   f"ports {inst['ports']}\n".encode())
        logf.flush()
        proc = subprocess.Popen(
            [f"{venv}/bin/torchserve", *inst["argv"]],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            env=instance_env(inst), cwd=inst["dir"],
            start_new_session=True,  # own session and process group: pgid == launcher pid
        )
    st = proc_stat(proc.pid)
    inst.update(pid=None, java_start_ticks=None, pgid=proc.pid, launcher_pid=proc.pid,
                start_ticks=st[2] if st else None, status="starting",
                started_at=time.strftime("%Y-%m-%dT%H:%M:%S"), ready_s=None)
    return proc


def read_java_pid(inst: dict) -> None:
    if inst.get("pid"):
        return
    with contextlib.suppress(FileNotFoundError, ValueError):
        pid = int((Path(inst["tmpdir"]) / ".model_server.pid").read_text().split()[0])
        st = proc_stat(pid)
        if st:
            inst["pid"], inst["java_start_ticks"] = pid, st[2]


def wait_ready(pending: list[tuple[dict, subprocess.Popen, float]], models: list[str], timeout: float,
               venv: str) -> list[dict]:
    failed = []
    todo = list(pending)
    last_seen: dict[int, dict] = {}
    while todo:
        for item in list(todo):
            inst, proc, t0 = item
            read_java_pid(inst)
            why = None
            if ping_ok(inst):
                ok, seen = models_ready(inst, models)
                last_seen[inst["index"]] = seen
                if ok:
                    read_java_pid(inst)
                    inst["status"] = "running"
                    inst["ready_s"] = round(time.monotonic() - t0, 1)
                    log(f"instance {inst['index']} ready in {inst['ready_s']}s: {inst['http_url']} "
                        f"(grpc {inst['grpc_url']}, java pid {inst['pid']}, "
                        f"RSS {memory_kib(instance_pids(inst)) // 1024} MiB)")
                    todo.remove(item)
                    continue
            if proc.poll() is not None:
                why = f"exited with {proc.returncode} before it was ready"
            elif time.monotonic() - t0 > timeout:
                why = f"not ready after {timeout:.0f}s (models: {last_seen.get(inst['index'], 'no /ping')})"
            if why:
                log(f"instance {inst['index']} {why}; log {inst['log']}:\n{log_tail(inst['log'])}")
                stop_instance(inst, 10, venv)
                inst["status"] = "failed"
                failed.append(inst)
                todo.remove(item)
        if todo:
            time.sleep(0.2)
    return failed


def print_env(state: dict) -> None:
    insts = state["instances"]
    print(f"TORCHSERVE_STATE={state['state_file']}")
    print(f"TORCHSERVE_MODELS={','.join(state['models'])}")
    print(f"TORCHSERVE_HTTP_URLS={','.join(i['http_url'] for i in insts)}")
    print(f"TORCHSERVE_GRPC_URLS={','.join(i['grpc_url'] for i in insts)}")
    for i in insts:
        n = i["index"]
        print(f"TORCHSERVE_{n}_HTTP_URL={i['http_url']}")
        print(f"TORCHSERVE_{n}_MANAGEMENT_URL={i['management_url']}")
        print(f"TORCHSERVE_{n}_METRICS_URL={i['metrics_url']}")
        print(f"TORCHSERVE_{n}_GRPC_URL={i['grpc_url']}")
        print(f"TORCHSERVE_{n}_GRPC_MANAGEMENT_URL={i['grpc_management_url']}")
        print(f"TORCHSERVE_{n}_PID={i['pid']}")


def config_from_args(args) -> dict:
    return {"workers": args.workers, "response_timeout": args.response_timeout, "model_api": args.model_api,
            "system_metrics": args.system_metrics, "jvm_args": args.jvm_args}


def cmd_start(args) -> int:
    state_path = Path(args.state).resolve()
    if args.restart:
        return cmd_restart(args, state_path)
    venv = args.venv
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    mars = archive_models(venv, models)
    with state_lock(state_path):
        if state_path.exists():
            old = json.loads(state_path.read_text())
            if any(alive(i) for i in old.get("instances", [])):
                raise SystemExit(f"{state_path} describes running instances; stop.sh them first")
        run_dir = Path(args.run_dir).resolve() if args.run_dir else state_path.with_name(state_path.name + ".run")
        run_dir.mkdir(parents=True, exist_ok=True)
        n = args.count
        ports = free_ports(n * len(PORT_NAMES))
        instances = [build_instance(i, ports[i * len(PORT_NAMES):(i + 1) * len(PORT_NAMES)], run_dir)
                     for i in range(n)]
        cfg = config_from_args(args)
        state = {"version": 1, "state_file": str(state_path), "venv": venv, "run_dir": str(run_dir),
                 "models": models, "config": cfg, "instances": instances}
        t0 = time.monotonic()
        pending = []
        failed = []
        for inst in instances:
            prepare_dirs(inst, mars)
            write_config(inst, models, cfg)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(inst["log"])
            pending.append((inst, launch(inst, venv), time.monotonic()))
            write_state(state_path, state)  # pids known: a stop.sh from elsewhere can clean up now
            if not args.parallel:
                failed = wait_ready(pending, models, args.timeout, venv)
                pending = []
                if failed:
                    break
        if pending:
            wait_ready(pending, models, args.timeout, venv)
        failed = [i for i in instances if i["status"] != "running"]
        if failed:
            for inst in instances:
                if inst["status"] != "failed":
                    stop_instance(inst, args.stop_timeout, venv)
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
        venv = state["venv"]
        inst = find(state, args.index)
        stop_instance(inst, args.stop_timeout, venv)
        write_state(state_path, state)
        mars = archive_models(venv, state["models"])
        prepare_dirs(inst, mars)
        write_config(inst, state["models"], state["config"])
        t0 = time.monotonic()
        proc = launch(inst, venv)
        write_state(state_path, state)
        failed = wait_ready([(inst, proc, t0)], state["models"], args.timeout, venv)
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
            stop_instance(inst, args.timeout, state["venv"])
        write_state(state_path, state)
    return 0


def cmd_status(args) -> int:
    state = read_state(Path(args.state).resolve())
    bad = 0
    for inst in state["instances"]:
        pids = instance_pids(inst)
        up = bool(pids)
        ok = up and ping_ok(inst)
        ready, seen = models_ready(inst, state["models"]) if ok else (False, {})
        rss = memory_kib(pids, "Rss") // 1024
        pss = memory_kib(pids, "Pss") // 1024
        print(f"instance {inst['index']}: {inst['http_url']} grpc={inst['grpc_url']} state={inst['status']} "
              f"alive={up} healthy={ok} models={','.join(f'{k}:{v}' for k, v in seen.items()) or '-'} "
              f"pid={inst['pid']} processes={len(pids)} rss_mib={rss} pss_mib={pss} "
              f"ready_s={inst.get('ready_s')} log={inst['log']}")
        bad += inst["status"] == "running" and not (ok and ready)
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    st = sub.add_parser("start", help="start N instances, or restart one with --index I --restart")
    st.add_argument("--state", required=True, help="state file (JSON) to write")
    st.add_argument("--venv", required=True, help="the TorchServe venv (start.sh passes it)")
    st.add_argument("--count", "-n", type=int, default=2)
    st.add_argument("--index", type=int, help="with --restart: the instance to restart")
    st.add_argument("--restart", action="store_true", help="restart --index I on its old ports")
    st.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated (default {DEFAULT_MODELS})")
    st.add_argument("--workers", type=int, default=1, help="workers per model (default 1)")
    st.add_argument("--response-timeout", type=int, default=120, help="per-model responseTimeout, seconds")
    st.add_argument("--no-model-api", dest="model_api", action="store_false",
                    help="enable_model_api=false (no runtime register/unregister over management)")
    st.add_argument("--system-metrics", action="store_true",
                    help="collect CPU/memory system metrics (off by default: a Python process per minute)")
    st.add_argument("--jvm-args", default="-Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData",
                    help="config.properties vmargs")
    st.add_argument("--run-dir", help="where instance dirs go (default: STATE.run/)")
    st.add_argument("--timeout", type=float, default=float(os.environ.get("TORCHSERVE_START_TIMEOUT", 120)),
                    help="seconds to wait for /ping and READY workers (default 120)")
    st.add_argument("--stop-timeout", type=float, default=30)
    st.add_argument("--sequential", dest="parallel", action="store_false",
                    help="start instances one after another (default: all at once)")

    sp = sub.add_parser("stop", help="stop all instances, or one with --index I")
    sp.add_argument("--state", required=True)
    sp.add_argument("--index", type=int)
    sp.add_argument("--timeout", type=float, default=30,
                    help="seconds to wait after `torchserve --stop` before SIGTERM/SIGKILL")

    ss = sub.add_parser("status", help="health, models and RSS of each instance")
    ss.add_argument("--state", required=True)

    args = ap.parse_args()
    return {"start": cmd_start, "stop": cmd_stop, "status": cmd_status}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
