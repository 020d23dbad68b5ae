"""Deterministic echo handler for Switchyard's TorchServe tests (no torch, no model weights).

Registered twice by scripts/torchserve/fleet.py: as `echo` (batchSize 1) and as `echo_batched`
(batchSize 4, maxBatchDelay 50 ms), so a test can see server-side batching in `batch_size`.

Each request's input is the first of its parameters named `data`, `body` (the HTTP body), or
else the alphabetically first one (gRPC `input` map keys). TorchServe hands the handler a parsed
JSON value when the request had `Content-Type: application/json`, a str for text/*, and bytes
otherwise; bytes and str that parse as JSON are parsed here too, so the same payload echoes the
same over HTTP and gRPC. The response is one compact JSON object (sorted keys, no spaces):

    {"batch_size": 1, "echo": {"data": [1, 2, 3]}, "input_type": "json", "inputs": ["body"],
     "instance": "0", "model": "echo", "pid": 4242, "sum": 6, "version": "1.0"}

  echo        the input (parsed JSON if it parses, else the UTF-8 text, else {"hex": "..."})
  sum         sum of the numbers in echo["data"] or echo itself when that is a list of numbers, else null
  batch_size  how many requests TorchServe passed to this call (> 1 only with server-side batching)
  input_type  what TorchServe delivered: "json" (already parsed), "text" or "bytes"
  instance    $SWITCHYARD_TS_INSTANCE of the server (fleet.py sets the instance index), or null
  pid         the worker's pid

Control keys in a JSON object input (for error and timeout tests):
  {"sleep_ms": N}                      sleep N ms (at most 30000) before answering
  {"fail": "msg"}                      raise RuntimeError -> TorchServe answers 503 "Prediction failed"
  {"fail": "msg", "fail_code": 4xx}    raise PredictionException(msg, code) -> that status and msg
A failing request fails its whole batch (that is how TorchServe batching works).
"""

from __future__ import annotations

import json
import os
import time

PREFERRED_INPUTS = ("data", "body")


def pick_input(row: dict):
    """(name, value) of the parameter to echo from one request of the batch."""
    for name in PREFERRED_INPUTS:
        if name in row:
            return name, row[name]
    if not row:
        return None, None
    name = sorted(row)[0]
    return name, row[name]


def decode_value(value):
    """(echo value, input_type) for what TorchServe delivered."""
    if isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {"hex": bytes(value).hex()}, "bytes"
        return _maybe_json(text), "bytes"
    if isinstance(value, str):
        return _maybe_json(value), "text"
    return value, "json"


def _maybe_json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def number_sum(echo):
    data = echo.get("data") if isinstance(echo, dict) else echo
    if isinstance(data, list) and all(_is_number(x) for x in data):
        return sum(data)
    return None


def apply_controls(echo) -> None:
    if not isinstance(echo, dict):
        return
    sleep_ms = echo.get("sleep_ms")
    if _is_number(sleep_ms) and sleep_ms > 0:
        time.sleep(min(float(sleep_ms), 30000.0) / 1000.0)
    if "fail" in echo:
        message = str(echo["fail"])
        code = echo.get("fail_code")
        if isinstance(code, int) and not isinstance(code, bool):
            from ts.utils.util import PredictionException

            raise PredictionException(message, code)
        raise RuntimeError(message)


def model_version(context) -> str | None:
    try:
        return context.manifest["model"]["modelVersion"]
    except (AttributeError, KeyError, TypeError):
        return None


def describe(row: dict, context, batch_size: int) -> dict:
    name, value = pick_input(row)
    echo, input_type = decode_value(value)
    apply_controls(echo)
    return {
        "batch_size": batch_size,
        "echo": echo,
        "input_type": input_type,
        "inputs": sorted(row),
        "instance": os.environ.get("SWITCHYARD_TS_INSTANCE"),
        "model": getattr(context, "model_name", None),
        "pid": os.getpid(),
        "sum": number_sum(echo),
        "version": model_version(context),
    }


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def handle(data, context):
    if data is None:  # the load-time call (TorchServe calls the entry point once with None)
        return None
    rows = [describe(row, context, len(data)) for row in data]
    for idx in range(len(rows)):
        context.set_response_content_type(idx, "application/json")
    return [dumps(r) for r in rows]
