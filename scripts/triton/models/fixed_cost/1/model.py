"""fixed_cost: OUTPUT = INPUT * 2, and each execute() call sleeps a fixed cost_ms (config parameter,
default 20 ms) regardless of how many requests or rows it got: a GPU kernel's fixed overhead.
One model instance, so calls run one at a time: throughput is bounded by 1000/cost_ms calls/s.
"""

import os
import sys
import time

for _p in reversed(os.environ.get("SWITCHYARD_TRITON_SITE_PACKAGES", "").split(os.pathsep)):
    if _p and _p not in sys.path:
        sys.path.insert(0, _p)

import json  # noqa: E402

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        cost = config.get("parameters", {}).get("cost_ms", {}).get("string_value", "20")
        self.cost_s = float(cost) / 1000.0

    def execute(self, requests):
        time.sleep(self.cost_s)
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
            out = pb_utils.Tensor("OUTPUT", (x * 2).astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
