#!/usr/bin/env python3
"""Triton client compatibility check: the stock tritonclient.http and tritonclient.grpc, used as a
user's example would, against a Triton server or anything that claims to speak its protocols (the
Switchyard router's KServe v2 front ends). Run it with the triton venv's python:

    VENV="$(scripts/triton/install.sh)"
    "$VENV/bin/python" tests/python/triton_clients.py --http-url http://127.0.0.1:P --grpc-url 127.0.0.1:Q
    "$VENV/bin/python" tests/python/triton_clients.py --grpc-url 127.0.0.1:Q --load 400   (load only)

Needs the models of scripts/triton/models (add_sub, stream_counter; tiny_gen with --generate).
Prints one PASS/FAIL line per check; exits 1 if any failed (the last line is the summary), 2 on
bad arguments. --load N only runs N add_sub gRPC infers from 8 threads and prints a JSON summary
(for checking that a router spreads load; read each backend's nv_inference_count afterwards).

What real Triton 2.51 answers (tritonserver from nvidia-pytriton 0.7.0, checked with curl, raw gRPC
and tritonclient 2.73; HTTP bodies verbatim; "[request id: <id_unknown>] " is part of the text):

 (a) unknown model
     HTTP POST /v2/models/nope/infer, GET /v2/models/nope (metadata), POST .../nope/generate:
       404 {"error":"Request for unknown model: 'nope' is not found"}
     HTTP GET /v2/models/nope/ready: 400 {"error":"Model version not ready"}  (not 404!)
     HTTP unknown version (/v2/models/add_sub/versions/7[/infer]):
       404 {"error":"Request for unknown model: 'add_sub' version 7 is not found"}
     gRPC ModelInfer / ModelMetadata: NOT_FOUND "Request for unknown model: 'nope' is not found"
     gRPC ModelReady: OK with ready=false (no error)
     gRPC ModelStreamInfer: the stream stays OK; the response carries
       error_message="Request for unknown model: 'nope' is not found" (tritonclient's callback gets an
       InferenceServerException with status None)
 (b) wrong datatype (FP64 for an FP32 input)
     HTTP 400 {"error":"[request id: <id_unknown>] inference input 'INPUT0' data-type is 'FP64', but model 'add_sub' expects 'FP32'"}
     gRPC INVALID_ARGUMENT, same message
 (c) wrong shape ([1,3] for dims [4], max_batch_size 8)
     HTTP 400 {"error":"[request id: <id_unknown>] unexpected shape for input 'INPUT1' for model 'add_sub'. Expected [-1,4], got [1,3]. NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input shape. If you want to specify the full shape including the batch dim in your input dims config, try setting max_batch_size to zero. See the model configuration docs for more info on max_batch_size."}
     gRPC INVALID_ARGUMENT, same message (Triton checks INPUT1 first, whichever input is wrong)
 Others seen:
     batch 9 > max_batch_size 8: 400 / INVALID_ARGUMENT "[request id: <id_unknown>] inference request batch-size must be <= 8 for 'add_sub'"
     missing input: 400 / INVALID_ARGUMENT "[request id: <id_unknown>] expected 2 inputs but got 1 inputs for model 'add_sub'. Got input(s) ['INPUT0'], but missing required input(s) ['INPUT1']. Please provide all required input(s)."
     unknown input name: 400 "unexpected inference input 'INPUTX' for model 'add_sub'"
     unknown requested output: 400 "unexpected inference output 'NOPE' for model 'add_sub'"
     JSON "data" with fewer elements than "shape": 500 (!) "Unable to parse 'data': Shape does not match true shape of 'data' field"
     a string in FP32 "data": 500 "Unable to parse 'data': attempt to access JSON non-number as double"
     body not JSON: 500 "failed to parse the request JSON buffer: Invalid value. at 0"
     gRPC raw_input_contents of the wrong size: INVALID_ARGUMENT "[request id: <id_unknown>] input byte size mismatch for input 'INPUT1' for model 'add_sub'. Expected 16, got 12"
     decoupled model (stream_counter, tiny_gen) over HTTP /infer: 501 {"error":"HTTP end point doesn't support models with decoupled transaction policy"}
     decoupled model over gRPC ModelInfer: UNIMPLEMENTED "ModelInfer RPC doesn't support models with decoupled transaction policy"
     an error the model itself returns (pb_utils.TritonError): HTTP 400 / in-stream error_message
     unknown path (GET /v2/nope): 404 {"error":"Not Found"}
 HTTP error bodies are always {"error": "..."} with Content-Type application/json; tritonclient.http
 turns them into InferenceServerException(status="404"/"400", msg=error). gRPC errors become
 InferenceServerException(status="StatusCode.NOT_FOUND", msg=details).
 The checks below require: unknown model -> HTTP 404 / gRPC NOT_FOUND; bad datatype or shape ->
 HTTP 400 / gRPC INVALID_ARGUMENT (real Triton passes all of them). Message texts are not checked.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

TIMEOUT_S = 20.0
RESULTS: list[tuple[str, bool, str]] = []


class CheckFailed(AssertionError):
    pass


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def check(name: str):
    """Decorator that runs the decorated function at once as one named check and records
    PASS/FAIL with the reason (the function's name is irrelevant; `_` is used throughout)."""

    def run(fn):
        t0 = time.monotonic()
        try:
            fn()
        except CheckFailed as e:
            msg = str(e)
        except InferenceServerException as e:
            msg = f"unexpected InferenceServerException status={e.status()!r} message={e.message()!r}"
        except OSError as e:  # connection refused, reset, timed out: no traceback needed
            msg = f"{type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - report anything as a failed check
            msg = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
        else:
            RESULTS.append((name, True, ""))
            print(f"PASS {name} ({time.monotonic() - t0:.2f}s)", flush=True)
            return None
        RESULTS.append((name, False, msg))
        print(f"FAIL {name}: {msg}", flush=True)
        return None

    return run


# ---------------------------------------------------------------- helpers


def host_port(url: str) -> tuple[str, bool]:
    """'http://h:p' or 'h:p' -> ('h:p', ssl). tritonclient wants no scheme."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "grpc", "grpcs"):
            raise SystemExit(f"unsupported scheme in {url!r}")
        if parts.path not in ("", "/"):
            raise SystemExit(f"{url!r}: tritonclient cannot use a path prefix; give host:port")
        return parts.netloc, parts.scheme in ("https", "grpcs")
    return url.rstrip("/"), False


def add_sub_data(batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(-1000, 1000, size=(batch, 4)).astype(np.float32) / np.float32(8)
    b = rng.integers(-1000, 1000, size=(batch, 4)).astype(np.float32) / np.float32(4)
    return a, b


def http_inputs(a: np.ndarray, b: np.ndarray, binary: bool, dtype: str = "FP32") -> list:
    out = []
    for name, arr in (("INPUT0", a), ("INPUT1", b)):
        inp = httpclient.InferInput(name, list(arr.shape), dtype)
        inp.set_data_from_numpy(arr, binary_data=binary)
        out.append(inp)
    return out


def grpc_inputs(a: np.ndarray, b: np.ndarray, dtype: str = "FP32") -> list:
    out = []
    for name, arr in (("INPUT0", a), ("INPUT1", b)):
        inp = grpcclient.InferInput(name, list(arr.shape), dtype)
        inp.set_data_from_numpy(arr)
        out.append(inp)
    return out


def expect_add_sub(result, a: np.ndarray, b: np.ndarray, what: str) -> None:
    out0 = result.as_numpy("OUTPUT0")
    out1 = result.as_numpy("OUTPUT1")
    expect(out0 is not None and out1 is not None, f"{what}: OUTPUT0/OUTPUT1 missing from the response")
    expect(out0.dtype == np.float32 and out1.dtype == np.float32,
           f"{what}: output dtypes {out0.dtype}/{out1.dtype}, want float32")
    expect(out0.shape == a.shape and out1.shape == a.shape,
           f"{what}: output shapes {out0.shape}/{out1.shape}, want {a.shape}")
    expect(np.array_equal(out0, a + b), f"{what}: OUTPUT0 {out0.tolist()} != INPUT0+INPUT1 {(a + b).tolist()}")
    expect(np.array_equal(out1, a - b), f"{what}: OUTPUT1 {out1.tolist()} != INPUT0-INPUT1 {(a - b).tolist()}")


def expect_error(fn, want_http: str | None, want_grpc: str | None, what: str) -> InferenceServerException:
    try:
        fn()
    except InferenceServerException as e:
        status = e.status()
        if want_http is not None:
            expect(status == want_http,
                   f"{what}: HTTP status {status!r} (message {e.message()!r}), want {want_http}")
        if want_grpc is not None:
            expect(status == want_grpc,
                   f"{what}: gRPC status {status!r} (message {e.message()!r}), want {want_grpc}")
        expect(bool(e.message()), f"{what}: error without a message")
        return e
    raise CheckFailed(f"{what}: succeeded, want an error")


# ---------------------------------------------------------------- HTTP checks


def http_checks(args) -> None:
    url, ssl = host_port(args.http_url)
    client = httpclient.InferenceServerClient(url, ssl=ssl, connection_timeout=TIMEOUT_S,
                                              network_timeout=TIMEOUT_S)
    model = args.model

    @check("http: server live and ready")
    def _():
        expect(client.is_server_live() is True, "is_server_live() is not True")
        expect(client.is_server_ready() is True, "is_server_ready() is not True")

    @check(f"http: model {model} ready and metadata")
    def _():
        expect(client.is_model_ready(model) is True, f"is_model_ready({model!r}) is not True")
        md = client.get_model_metadata(model)
        expect(md.get("name") == model, f"metadata name {md.get('name')!r}, want {model!r}")
        ins = {i["name"]: i for i in md.get("inputs", [])}
        outs = {o["name"]: o for o in md.get("outputs", [])}
        for name in ("INPUT0", "INPUT1"):
            expect(name in ins, f"metadata inputs {sorted(ins)} lack {name}")
            expect(ins[name]["datatype"] == "FP32", f"{name} datatype {ins[name]['datatype']!r}, want FP32")
            expect(list(ins[name]["shape"]) == [-1, 4], f"{name} shape {ins[name]['shape']}, want [-1, 4]")
        for name in ("OUTPUT0", "OUTPUT1"):
            expect(name in outs, f"metadata outputs {sorted(outs)} lack {name}")
            expect(outs[name]["datatype"] == "FP32", f"{name} datatype {outs[name]['datatype']!r}, want FP32")

    for binary in (False, True):
        kind = "binary" if binary else "JSON"

        @check(f"http: infer {model} x{args.requests} ({kind} tensors)")
        def _():
            for i in range(args.requests):
                batch = 1 + i % 8
                a, b = add_sub_data(batch, seed=1000 * binary + i)
                outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("OUTPUT0", "OUTPUT1")]
                r = client.infer(model, http_inputs(a, b, binary), outputs=outputs, request_id=f"http-{kind}-{i}")
                expect_add_sub(r, a, b, f"request {i} (batch {batch})")
                resp = r.get_response()
                expect(resp.get("model_name") == model, f"response model_name {resp.get('model_name')!r}")
                if i == 0:
                    # The id is echoed back by Triton; a proxy should keep it.
                    expect(resp.get("id") == f"http-{kind}-{i}", f"response id {resp.get('id')!r}, want the request's")

    a, b = add_sub_data(1, seed=7)

    @check("http: unknown model -> 404")
    def _():
        expect_error(lambda: client.infer("no_such_model", http_inputs(a, b, False)), "404", None, "infer")
        expect_error(lambda: client.get_model_metadata("no_such_model"), "404", None, "metadata")
        expect(client.is_model_ready("no_such_model") is False, "is_model_ready(unknown) is not False")

    @check("http: FP64 for an FP32 input -> 400")
    def _():
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        for binary in (False, True):
            expect_error(lambda: client.infer(model, http_inputs(a64, b64, binary, "FP64")), "400", None,
                         f"{'binary' if binary else 'JSON'} infer")

    @check("http: wrong shape -> 400")
    def _():
        a3, b3 = a[:, :3].copy(), b[:, :3].copy()
        for binary in (False, True):
            expect_error(lambda: client.infer(model, http_inputs(a3, b3, binary)), "400", None,
                         f"{'binary' if binary else 'JSON'} infer")

    client.close()


def generate_checks(args) -> None:
    """The generate extension on tiny_gen, with plain HTTP (tritonclient has no generate API)."""
    base = args.http_url if "://" in args.http_url else f"http://{args.http_url}"
    base = base.rstrip("/")

    def post(path: str, body: dict):
        req = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        return urllib.request.urlopen(req, timeout=TIMEOUT_S)

    @check("http: tiny_gen generate (one JSON object)")
    def _():
        with post("/v2/models/tiny_gen/generate", {"text_input": "hello world", "max_tokens": 3}) as r:
            body = json.loads(r.read())
        expect(body.get("text_output") == " w5204 w2738 w1624", f"text_output {body.get('text_output')!r}")
        expect(body.get("finish_reason") == "length", f"finish_reason {body.get('finish_reason')!r}")
        expect(body.get("model_name") == "tiny_gen", f"model_name {body.get('model_name')!r}")

    @check("http: tiny_gen generate_stream (SSE, one event per word)")
    def _():
        body = {"text_input": "hello world", "max_tokens": 3, "stream": True}
        with post("/v2/models/tiny_gen/generate_stream", body) as r:
            ctype = r.headers.get("Content-Type", "")
            raw = r.read().decode()
        expect(ctype.startswith("text/event-stream"), f"Content-Type {ctype!r}")
        events = [json.loads(line[len("data: "):]) for line in raw.split("\n") if line.startswith("data: ")]
        words = [e.get("text_output") for e in events]
        expect(words == [" w5204", " w2738", " w1624"], f"events' text_output {words}")
        expect(events[-1].get("finish_reason") == "length", f"last event {events[-1]}")

    @check("http: generate on unknown model -> 404")
    def _():
        try:
            post("/v2/models/no_such_model/generate", {"text_input": "x"}).close()
        except urllib.error.HTTPError as e:
            expect(e.code == 404, f"status {e.code}, want 404 (body {e.read()[:200]!r})")
            return
        raise CheckFailed("succeeded, want 404")


# ---------------------------------------------------------------- gRPC checks


def grpc_checks(args) -> None:
    url, ssl = host_port(args.grpc_url)
    client = grpcclient.InferenceServerClient(url, ssl=ssl)
    model = args.model

    @check("grpc: server live and ready")
    def _():
        expect(client.is_server_live(client_timeout=TIMEOUT_S) is True, "is_server_live() is not True")
        expect(client.is_server_ready(client_timeout=TIMEOUT_S) is True, "is_server_ready() is not True")

    @check(f"grpc: model {model} ready and metadata")
    def _():
        expect(client.is_model_ready(model, client_timeout=TIMEOUT_S) is True, f"is_model_ready({model!r}) is not True")
        md = client.get_model_metadata(model, as_json=True, client_timeout=TIMEOUT_S)
        expect(md.get("name") == model, f"metadata name {md.get('name')!r}, want {model!r}")
        ins = {i["name"]: i for i in md.get("inputs", [])}
        for name in ("INPUT0", "INPUT1"):
            expect(name in ins, f"metadata inputs {sorted(ins)} lack {name}")
            expect(ins[name]["datatype"] == "FP32", f"{name} datatype {ins[name]['datatype']!r}")
            expect([int(d) for d in ins[name]["shape"]] == [-1, 4], f"{name} shape {ins[name]['shape']}")
        outs = {o["name"] for o in md.get("outputs", [])}
        expect({"OUTPUT0", "OUTPUT1"} <= outs, f"metadata outputs {sorted(outs)}")

    @check(f"grpc: infer {model} x{args.requests}")
    def _():
        for i in range(args.requests):
            batch = 1 + i % 8
            a, b = add_sub_data(batch, seed=5000 + i)
            r = client.infer(model, grpc_inputs(a, b), request_id=f"grpc-{i}", client_timeout=TIMEOUT_S)
            expect_add_sub(r, a, b, f"request {i} (batch {batch})")
            resp = r.get_response()
            expect(resp.model_name == model, f"response model_name {resp.model_name!r}")
            if i == 0:
                expect(resp.id == "grpc-0", f"response id {resp.id!r}, want the request's")

    a, b = add_sub_data(1, seed=9)

    @check("grpc: unknown model -> NOT_FOUND")
    def _():
        expect_error(lambda: client.infer("no_such_model", grpc_inputs(a, b), client_timeout=TIMEOUT_S),
                     None, "StatusCode.NOT_FOUND", "infer")
        expect_error(lambda: client.get_model_metadata("no_such_model", client_timeout=TIMEOUT_S),
                     None, "StatusCode.NOT_FOUND", "metadata")
        expect(client.is_model_ready("no_such_model", client_timeout=TIMEOUT_S) is False,
               "is_model_ready(unknown) is not False")

    @check("grpc: FP64 for an FP32 input -> INVALID_ARGUMENT")
    def _():
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        expect_error(lambda: client.infer(model, grpc_inputs(a64, b64, "FP64"), client_timeout=TIMEOUT_S),
                     None, "StatusCode.INVALID_ARGUMENT", "infer")

    @check("grpc: wrong shape -> INVALID_ARGUMENT")
    def _():
        a3, b3 = a[:, :3].copy(), b[:, :3].copy()
        expect_error(lambda: client.infer(model, grpc_inputs(a3, b3), client_timeout=TIMEOUT_S),
                     None, "StatusCode.INVALID_ARGUMENT", "infer")

    stream_checks(client, args.stream_model)
    client.close()


class StreamCollector:
    """tritonclient stream callback target: keeps (result, error) pairs in arrival order."""

    def __init__(self):
        self.items: list[tuple[object, InferenceServerException | None]] = []
        self.cond = threading.Condition()

    def __call__(self, result, error):
        with self.cond:
            self.items.append((result, error))
            self.cond.notify_all()

    def wait_for(self, pred, timeout: float = TIMEOUT_S) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.items), timeout)


def count_input(n: int):
    inp = grpcclient.InferInput("COUNT", [1], "INT32")
    inp.set_data_from_numpy(np.array([n], dtype=np.int32))
    return inp


def is_final(result) -> bool:
    p = result.get_response().parameters.get("triton_final_response")
    return bool(p is not None and p.bool_param)


def stream_checks(client, model: str) -> None:
    @check(f"grpc: stream infer {model} COUNT=5 -> 5 responses 0..4")
    def _():
        col = StreamCollector()
        client.start_stream(callback=col, stream_timeout=TIMEOUT_S)
        try:
            client.async_stream_infer(model, [count_input(5)], request_id="count-5")
            col.wait_for(lambda items: len(items) >= 5)
        finally:
            client.stop_stream()  # half-closes and waits until the server ends the stream
        errors = [e for _, e in col.items if e is not None]
        expect(not errors, f"stream errors: {[str(e) for e in errors]}")
        values = [int(r.as_numpy("OUTPUT").reshape(-1)[0]) for r, _ in col.items]
        expect(values == [0, 1, 2, 3, 4], f"OUTPUT values {values}, want [0, 1, 2, 3, 4]")
        ids = {r.get_response().id for r, _ in col.items}
        expect(ids == {"count-5"}, f"response ids {ids}, want {{'count-5'}}")

    @check(f"grpc: stream infer {model}, two requests on one stream, empty final responses")
    def _():
        col = StreamCollector()
        client.start_stream(callback=col, stream_timeout=TIMEOUT_S)
        try:
            client.async_stream_infer(model, [count_input(3)], request_id="a", enable_empty_final_response=True)
            client.async_stream_infer(model, [count_input(4)], request_id="b", enable_empty_final_response=True)
            col.wait_for(lambda items: sum(1 for r, e in items if e is None and is_final(r)) >= 2 or
                         any(e is not None for _, e in items))
        finally:
            client.stop_stream()
        errors = [e for _, e in col.items if e is not None]
        expect(not errors, f"stream errors: {[str(e) for e in errors]}")
        by_id: dict[str, list] = {}
        finals: dict[str, int] = {}
        for r, _ in col.items:
            rid = r.get_response().id
            if is_final(r):
                finals[rid] = finals.get(rid, 0) + 1
                expect(r.as_numpy("OUTPUT") is None, f"final response for {rid} carries OUTPUT")
            else:
                by_id.setdefault(rid, []).append(int(r.as_numpy("OUTPUT").reshape(-1)[0]))
        expect(by_id == {"a": [0, 1, 2], "b": [0, 1, 2, 3]}, f"values by request id {by_id}")
        expect(finals == {"a": 1, "b": 1}, f"final responses by id {finals}, want one each")

    @check(f"grpc: stream infer on an unknown model -> an error on the stream")
    def _():
        col = StreamCollector()
        client.start_stream(callback=col, stream_timeout=TIMEOUT_S)
        try:
            client.async_stream_infer("no_such_model", [count_input(2)], request_id="bad")
            col.wait_for(lambda items: len(items) >= 1)
        finally:
            client.stop_stream()
        expect(len(col.items) == 1, f"{len(col.items)} callbacks, want 1 (the error)")
        result, error = col.items[0]
        expect(error is not None and result is None, "got a result, want an error")
        # Real Triton: in-stream error_message, status None. A gRPC status NOT_FOUND ending the
        # stream is accepted too.
        expect(error.status() in (None, "StatusCode.NOT_FOUND"), f"error status {error.status()!r}")
        expect(bool(error.message()), "error without a message")


# ---------------------------------------------------------------- load


def load(args) -> int:
    url, ssl = host_port(args.grpc_url)
    threads = args.threads
    n = args.load
    lock = threading.Lock()
    counters = {"ok": 0, "errors": 0}
    first_errors: list[str] = []
    next_i = iter(range(n))

    def worker(t: int) -> None:
        client = grpcclient.InferenceServerClient(url, ssl=ssl)
        try:
            while True:
                with lock:
                    i = next(next_i, None)
                if i is None:
                    return
                batch = 1 + i % 8
                a, b = add_sub_data(batch, seed=i)
                try:
                    r = client.infer(args.model, grpc_inputs(a, b), client_timeout=TIMEOUT_S)
                    expect_add_sub(r, a, b, f"load request {i}")
                    with lock:
                        counters["ok"] += 1
                except Exception as e:  # noqa: BLE001
                    with lock:
                        counters["errors"] += 1
                        if len(first_errors) < 5:
                            first_errors.append(f"request {i}: {type(e).__name__}: {e}")
        finally:
            client.close()

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    summary = {"load": n, "threads": threads, "ok": counters["ok"], "errors": counters["errors"],
               "seconds": round(dt, 3), "rps": round(n / dt, 1) if dt > 0 else None, "first_errors": first_errors}
    print(json.dumps(summary), flush=True)
    if counters["errors"] or counters["ok"] != n:
        print(f"FAIL load: {counters['errors']} of {n} requests failed: {first_errors}", flush=True)
        return 1
    print(f"PASS load: {n} add_sub gRPC infers from {threads} threads in {dt:.2f}s", flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--http-url", help="KServe v2 HTTP base, http://host:port (host:port also accepted)")
    ap.add_argument("--grpc-url", help="gRPC address host:port (http://host:port also accepted)")
    ap.add_argument("--requests", type=int, default=8, help="infer requests per protocol (default 8)")
    ap.add_argument("--load", type=int, metavar="N", help="only run N add_sub gRPC infers from --threads threads")
    ap.add_argument("--threads", type=int, default=8, help="threads for --load (default 8)")
    ap.add_argument("--model", default="add_sub", help="the add_sub model's name (default add_sub)")
    ap.add_argument("--stream-model", default="stream_counter", help="default stream_counter")
    ap.add_argument("--generate", action="store_true",
                    help="also check the generate extension on tiny_gen (HTTP, plain urllib)")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-grpc", action="store_true")
    args = ap.parse_args()

    if args.load is not None:
        if not args.grpc_url:
            ap.error("--load needs --grpc-url")
        return load(args)
    if not args.skip_http and not args.http_url:
        ap.error("--http-url is required (or --skip-http)")
    if not args.skip_grpc and not args.grpc_url:
        ap.error("--grpc-url is required (or --skip-grpc)")

    if not args.skip_http:
        http_checks(args)
        if args.generate:
            generate_checks(args)
    if not args.skip_grpc:
        grpc_checks(args)
    failed = [r for r in RESULTS if not r[1]]
    if failed:
        print(f"FAILED {len(failed)} of {len(RESULTS)} checks: {', '.join(n for n, _, _ in failed)}", flush=True)
        return 1
    print(f"OK: all {len(RESULTS)} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
