#!/usr/bin/env python3
"""TorchServe-protocol client checks, run against Switchyard (or, with --direct, TorchServe itself).

Run with the TorchServe venv's python (it has grpcio, grpcio-tools, protobuf):

    PY="$(scripts/torchserve/install.sh)/bin/python"
    $PY tests/python/torchserve_clients.py --http-url http://127.0.0.1:8080 --grpc-url 127.0.0.1:7070 \
        [--proto-dir proto/protos | --proto-from-jar] [--direct] [--skip-grpc] [--skip-stream]
    $PY tests/python/torchserve_clients.py --http-url http://127.0.0.1:8080 --load 1000

The backends are the models of scripts/torchserve/start.sh (handlers in scripts/torchserve/handlers/):
echo (batchSize 1), echo_batched (batchSize 4, maxBatchDelay 50 ms), echo_stream (3 intermediate
responses + 1 final). gRPC stubs are compiled at run time with grpcio-tools from
PROTO_DIR/torchserve/inference.proto (default PROTO_DIR: the repo's proto/protos; package
org.pytorch.serve.grpc.inference; it imports google/rpc/status.proto, taken from PROTO_DIR when
there and otherwise written from a built-in copy of the public definition); --proto-from-jar uses the .proto files inside the installed
TorchServe's ts/frontend/model-server.jar instead (extracted into a temp dir).

Exit status 0 when every check passed; otherwise 1, with one "FAIL ..." line per failed check.
The checks expect what a correct router returns; where real TorchServe 0.12 answers differently,
--direct accepts TorchServe's own answer instead (so the script can be proved against a real
instance) and prints it as "KNOWN-DEVIATION".

---------------------------------------------------------------------------------------------
What real TorchServe 0.12.0 answers (measured against a live instance of scripts/torchserve/):

HTTP (inference API). Error bodies are pretty-printed JSON with a trailing newline,
Content-Type application/json; the status line of a handler success has an EMPTY reason phrase
("HTTP/1.1 200 "):
  unknown model   POST /predictions/nope          -> 404
      b'{\n  "code": 404,\n  "type": "ModelNotFoundException",\n  "message": "Model not found: nope"\n}\n'
  unknown version POST /predictions/echo/9.9      -> 404
      b'{\n  "code": 404,\n  "type": "ModelVersionNotFoundException",\n  "message": "Model version: 9.9 does not exist for model: echo"\n}\n'
  handler raises  (any exception)                 -> 503
      b'{\n  "code": 503,\n  "type": "InternalServerException",\n  "message": "Prediction failed"\n}\n'
  handler raises ts.utils.util.PredictionException("bad input", 400) -> 400
      b'{\n  "code": 400,\n  "type": "InternalServerException",\n  "message": "bad input"\n}\n'
  unknown path    POST /predictions or /nope      -> 404
      b'{\n  "code": 404,\n  "type": "ResourceNotFoundException",\n  "message": "Requested resource is not found, please refer to API document."\n}\n'
  GET /ping                                       -> 200 b'{\n  "status": "Healthy"\n}\n'
  curl -d '{"data":[1]}' (form content-type)      -> 200, but the handler gets NO input
      (TorchServe parses the form; "inputs": [] in the echo) -- always send a JSON content-type.
  streaming handler (echo_stream) over HTTP       -> 200, Transfer-Encoding: chunked, header
      ts_stream_next: true, no Content-Type; the chunks concatenated are the 4 NDJSON lines.

gRPC (InferenceAPIsService). details = message + "\n" + Java exception class:
  unknown model   Predictions/StreamPredictions   -> INTERNAL (not NOT_FOUND)
      'Model not found: nope\norg.pytorch.serve.archive.model.ModelNotFoundException'
  unknown version                                 -> INTERNAL
      'Model version: 9.9 does not exist for model: echo\norg.pytorch.serve.archive.model.ModelVersionNotFoundException'
  empty model_name                                -> INTERNAL 'Parameter model_name is required.\nBadRequestException.()'
  handler raises                                  -> UNAVAILABLE 'Prediction failed\norg.pytorch.serve.http.InternalServerException'
  PredictionException(msg, 400)                   -> INVALID_ARGUMENT 'msg\norg.pytorch.serve.http.InternalServerException'
      (404 -> NOT_FOUND, 418 -> FAILED_PRECONDITION)
  Ping -> health = b'{\n  "status": "Healthy"\n}\n' as a string (the HTTP body, pretty JSON)
  StreamPredictions on echo_stream                -> 4 PredictionResponse messages, one per chunk, OK.
  TRAP: StreamPredictions on a NON-streaming model (echo) -> the first (only) response arrives, then
      INTERNAL 'Worker died.\norg.pytorch.serve.http.InternalServerException'; the worker is
      restarted (a few seconds). This script never does that.
  TRAP: unary Predictions on a STREAMING model (echo_stream) -> returns the first chunk only, Java
      logs IllegalStateException "Stream is already completed", and that model's worker is wedged
      for good (READY in /models but every later request, HTTP or gRPC, hangs). Never do that either.

Success bodies of the echo handler are compact JSON with sorted keys, e.g. over HTTP with
Content-Type application/json and body {"data":[1,2,3]}:
  {"batch_size":1,"echo":{"data":[1,2,3]},"input_type":"json","inputs":["body"],"instance":"0","model":"echo","pid":25170,"sum":6,"version":"1.0"}
("pid" is the worker's and "instance" the fleet index of the server: they vary; everything else is
exact.) Over gRPC with input {"data": b'{"data":[1,2,3]}'} the same with "input_type":"bytes",
"inputs":["data"].
---------------------------------------------------------------------------------------------
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import importlib
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# google/rpc/status.proto as published in googleapis (the fields TorchServe's inference.proto needs).
STATUS_PROTO = """syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
option go_package = "google.golang.org/genproto/googleapis/rpc/status;status";
option java_multiple_files = true;
option java_outer_classname = "StatusProto";
option java_package = "com.google.rpc";
message Status {
  int32 code = 1;
  string message = 2;
  repeated google.protobuf.Any details = 3;
}
"""

# The parts of an echo response that vary between servers and workers.
VOLATILE = ("pid", "instance")


class Checks:
    def __init__(self, direct: bool):
        self.direct = direct
        self.passed = 0
        self.failed: list[str] = []
        self.deviations: list[str] = []
        self._lock = threading.Lock()

    def ok(self, name: str, detail: str = "") -> None:
        with self._lock:
            self.passed += 1
        print(f"ok   {name}{(': ' + detail) if detail else ''}", flush=True)

    def fail(self, name: str, msg: str) -> None:
        with self._lock:
            self.failed.append(name)
        print(f"FAIL {name}: {msg}", flush=True)

    def deviation(self, name: str, msg: str) -> None:
        with self._lock:
            self.deviations.append(name)
        print(f"KNOWN-DEVIATION {name}: {msg} (accepted because of --direct)", flush=True)

    def run(self, name: str, fn) -> None:
        try:
            fn()
        except AssertionError as e:
            self.fail(name, str(e))
        except Exception as e:  # noqa: BLE001  (a crash in one check must not hide the others)
            self.fail(name, f"{type(e).__name__}: {e}")
        else:
            self.ok(name)


# ---------------------------------------------------------------------------------- HTTP


class Http:
    def __init__(self, url: str, timeout: float):
        u = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if u.scheme != "http":
            raise SystemExit(f"--http-url: only http:// is supported, got {url}")
        self.host, self.port = u.hostname, u.port or 80
        self.prefix = u.path.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = c
        return c

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
        """(status, headers dict lower-cased, body bytes); one retry on a dropped keep-alive connection."""
        headers = {"Content-Type": content_type} if content_type else {}
        for attempt in (0, 1):
            c = self._conn()
            try:
                c.request(method, self.prefix + path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    c.close()
                    self._local.conn = None
                return r.status, hdrs, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                c.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def expected_echo(model: str, echo, input_type: str, inputs: list[str], total, batch_size: int = 1) -> dict:
    return {"batch_size": batch_size, "echo": echo, "input_type": input_type, "inputs": inputs,
            "model": model, "sum": total, "version": "1.0"}


def check_echo_body(raw: bytes, want: dict, exact_batch: bool = True) -> dict:
    try:
        got = json.loads(raw)
    except ValueError:
        raise AssertionError(f"response is not JSON: {raw[:300]!r}")
    assert isinstance(got, dict), f"response is not a JSON object: {raw[:300]!r}"
    assert isinstance(got.get("pid"), int), f"no integer pid in {raw[:300]!r}"
    assert got.get("instance") is None or isinstance(got.get("instance"), str), f"bad instance in {raw[:300]!r}"
    rest = {k: v for k, v in got.items() if k not in VOLATILE}
    if not exact_batch:
        rest.pop("batch_size", None)
        want = {k: v for k, v in want.items() if k != "batch_size"}
    assert rest == want, f"body mismatch:\n  got  {json.dumps(rest, sort_keys=True)}\n  want {json.dumps(want, sort_keys=True)}"
    # The handler's exact bytes: compact, sorted keys (a router must not re-encode the body).
    canonical = json.dumps(got, sort_keys=True, separators=(",", ":")).encode()
    assert raw == canonical, f"body bytes were altered: got {raw[:300]!r}, handler sends {canonical[:300]!r}"
    return got


def http_checks(args, checks: Checks, h: Http) -> None:
    def ping():
        st, hd, body = h.request("GET", "/ping")
        assert st == 200, f"GET /ping: status {st}, body {body[:300]!r}"
        j = json.loads(body)
        assert j == {"status": "Healthy"}, f"GET /ping body {body!r}"

    checks.run("http ping", ping)

    def predict(path: str, body: bytes, ct: str, want: dict):
        def fn():
            st, hd, raw = h.request("POST", path, body, ct)
            assert st == 200, f"POST {path} ({ct}): status {st}, body {raw[:300]!r}"
            assert hd.get("content-type", "").split(";")[0].strip() == "application/json", \
                f"POST {path}: content-type {hd.get('content-type')!r}, want application/json"
            check_echo_body(raw, want)
        return fn

    j123 = b'{"data":[1,2,3]}'
    checks.run("http echo json", predict("/predictions/echo", j123, "application/json",
                                         expected_echo("echo", {"data": [1, 2, 3]}, "json", ["body"], 6)))
    checks.run("http echo json versioned", predict("/predictions/echo/1.0", j123, "application/json",
                                                   expected_echo("echo", {"data": [1, 2, 3]}, "json", ["body"], 6)))
    checks.run("http echo raw bytes (JSON inside)", predict(
        "/predictions/echo", b'{"data":[4,5]}', "application/octet-stream",
        expected_echo("echo", {"data": [4, 5]}, "bytes", ["body"], 9)))
    checks.run("http echo raw bytes versioned", predict(
        "/predictions/echo/1.0", b"\x00\xffhello", "application/octet-stream",
        expected_echo("echo", {"hex": "00ff68656c6c6f"}, "bytes", ["body"], None)))
    checks.run("http echo text", predict("/predictions/echo", b"hello", "text/plain",
                                         expected_echo("echo", "hello", "text", ["body"], None)))

    def err(path: str, body: bytes, want_status: int, want_in_message: str | None = None):
        def fn():
            st, hd, raw = h.request("POST", path, body, "application/json")
            assert st == want_status, f"POST {path}: status {st}, want {want_status}; body {raw[:300]!r}"
            if "json" in hd.get("content-type", ""):
                try:
                    j = json.loads(raw)
                except ValueError:
                    raise AssertionError(f"POST {path}: content-type JSON but body is not: {raw[:300]!r}")
                if want_in_message and isinstance(j, dict) and "message" in j:
                    assert want_in_message in str(j["message"]), \
                        f"POST {path}: message {j['message']!r} lacks {want_in_message!r}"
        return fn

    checks.run("http unknown model -> 404", err("/predictions/no_such_model", b"{}", 404, "no_such_model"))
    checks.run("http unknown version -> 404", err("/predictions/echo/9.9", b"{}", 404))
    checks.run("http handler exception -> 503", err("/predictions/echo", b'{"fail":"boom"}', 503))
    checks.run("http handler PredictionException(400) -> 400",
               err("/predictions/echo", b'{"fail":"bad input","fail_code":400}', 400, "bad input"))

    if not args.skip_stream:
        def stream():
            st, hd, raw = h.request("POST", "/predictions/echo_stream", j123, "application/json")
            assert st == 200, f"POST /predictions/echo_stream: status {st}, body {raw[:300]!r}"
            lines = raw.decode().splitlines()
            want = [json.dumps({"chunk": i, "echo": {"data": [1, 2, 3]}, "final": i == 3, "model": "echo_stream",
                                "of": 4, **({"sum": 6} if i == 3 else {}), "version": "1.0"},
                               sort_keys=True, separators=(",", ":")) for i in range(4)]
            assert lines == want, f"stream lines:\n  got  {lines}\n  want {want}"
            return hd.get("transfer-encoding")

        checks.run("http echo_stream (chunked NDJSON)", stream)

    def batched():
        # 2 rounds of 8 concurrent requests: with batchSize 4 / maxBatchDelay 50 ms TorchServe
        # hands the worker several at once; each response says how many it saw.
        sizes = []
        for rnd in range(2):
            with cf.ThreadPoolExecutor(8) as ex:
                futs = [ex.submit(h.request, "POST", "/predictions/echo_batched",
                                  json.dumps({"data": [rnd * 100 + i]}).encode(), "application/json")
                        for i in range(8)]
                for i, f in enumerate(futs):
                    st, hd, raw = f.result()
                    assert st == 200, f"echo_batched: status {st}, body {raw[:300]!r}"
                    got = check_echo_body(raw, expected_echo("echo_batched", {"data": [rnd * 100 + i]}, "json",
                                                             ["body"], rnd * 100 + i), exact_batch=False)
                    sizes.append(got["batch_size"])
            if max(sizes) > 1:
                break
        assert max(sizes) > 1, f"no response saw a batch > 1 (batch sizes {sizes})"
        assert max(sizes) <= 4, f"batch size above batchSize 4: {sizes}"
        print(f"     echo_batched batch sizes seen: {sorted(sizes)}", flush=True)

    checks.run("http echo_batched concurrent -> server-side batch > 1", batched)


# ---------------------------------------------------------------------------------- gRPC


def extract_jar_protos(dest: Path) -> Path:
    """Copies inference.proto (as torchserve/inference.proto) and google/rpc/status.proto out of the
    installed TorchServe's model-server.jar into dest; returns dest."""
    import ts  # the TorchServe package of this venv

    jar = Path(ts.__file__).parent / "frontend" / "model-server.jar"
    with zipfile.ZipFile(jar) as z:
        (dest / "torchserve").mkdir(parents=True, exist_ok=True)
        (dest / "torchserve" / "inference.proto").write_bytes(z.read("proto/inference.proto"))
        (dest / "google" / "rpc").mkdir(parents=True, exist_ok=True)
        (dest / "google" / "rpc" / "status.proto").write_bytes(z.read("google/rpc/status.proto"))
    return dest


def compile_stubs(proto_dir: Path, work: Path):
    """Compiles PROTO_DIR/torchserve/inference.proto (+ google/rpc/status.proto) into work; returns
    (inference_pb2, inference_pb2_grpc) modules."""
    import grpc_tools
    from grpc_tools import protoc

    src = proto_dir / "torchserve" / "inference.proto"
    if not src.is_file():
        raise SystemExit(f"{src} not found (use --proto-dir DIR with DIR/torchserve/inference.proto, "
                         "or --proto-from-jar)")
    includes = [proto_dir]
    status = proto_dir / "google" / "rpc" / "status.proto"
    if not status.is_file():
        fallback = work / "include"
        (fallback / "google" / "rpc").mkdir(parents=True, exist_ok=True)
        (fallback / "google" / "rpc" / "status.proto").write_text(STATUS_PROTO)
        includes.append(fallback)
        status = fallback / "google" / "rpc" / "status.proto"
    out = work / "gen"
    out.mkdir(parents=True, exist_ok=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    argv = ["grpc_tools.protoc", *(f"-I{p}" for p in includes), f"-I{well_known}",
            f"--python_out={out}", f"--grpc_python_out={out}", str(src), str(status)]
    rc = protoc.main(argv)
    if rc != 0:
        raise SystemExit(f"protoc failed ({rc}): {' '.join(argv)}")
    sys.path.insert(0, str(out))
    pb = importlib.import_module("torchserve.inference_pb2")
    pbg = importlib.import_module("torchserve.inference_pb2_grpc")
    return pb, pbg


def grpc_checks(args, checks: Checks, target: str, pb, pbg) -> None:
    import grpc
    from google.protobuf import empty_pb2

    channel = grpc.insecure_channel(target)
    stub = pbg.InferenceAPIsServiceStub(channel)
    t = args.timeout

    def ping():
        r = stub.Ping(empty_pb2.Empty(), timeout=t)
        assert json.loads(r.health) == {"status": "Healthy"}, f"Ping health {r.health!r}"

    checks.run("grpc Ping", ping)

    def predict(version: str, payload: bytes, want: dict):
        def fn():
            r = stub.Predictions(pb.PredictionsRequest(model_name="echo", model_version=version,
                                                       input={"data": payload}), timeout=t)
            check_echo_body(r.prediction, want)
        return fn

    checks.run("grpc Predictions echo", predict("", b'{"data":[1,2,3]}',
                                                expected_echo("echo", {"data": [1, 2, 3]}, "bytes", ["data"], 6)))
    checks.run("grpc Predictions echo version 1.0", predict("1.0", b"\x00\xff",
                                                            expected_echo("echo", {"hex": "00ff"}, "bytes",
                                                                          ["data"], None)))

    def code_check(name: str, req, want, native=None, stream=False):
        """want: the grpc.StatusCode a router must return; native: TorchServe's own, accepted with --direct."""
        def fn():
            try:
                if stream:
                    got = list(stub.StreamPredictions(req, timeout=t))
                    raise AssertionError(f"{name}: expected {want.name}, got {len(got)} responses")
                r = stub.Predictions(req, timeout=t)
                raise AssertionError(f"{name}: expected {want.name}, got a prediction {r.prediction[:200]!r}")
            except grpc.RpcError as e:
                code, details = e.code(), e.details()
            if code == want:
                return
            if native is not None and code == native and checks.direct:
                checks.deviation(name, f"TorchServe answers {code.name} {details!r}; a router must answer {want.name}")
                return
            raise AssertionError(f"{name}: status {code.name} {details!r}, want {want.name}")
        return fn

    S = grpc.StatusCode
    checks.run("grpc unknown model -> NOT_FOUND", code_check(
        "grpc unknown model", pb.PredictionsRequest(model_name="no_such_model", input={"data": b"{}"}),
        S.NOT_FOUND, native=S.INTERNAL))
    checks.run("grpc unknown version -> NOT_FOUND", code_check(
        "grpc unknown version", pb.PredictionsRequest(model_name="echo", model_version="9.9", input={"data": b"{}"}),
        S.NOT_FOUND, native=S.INTERNAL))
    checks.run("grpc handler exception -> UNAVAILABLE", code_check(
        "grpc handler exception", pb.PredictionsRequest(model_name="echo", input={"data": b'{"fail":"boom"}'}),
        S.UNAVAILABLE))
    checks.run("grpc PredictionException(400) -> INVALID_ARGUMENT", code_check(
        "grpc PredictionException(400)",
        pb.PredictionsRequest(model_name="echo", input={"data": b'{"fail":"bad input","fail_code":400}'}),
        S.INVALID_ARGUMENT))
    if not args.skip_stream:
        checks.run("grpc StreamPredictions unknown model -> NOT_FOUND", code_check(
            "grpc StreamPredictions unknown model",
            pb.PredictionsRequest(model_name="no_such_model", input={"data": b"{}"}), S.NOT_FOUND,
            native=S.INTERNAL, stream=True))

        def stream():
            got = [r.prediction for r in stub.StreamPredictions(
                pb.PredictionsRequest(model_name="echo_stream", input={"data": b'{"data":[1,2,3]}'}), timeout=t)]
            want = [(json.dumps({"chunk": i, "echo": {"data": [1, 2, 3]}, "final": i == 3, "model": "echo_stream",
                                 "of": 4, **({"sum": 6} if i == 3 else {}), "version": "1.0"},
                                sort_keys=True, separators=(",", ":")) + "\n").encode() for i in range(4)]
            assert got == want, f"StreamPredictions messages:\n  got  {got}\n  want {want}"

        checks.run("grpc StreamPredictions echo_stream (4 messages)", stream)
    channel.close()


# ---------------------------------------------------------------------------------- load


def load_mode(args, h: Http) -> int:
    n, threads = args.load, 8
    lat: list[float] = []
    errors: list[str] = []
    per_instance: dict[str, int] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        body = json.dumps({"data": [i, 1]}).encode()
        t0 = time.perf_counter()
        try:
            st, hd, raw = h.request("POST", "/predictions/echo", body, "application/json")
            dt = time.perf_counter() - t0
            if st != 200:
                raise AssertionError(f"status {st} {raw[:200]!r}")
            got = check_echo_body(raw, expected_echo("echo", {"data": [i, 1]}, "json", ["body"], i + 1))
            with lock:
                lat.append(dt)
                key = str(got.get("instance"))
                per_instance[key] = per_instance.get(key, 0) + 1
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(f"request {i}: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, range(n)))
    wall = time.perf_counter() - t0
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    print(f"load: {n} echo requests, {threads} threads, {wall:.2f}s, {n / wall:.0f} req/s, "
          f"p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {pct(1.0):.1f} ms, errors {len(errors)}, "
          f"by instance {dict(sorted(per_instance.items()))}", flush=True)
    for e in errors[:10]:
        print(f"FAIL {e}", flush=True)
    print(f"{n - len(errors)} passed, {len(errors)} failed", flush=True)
    return 1 if errors else 0


# ---------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--http-url", required=True, help="inference API base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--grpc-url", help="gRPC inference target host:port (an http:// prefix is ignored)")
    ap.add_argument("--proto-dir", default=None,
                    help="directory holding torchserve/inference.proto (default: the repo's proto/protos, "
                         "else proto/)")
    ap.add_argument("--proto-from-jar", action="store_true",
                    help="use the .proto files inside the installed TorchServe jar instead of --proto-dir")
    ap.add_argument("--direct", action="store_true",
                    help="talking to TorchServe itself: accept its own gRPC INTERNAL for unknown model/version")
    ap.add_argument("--skip-grpc", action="store_true")
    ap.add_argument("--skip-stream", action="store_true", help="skip the echo_stream checks")
    ap.add_argument("--load", type=int, metavar="N", help="only send N echo requests over HTTP from 8 threads")
    ap.add_argument("--timeout", type=float, default=30, help="per-request timeout, seconds")
    args = ap.parse_args()

    h = Http(args.http_url, args.timeout)
    if args.load:
        return load_mode(args, h)

    checks = Checks(args.direct)
    http_checks(args, checks, h)
    if not args.skip_grpc:
        if not args.grpc_url:
            raise SystemExit("--grpc-url host:port is required (or --skip-grpc)")
        target = args.grpc_url.split("://", 1)[-1].rstrip("/")
        with tempfile.TemporaryDirectory(prefix="ts-clients-") as work:
            work_p = Path(work)
            if args.proto_from_jar:
                proto_dir = extract_jar_protos(work_p / "jar")
            elif args.proto_dir:
                proto_dir = Path(args.proto_dir)
            else:
                candidates = [ROOT / "proto" / "protos", ROOT / "proto"]
                proto_dir = next((c for c in candidates if (c / "torchserve" / "inference.proto").is_file()),
                                 candidates[0])
            pb, pbg = compile_stubs(proto_dir.resolve(), work_p)
            grpc_checks(args, checks, target, pb, pbg)

    if checks.deviations:
        print(f"known TorchServe deviations accepted (--direct): {', '.join(checks.deviations)}", flush=True)
    print(f"{checks.passed} passed, {len(checks.failed)} failed", flush=True)
    if checks.failed:
        print("failed: " + "; ".join(checks.failed), file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
