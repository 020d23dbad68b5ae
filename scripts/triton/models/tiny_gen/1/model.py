"""tiny_gen (decoupled): a deterministic, CPU-cheap stand-in for an LLM behind Triton's generate
extension. Word i of the answer to prompt P is f"w{crc32(P + b'#' + str(i)) % 10000}".

Inputs: text_input BYTES [1]; max_tokens INT32 [1] (optional, default 8); stream BOOL [1]
(optional, default false: the convention of Triton's vLLM and TensorRT-LLM backends).
 - stream false (or absent): ONE response, text_output = all words, each with a leading space
   (" w1 w2 w3"), finish_reason = "length". This is what POST .../generate needs.
 - stream true: one response per word (text_output = " wN"), the last one also carrying
   finish_reason = "length", then an empty response with only the FINAL flag (Triton sends no SSE
   event for it). max_tokens 0 gives one response with text_output "" in both modes.
Outputs: text_output BYTES [1]; finish_reason BYTES [1] (only in the last data response).

What Triton 2.51 answers (verified with curl against scripts/triton/start.sh; bodies verbatim):

  POST /v2/models/tiny_gen/generate   {"text_input": "hello world", "max_tokens": 3}
  -> 200 application/json
     {"finish_reason":"length","model_name":"tiny_gen","model_version":"1","text_output":" w5204 w2738 w1624"}

  POST /v2/models/tiny_gen/generate_stream   {"text_input": "hello world", "max_tokens": 3, "stream": true}
  -> 200 text/event-stream; charset=utf-8, one event per model response, no terminating event
     (no "[DONE]"): the stream simply ends when the model sends the FINAL flag:
     data: {"model_name":"tiny_gen","model_version":"1","text_output":" w5204"}\n\n
     data: {"model_name":"tiny_gen","model_version":"1","text_output":" w2738"}\n\n
     data: {"finish_reason":"length","model_name":"tiny_gen","model_version":"1","text_output":" w1624"}\n\n

  POST .../generate_stream WITHOUT "stream": true -> the same single event as /generate gives
     (the whole text in one event); Triton itself does not tell the model which endpoint was used.

  POST .../generate with "stream": true (more than one response from a decoupled model)
  -> HTTP 200 (!) application/json, body
     {"error":"generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses"}
     i.e. /generate on a decoupled model works only when the model sends exactly one data response.

  Errors: a model error (missing text_input, max_tokens < 0) -> 400 {"error":"text_input is required"}
  on /generate; on /generate_stream the status is 400 too, with Content-Type text/event-stream and
  one event  data: {"error":"max_tokens must be >= 0, got -1"}. Unknown model on either endpoint ->
  404 application/json {"error":"Request for unknown model: 'nope' is not found"}. A JSON value
  Triton cannot convert ("max_tokens": "x" or 2.5) -> 500 {"error":"Unable to parse 'data': attempt
  to access JSON non-signed-integer as signed-integer"}; body not JSON -> 500. Keys that name no
  input ("temperature": 0.5, "parameters": {...}) are accepted and ignored by this model; a list
  (["hi"], [2]) works like the scalar.

  Output JSON keys are sorted (finish_reason, model_name, model_version, text_output); scalar
  inputs in the request are plain JSON values (not lists) for dims [1]; BYTES come back as strings.
  POST /v2/models/tiny_gen/infer (the tensor API over HTTP) is refused for decoupled models:
  501 {"error":"HTTP end point doesn't support models with decoupled transaction policy"}
  (use gRPC ModelStreamInfer for the tensor API).
"""

import os
import sys
import zlib

for _p in reversed(os.environ.get("SWITCHYARD_TRITON_SITE_PACKAGES", "").split(os.pathsep)):
    if _p and _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

DEFAULT_MAX_TOKENS = 8
FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


def word(prompt: bytes, i: int) -> str:
    """Word i of the answer to prompt (bytes); deterministic across processes (no hash())."""
    return f"w{zlib.crc32(prompt + b'#' + str(i).encode()) % 10000}"


def generate(prompt: bytes, max_tokens: int) -> list[str]:
    return [" " + word(prompt, i) for i in range(max_tokens)]


def _first(request, name):
    t = pb_utils.get_input_tensor_by_name(request, name)
    if t is None:
        return None
    flat = t.as_numpy().reshape(-1)
    return flat[0] if flat.size else None


def _bytes_tensor(name: str, text: str):
    return pb_utils.Tensor(name, np.array([text.encode()], dtype=np.object_))


class TritonPythonModel:
    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            try:
                prompt = _first(request, "text_input")
                if prompt is None:
                    raise ValueError("text_input is required")
                if not isinstance(prompt, bytes):
                    prompt = str(prompt).encode()
                mt = _first(request, "max_tokens")
                max_tokens = DEFAULT_MAX_TOKENS if mt is None else int(mt)
                if max_tokens < 0:
                    raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
                stream = _first(request, "stream")
                stream = bool(stream) if stream is not None else False
            except ValueError as e:
                sender.send(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(e))), flags=FINAL)
                continue
            words = generate(prompt, max_tokens)
            finish = _bytes_tensor("finish_reason", "length")
            if not stream or not words:
                text = _bytes_tensor("text_output", "".join(words))
                sender.send(pb_utils.InferenceResponse(output_tensors=[text, finish]), flags=FINAL)
                continue
            for i, w in enumerate(words):
                if request.is_cancelled():
                    break
                outs = [_bytes_tensor("text_output", w)]
                if i == len(words) - 1:
                    outs.append(finish)
                sender.send(pb_utils.InferenceResponse(output_tensors=outs))
            sender.send(flags=FINAL)
        return None
