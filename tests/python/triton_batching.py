"""Router-side batching, checked with the stock tritonclient: many concurrent infer calls through
the router (which merges them into batches) must each get exactly the outputs that the same call
sent alone and directly to Triton gets, bit for bit, over HTTP (binary and JSON tensors) and gRPC.

    VENV="$(scripts/triton/install.sh)"
    "$VENV/bin/python" tests/python/triton_batching.py --router-http http://127.0.0.1:P \
        --router-grpc 127.0.0.1:P --direct-http http://127.0.0.1:T --direct-grpc 127.0.0.1:G

Models (scripts/triton/models): fixed_cost (INPUT [-1, L] FP32, OUTPUT = 2 * INPUT, 20 ms per call,
no dynamic batching) and add_sub (two inputs, two outputs, no dynamic batching). Each check sends
--threads concurrent callers, with row counts of 1 to 3 and two row lengths mixed (so that
incompatible requests meet in the router), then compares against direct, one-by-one answers.
A request with a wrong datatype sent among good ones must get Triton's own 400 / INVALID_ARGUMENT
while the others succeed. Prints PASS/FAIL lines and a JSON summary; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

RESULTS: list[tuple[str, bool, str]] = []
# Calls sent straight to --direct-http, by model (the caller subtracts them from Triton's counters).
DIRECT_CALLS: dict[str, int] = {}
TIMEOUT_S = 60.0


def record(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def strip(url: str) -> str:
    return url.split("://", 1)[-1]


def fixed_cost_request(i: int) -> dict[str, np.ndarray]:
    rows = 1 + i % 3
    length = 4 if i % 4 == 3 else 8
    rng = np.random.default_rng(i)
    return {"INPUT": rng.standard_normal((rows, length)).astype(np.float32)}


def add_sub_request(i: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1000 + i)
    rows = 1 + i % 3
    return {
        "INPUT0": rng.standard_normal((rows, 4)).astype(np.float32),
        "INPUT1": rng.standard_normal((rows, 4)).astype(np.float32),
    }


MODELS = {
    "fixed_cost": (fixed_cost_request, ["OUTPUT"]),
    "add_sub": (add_sub_request, ["OUTPUT0", "OUTPUT1"]),
}


def http_infer(client, model: str, arrays: dict[str, np.ndarray], outputs: list[str], binary: bool,
               request_id: str = ""):
    inputs = []
    for name, array in arrays.items():
        tensor = httpclient.InferInput(name, list(array.shape), "FP32" if array.dtype == np.float32 else "INT32")
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    requested = [httpclient.InferRequestedOutput(o, binary_data=binary) for o in outputs]
    result = client.infer(model, inputs, outputs=requested, request_id=request_id)
    return {o: result.as_numpy(o) for o in outputs}, result.get_response()


def grpc_infer(client, model: str, arrays: dict[str, np.ndarray], outputs: list[str], request_id: str = ""):
    inputs = []
    for name, array in arrays.items():
        tensor = grpcclient.InferInput(name, list(array.shape), "FP32" if array.dtype == np.float32 else "INT32")
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    requested = [grpcclient.InferRequestedOutput(o) for o in outputs]
    result = client.infer(model, inputs, outputs=requested, request_id=request_id, client_timeout=TIMEOUT_S)
    return {o: result.as_numpy(o) for o in outputs}, result.get_response(as_json=True)


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes() for k in a)


def concurrently(n: int, threads: int, call) -> list:
    """Runs call(i) for i in range(n) from `threads` threads started together."""
    results: list = [None] * n
    barrier = threading.Barrier(threads)
    lock = threading.Lock()
    todo = iter(range(n))

    def worker() -> None:
        barrier.wait()
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                results[i] = ("ok", call(i))
            except Exception as e:  # noqa: BLE001
                results[i] = ("error", e)

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def check_protocol(args, protocol: str, model: str, binary: bool) -> None:
    make, outputs = MODELS[model]
    n = args.requests
    name = f"{protocol}{'' if protocol == 'grpc' else '-binary' if binary else '-json'} {model}"
    local = threading.local()

    def router_call(i: int):
        if protocol == "grpc":
            if not hasattr(local, "grpc"):
                local.grpc = grpcclient.InferenceServerClient(strip(args.router_grpc))
            return grpc_infer(local.grpc, model, make(i), outputs, request_id=f"req-{i}")
        if not hasattr(local, "http"):
            local.http = httpclient.InferenceServerClient(strip(args.router_http), network_timeout=TIMEOUT_S)
        return http_infer(local.http, model, make(i), outputs, binary, request_id=f"req-{i}")

    through_router = concurrently(n, args.threads, router_call)
    direct = httpclient.InferenceServerClient(strip(args.direct_http), network_timeout=TIMEOUT_S)
    mismatches, errors = [], []
    for i, (kind, value) in enumerate(through_router):
        if kind == "error":
            errors.append(f"{i}: {value}")
            continue
        got, response = value
        want, _ = http_infer(direct, model, make(i), outputs, binary=binary)
        DIRECT_CALLS[model] = DIRECT_CALLS.get(model, 0) + 1
        if not same(got, want):
            mismatches.append(i)
        if response.get("id") != f"req-{i}":
            mismatches.append(f"{i} id {response.get('id')!r}")
    record(f"{name}: {n} concurrent calls answered bit-identically to direct calls",
           not mismatches and not errors, f"errors {errors[:3]} mismatches {mismatches[:5]}" if errors or mismatches else "")


def check_bad_among_good(args) -> None:
    """One wrong-datatype request in a crowd: Triton's own error for it, answers for the rest."""
    n = args.threads

    def call(i: int):
        client = httpclient.InferenceServerClient(strip(args.router_http), network_timeout=TIMEOUT_S)
        arrays = fixed_cost_request(i)
        if i == 0:
            arrays = {"INPUT": arrays["INPUT"].astype(np.int32)}
        return http_infer(client, "fixed_cost", arrays, ["OUTPUT"], binary=True)

    results = concurrently(n, n, call)
    bad_kind, bad = results[0]
    bad_ok = bad_kind == "error" and isinstance(bad, InferenceServerException) and bad.status() == "400"
    good_ok = all(kind == "ok" for kind, _ in results[1:])
    record("a wrong-datatype request among good ones gets Triton's 400; the others are answered",
           bad_ok and good_ok, f"bad={bad_kind}:{bad!r} good={[k for k, _ in results[1:]]}")

    def grpc_call(i: int):
        client = grpcclient.InferenceServerClient(strip(args.router_grpc))
        arrays = fixed_cost_request(i)
        if i == 0:
            arrays = {"INPUT": arrays["INPUT"].astype(np.int32)}
        return grpc_infer(client, "fixed_cost", arrays, ["OUTPUT"])

    results = concurrently(n, n, grpc_call)
    bad_kind, bad = results[0]
    bad_ok = bad_kind == "error" and isinstance(bad, InferenceServerException) \
        and bad.status() == "StatusCode.INVALID_ARGUMENT"
    good_ok = all(kind == "ok" for kind, _ in results[1:])
    record("gRPC: a wrong-datatype request among good ones gets INVALID_ARGUMENT; the others are answered",
           bad_ok and good_ok, f"bad={bad_kind}:{bad!r} good={[k for k, _ in results[1:]]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--router-http", required=True)
    ap.add_argument("--router-grpc", required=True)
    ap.add_argument("--direct-http", required=True)
    ap.add_argument("--requests", type=int, default=96)
    ap.add_argument("--threads", type=int, default=24)
    args = ap.parse_args()
    for model in MODELS:
        check_protocol(args, "http", model, binary=True)
        check_protocol(args, "http", model, binary=False)
        check_protocol(args, "grpc", model, binary=True)
    check_bad_among_good(args)
    failed = [r for r in RESULTS if not r[1]]
    print(json.dumps({"checks": len(RESULTS), "failed": len(failed), "direct_calls": DIRECT_CALLS}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
