"""Stand-in torch.backends (Switchyard test stub): torch.backends.mps.is_available() is False."""

import types

mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cudnn = types.SimpleNamespace(enabled=False, benchmark=False, deterministic=False)
