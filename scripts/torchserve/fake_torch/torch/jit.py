"""Stand-in torch.jit (Switchyard test stub)."""


def load(*args, **kwargs):
    raise NotImplementedError("torch.jit.load: Switchyard's stand-in torch cannot load models")
