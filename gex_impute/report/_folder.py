"""Write a whole folder atomically: build it under a temporary name beside it, then rename it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["staged_folder"]


@contextlib.contextmanager
def staged_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; it becomes ``path`` only if the block succeeds.

    An existing ``path`` is replaced (moved aside, then removed) once the new folder is
    complete; a failure leaves ``path`` as it was and no temporary folder behind.

    Examples
    --------
    >>> with staged_folder("report") as tmp:  # doctest: +SKIP
    ...     (tmp / "index.html").write_text("...")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes owner-only folders; give what mkdir would
    old = None
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
        try:
            os.replace(tmp, path)
        except BaseException:
            if old is not None:  # put the previous folder back
                os.replace(old / path.name, path)
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
