"""Streaming echo handler for Switchyard's TorchServe tests (no torch). Needs echo.py beside it
(archived with --extra-files). batchSize 1.

For each request it sends 3 intermediate responses with TorchServe's
send_intermediate_predict_response, then the final one: 4 chunks in all, each one compact JSON
object followed by "\n" (so HTTP chunked output is NDJSON; over gRPC StreamPredictions each
chunk is one PredictionResponse.prediction):

    {"chunk":0,"echo":...,"final":false,"model":"echo_stream","of":4,...}
    ...
    {"chunk":3,"echo":...,"final":true,...,"sum":6}

Only the final chunk carries "sum". Control keys as in echo.py ({"sleep_ms": N} sleeps before
each chunk here; "fail" fails before the first chunk).
"""

from __future__ import annotations

from echo import apply_controls, decode_value, dumps, model_version, number_sum, pick_input
from ts.handler_utils.utils import send_intermediate_predict_response

CHUNKS = 4  # 3 intermediate + 1 final


def _chunk(i: int, echo, context, final: bool) -> str:
    obj = {"chunk": i, "echo": echo, "final": final, "model": context.model_name, "of": CHUNKS,
           "version": model_version(context)}
    if final:
        obj["sum"] = number_sum(echo)
    return dumps(obj) + "\n"


def handle(data, context):
    if data is None:
        return None
    echoes = []
    for row in data:
        _, value = pick_input(row)
        echo, _ = decode_value(value)
        echoes.append(echo)
    for i in range(CHUNKS - 1):
        for echo in echoes:
            if i == 0:
                apply_controls(echo)
            else:
                _sleep_only(echo)
        send_intermediate_predict_response(
            [_chunk(i, e, context, False) for e in echoes], context.request_ids,
            "Intermediate Prediction success", 200, context)
    for idx in range(len(echoes)):
        context.set_response_content_type(idx, "application/x-ndjson")
    return [_chunk(CHUNKS - 1, e, context, True) for e in echoes]


def _sleep_only(echo) -> None:
    if isinstance(echo, dict) and "sleep_ms" in echo:
        apply_controls({"sleep_ms": echo["sleep_ms"]})
