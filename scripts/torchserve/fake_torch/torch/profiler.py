"""Stand-in torch.profiler (Switchyard test stub); base_handler imports these three names."""

import contextlib
import enum


class ProfilerActivity(enum.Enum):
    CPU = "CPU"
    CUDA = "CUDA"


@contextlib.contextmanager
def profile(*args, **kwargs):
    yield None


@contextlib.contextmanager
def record_function(*args, **kwargs):
    yield None


def tensorboard_trace_handler(*args, **kwargs):
    return lambda *a, **k: None
