"""Small shared helpers: seeds, atomic writes, progress bars, device choice."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def derive_seeds(random_state: int | None, n: int = 3) -> list[int]:
    """Derive ``n`` independent integer seeds (numpy, torch, xgboost, ...) from one ``random_state``."""
    ss = np.random.SeedSequence(0 if random_state is None else int(random_state))
    return [int(s.generate_state(1)[0]) for s in ss.spawn(n)]


def check_random_state(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """Return a numpy Generator for ``random_state`` (an int seed, a Generator, or None = 0)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(0 if random_state is None else int(random_state))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A failure leaves no partial file behind. The temporary file keeps ``path``'s suffix so that
    writers that look at the extension (h5ad, png) behave.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or "".join(path.suffixes), dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates owner-only files; give the result the permissions a plain open() would
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs):
    """Wrap ``iterable`` in a ``tqdm.auto`` progress bar that can be switched off."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not enabled, **kwargs)


def resolve_device(device: str = "auto") -> str:
    """Map ``"auto"`` to ``"cuda"`` when a GPU is present, else ``"cpu"``; check explicit choices."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        msg = f"device={device!r} requested but no CUDA GPU is available; use device='auto' or 'cpu'."
        raise ValueError(msg)
    return device
