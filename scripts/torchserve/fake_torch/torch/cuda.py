"""Stand-in torch.cuda (Switchyard test stub): no GPU, ever."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def get_device_capability(*args, **kwargs):
    raise RuntimeError("stand-in torch: no CUDA")


def set_device(*args, **kwargs):
    raise RuntimeError("stand-in torch: no CUDA")


def synchronize(*args, **kwargs) -> None:
    pass


def empty_cache() -> None:
    pass


class Event:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("stand-in torch: no CUDA")
