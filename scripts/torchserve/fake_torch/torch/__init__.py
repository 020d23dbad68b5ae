"""STAND-IN `torch` for Switchyard's TorchServe tests. THIS IS NOT PYTORCH.

It provides only the names TorchServe 0.12's worker and base handler touch at import/load time,
so that handlers which do no tensor math (scripts/torchserve/handlers/) run without the ~3 GB real
torch. Everything tensor-related raises NotImplementedError. See ../README.md.
"""

from __future__ import annotations

import contextlib
import pickle

from . import backends, cuda, jit, profiler, xpu  # noqa: F401  (submodules TorchServe touches)

IS_SWITCHYARD_STAND_IN = True
# base_handler compares this against "1.8.1", "2.0.0a" and "2.2.2"; the local label marks the stub.
__version__ = "2.4.0+switchyard.stub"


def _unsupported(what: str):
    raise NotImplementedError(
        f"{what} is not available: this is Switchyard's stand-in `torch` package "
        "(scripts/torchserve/fake_torch), not PyTorch"
    )


class Tensor:
    """Never instantiated by the test handlers; exists for isinstance() checks."""

    def __init__(self, *args, **kwargs):
        _unsupported("torch.Tensor")


class device:  # noqa: N801  (mirrors torch.device)
    def __init__(self, type_: str = "cpu", index: int | None = None):
        if isinstance(type_, device):
            type_, index = type_.type, type_.index
        if ":" in str(type_):
            type_, idx = str(type_).split(":", 1)
            index = int(idx)
        self.type = str(type_)
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self}')"

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


float32 = "float32"
channels_last = "channels_last"


def save(obj, f, *args, **kwargs) -> None:
    """Pickles obj (real torch.save writes a zip of tensors; only the API shape matters here)."""
    if hasattr(f, "write"):
        pickle.dump(obj, f)
    else:
        with open(f, "wb") as fh:
            pickle.dump(obj, fh)


def load(f, *args, **kwargs):
    if hasattr(f, "read"):
        return pickle.load(f)
    with open(f, "rb") as fh:
        return pickle.load(fh)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def set_float32_matmul_precision(precision: str) -> None:
    pass


def manual_seed(seed: int) -> None:
    pass


def set_num_threads(n: int) -> None:
    pass


def get_num_threads() -> int:
    return 1


def compile(model=None, *args, **kwargs):  # noqa: A001
    return model if model is not None else (lambda m: m)


@contextlib.contextmanager
def _null_ctx(*args, **kwargs):
    yield


inference_mode = _null_ctx
no_grad = _null_ctx


def as_tensor(*args, **kwargs):
    _unsupported("torch.as_tensor")


def tensor(*args, **kwargs):
    _unsupported("torch.tensor")


def from_numpy(*args, **kwargs):
    _unsupported("torch.from_numpy")


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torch' has no attribute {name!r} (Switchyard's stand-in torch provides only "
        "what TorchServe's worker needs; see scripts/torchserve/fake_torch/README.md)"
    )
