"""stream_counter (decoupled): COUNT = n -> n responses with OUTPUT = [i] for i in 0..n-1, then a
final empty response carrying only TRITONSERVER_RESPONSE_COMPLETE_FINAL. COUNT < 0 answers one
error response. Optional DELAY_MS (default 0) sleeps before each response (requests are handled one
after another: one model instance, responses sent from execute()).
"""

import os
import sys
import time

for _p in reversed(os.environ.get("SWITCHYARD_TRITON_SITE_PACKAGES", "").split(os.pathsep)):
    if _p and _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


def _scalar(request, name, default):
    t = pb_utils.get_input_tensor_by_name(request, name)
    return default if t is None else int(t.as_numpy().reshape(-1)[0])


class TritonPythonModel:
    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            count = _scalar(request, "COUNT", 0)
            delay_s = max(0, _scalar(request, "DELAY_MS", 0)) / 1000.0
            if count < 0:
                sender.send(
                    pb_utils.InferenceResponse(error=pb_utils.TritonError(f"COUNT must be >= 0, got {count}")),
                    flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL,
                )
                continue
            for i in range(count):
                if delay_s:
                    time.sleep(delay_s)
                if request.is_cancelled():
                    break
                out = pb_utils.Tensor("OUTPUT", np.array([i], dtype=np.int32))
                sender.send(pb_utils.InferenceResponse(output_tensors=[out]))
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None
