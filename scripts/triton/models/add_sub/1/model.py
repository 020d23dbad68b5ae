"""add_sub / add_sub_batched: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1 (FP32, [-1, 4]).

The same file serves both models (add_sub_batched/1/model.py is a copy). With the dynamic batcher
one execute() call gets several requests; each is answered with its own rows.
"""

import os
import sys

# The Python backend stub ignores PYTHONPATH; scripts/triton/fleet.py passes the triton venv's
# site-packages here so that numpy (and triton_python_backend_utils, which needs it) import.
for _p in reversed(os.environ.get("SWITCHYARD_TRITON_SITE_PACKAGES", "").split(os.pathsep)):
    if _p and _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            in0 = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            in1 = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            out0 = pb_utils.Tensor("OUTPUT0", (in0 + in1).astype(np.float32))
            out1 = pb_utils.Tensor("OUTPUT1", (in0 - in1).astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out0, out1]))
        return responses
