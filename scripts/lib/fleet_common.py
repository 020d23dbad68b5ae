"""Process and state-file helpers shared by the fleet scripts (scripts/vllm, scripts/triton,
scripts/torchserve). Standard library only.

A fleet's instances each run in their own process group; a pid is trusted only while its start
time matches the one recorded, so a stale state file never signals an unrelated process. The
state file is JSON, written atomically, with updates serialised through FILE.lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time
from pathlib import Path

HOST = "127.0.0.1"


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgrp, starttime ticks) of a live process, or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = data[data.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); pgrp is field 5; starttime is field 22.
    return fields[0], int(fields[2]), int(fields[19])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group pgid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st and st[1] == pgid and st[0] not in ("Z", "X"):
            out.append(int(entry))
    return out


def owns_group(inst: dict) -> bool:
    """True if signalling inst's process group cannot hit an unrelated process."""
    pgid = inst.get("pgid")
    if not pgid:
        return False
    st = proc_stat(pgid)
    if st is None:
        # Leader gone. A pgid is never reused while any member lives, so survivors are ours.
        return True
    return st[2] == inst.get("start_ticks")


def alive(inst: dict) -> bool:
    return owns_group(inst) and bool(group_members(inst["pgid"]))


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def terminate_group(inst: dict, timeout: float, log) -> float | None:
    """Stops an instance's process group: SIGTERM, then SIGKILL after `timeout` s. Returns the
    seconds it took, or None when there was nothing of ours to stop. Marks the instance stopped."""
    if inst.get("status") != "running" and not inst.get("pgid"):
        return None
    if not owns_group(inst):
        log(f"instance {inst['index']}: pid {inst.get('pid')} is gone or reused; nothing to stop")
        inst["status"] = "stopped"
        return None
    pgid = inst["pgid"]
    took = None
    if group_members(pgid):
        t0 = time.monotonic()
        signal_group(pgid, signal.SIGTERM)
        while group_members(pgid) and time.monotonic() - t0 < timeout:
            time.sleep(0.1)
        if group_members(pgid):
            log(f"instance {inst['index']}: still running {timeout:.0f}s after SIGTERM; SIGKILL")
            signal_group(pgid, signal.SIGKILL)
            t1 = time.monotonic()
            while group_members(pgid) and time.monotonic() - t1 < 10:
                time.sleep(0.1)
            if group_members(pgid):
                raise SystemExit(f"instance {inst['index']}: group {pgid} survived SIGKILL")
        took = time.monotonic() - t0
    inst["status"] = "stopped"
    return took


def memory_kib(pgid: int, field: str = "Rss") -> int:
    """Sum of Rss (counts shared libraries once per process) or Pss (shares split) over the group."""
    total = 0
    for pid in group_members(pgid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
    return total


def rss_kib(pgid: int) -> int:
    return memory_kib(pgid, "Rss")


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


@contextlib.contextmanager
def state_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"state file {path} not found")


def write_state(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, path)


def log_tail(path: str, n: int = 60) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(lines[-n:])


def find(state: dict, index: int) -> dict:
    for inst in state["instances"]:
        if inst["index"] == index:
            return inst
    raise SystemExit(f"no instance {index} in state (have {[i['index'] for i in state['instances']]})")

