"""Where :func:`gex_impute.tl.complete` puts its result: in memory, or an h5ad / zarr store by row blocks.

The stores are written the way anndata reads them: the annotation (``obs``, ``var``, ``uns``)
by anndata itself into a skeleton, then the matrices as datasets with anndata's dense-array
encoding, filled block by block, so the completed matrix never exists whole in memory. The
store is built under a temporary name beside the target and renamed onto it only when
complete (atomic on one file system).
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import OutputPathError, ParameterError

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

_ARRAY_ATTRS = {"encoding-type": "array", "encoding-version": "0.2.0"}
SUFFIXES = (".h5ad", ".zarr")


def check_output_path(out: str | os.PathLike, *, overwrite: bool, inputs: tuple = ()) -> Path:
    """Check that ``out`` can be written, before any computation; return it as a Path.

    The package's shared check (:func:`gex_impute._utils.check_output_path`: empty, an input,
    a folder where a file is expected or the reverse, exists, parent a file, read-only) plus
    what a store needs: a ``.h5ad`` or ``.zarr`` suffix and no existing store at all (even an
    empty folder) without ``overwrite``. A missing parent folder is created on writing.

    Raises
    ------
    ParameterError
        The suffix is neither ``.h5ad`` nor ``.zarr``.
    OutputPathError
        Any other reason ``out`` cannot be written.
    """
    from .._utils import ZARR_MARKERS
    from .._utils import check_output_path as shared_check

    if out is not None and str(out).strip() and Path(out).suffix.lower() not in SUFFIXES:
        msg = f"out={str(out)!r} must end in .h5ad or .zarr (the format is chosen from the suffix)."
        raise ParameterError(msg)
    is_store = Path(out).suffix.lower() == ".zarr"
    path = shared_check(
        out, what="out", inputs=inputs, overwrite=overwrite, directory=is_store, markers=ZARR_MARKERS
    )
    if path.exists() and not overwrite:
        msg = f"out={str(out)!r} exists; remove it, choose another path or pass overwrite=True."
        raise OutputPathError(msg)
    return path


def _replace(tmp: Path, path: Path) -> None:
    """Move the finished ``tmp`` onto ``path`` (a file atomically; a store via a moved-aside old copy)."""
    if tmp.is_dir() and path.exists():
        trash = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(path, trash)
        os.replace(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, path)


def _open_zarr_group(zarr, path: Path):
    """Open the zarr store at ``path`` for writing, without its consolidated metadata (zarr 2 or 3)."""
    if int(zarr.__version__.split(".")[0]) >= 3:
        return zarr.open_group(path, mode="r+", use_consolidated=False)
    return zarr.open_group(str(path), mode="r+")  # zarr 2 reads consolidated metadata only when asked


class MemoryWriter:
    """Collect the blocks into arrays and return an in-memory AnnData."""

    def __init__(self, obs: pd.DataFrame, var: pd.DataFrame, dtype: np.dtype, layers: dict[str, np.dtype]):
        shape = (len(obs), len(var))
        self.obs, self.var = obs, var
        self.x: np.ndarray | None = np.empty(shape, dtype=dtype)
        self.layers = {name: np.empty(shape, dtype=dt) for name, dt in layers.items()}

    def write(self, start: int, stop: int, x: np.ndarray, layers: dict[str, np.ndarray]) -> None:
        """Store rows ``start:stop``."""
        assert self.x is not None, "write after abort"
        self.x[start:stop] = x
        for name, block in layers.items():
            self.layers[name][start:stop] = block

    def finish(self, uns: dict) -> AnnData | None:
        """Return the completed AnnData."""
        from anndata import AnnData

        return AnnData(X=self.x, obs=self.obs, var=self.var, layers=self.layers, uns=uns)

    def abort(self) -> None:
        """Drop what was collected."""
        self.x = None


class StoreWriter:
    """Write the blocks into an ``.h5ad`` file or a ``.zarr`` store under a temporary name.

    The skeleton (obs, var, uns) is written by anndata when the writer is created, the matrices
    are created empty and filled by :meth:`write`; :meth:`finish` renames the store onto its
    target. ``uns`` is written at creation, so it must be known up front (timings are not).
    """

    def __init__(
        self,
        path: Path,
        obs: pd.DataFrame,
        var: pd.DataFrame,
        dtype: np.dtype,
        layers: dict[str, np.dtype],
        uns: dict,
        *,
        rows_per_chunk: int,
    ):
        from anndata import AnnData

        self.path = path
        self.zarr = path.suffix.lower() == ".zarr"
        remove_stale_stores(path)
        # the process id in the name tells a later run whether the writer is still alive
        self.tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")
        self.file: Any = None  # an h5py.File or a zarr Group while writing
        path.parent.mkdir(parents=True, exist_ok=True)
        skeleton = AnnData(obs=obs, var=var, uns=uns)
        shape = (len(obs), len(var))
        chunks = (max(1, min(rows_per_chunk, shape[0])), max(1, shape[1]))
        try:
            if self.zarr:
                import zarr

                with warnings.catch_warnings():
                    # anndata announces future zarr defaults (format 3, sharding); the store is valid
                    warnings.filterwarnings("ignore", message=r".*zarr v[23]", category=UserWarning)
                    skeleton.write_zarr(self.tmp)
                self.file = _open_zarr_group(zarr, self.tmp)
                create = self._create_zarr
            else:
                import h5py

                skeleton.write_h5ad(self.tmp)
                self.file = h5py.File(self.tmp, "r+")
                create = self._create_h5
            self.x = create(self.file, "X", shape, dtype, chunks)
            self.layers = {
                name: create(self.file["layers"], name, shape, dt, chunks) for name, dt in layers.items()
            }
        except BaseException:
            self.abort()
            raise

    @staticmethod
    def _create_h5(group, name, shape, dtype, chunks):
        ds = group.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks if shape[0] else None)
        ds.attrs.update(_ARRAY_ATTRS)
        return ds

    @staticmethod
    def _create_zarr(group, name, shape, dtype, chunks):
        # zarr >= 3: create_array; zarr 2 (no create_array) names it create_dataset
        create = group.create_array if hasattr(group, "create_array") else group.create_dataset
        arr = create(name, shape=shape, dtype=dtype, chunks=chunks, fill_value=None)
        arr.attrs.update(_ARRAY_ATTRS)
        return arr

    def write(self, start: int, stop: int, x: np.ndarray, layers: dict[str, np.ndarray]) -> None:
        """Write rows ``start:stop`` of every matrix."""
        self.x[start:stop] = x
        for name, block in layers.items():
            self.layers[name][start:stop] = block

    def finish(self, uns: dict | None = None) -> AnnData | None:
        """Replace ``uns`` (when given), close the store and rename it onto the target."""
        if uns is not None:
            try:
                from anndata.io import write_elem
            except ImportError:  # anndata < 0.11
                from anndata.experimental import write_elem

            del self.file["uns"]
            write_elem(self.file, "uns", uns)
        if self.zarr:
            import zarr

            zarr.consolidate_metadata(str(self.tmp))
        else:
            self.file.close()
        self.file = None
        _replace(self.tmp, self.path)
        return None

    def abort(self) -> None:
        """Close and delete the temporary store (zarr: once its pending writes are done)."""
        file = getattr(self, "file", None)
        if file is not None and not self.zarr:
            file.close()
        if self.zarr:
            _wait_for_zarr_io()
        self.file = None
        _delete(self.tmp)


def _wait_for_zarr_io(timeout: float = 30.0) -> None:
    """Wait until zarr's own I/O thread has no task left (zarr >= 3).

    zarr 3 writes on an event loop in a thread of its own. An interrupt (Ctrl-C, SIGTERM) stops
    only the main thread's wait, so writes still in flight would create the store's folder again
    after :meth:`StoreWriter.abort` deleted it.
    """
    import asyncio

    try:
        from zarr.core import sync as zarr_sync
    except ImportError:  # zarr 2 writes in the calling thread
        return
    loop = getattr(zarr_sync, "loop", [None])[0]
    if loop is None or loop.is_closed() or not loop.is_running():
        return

    async def idle() -> None:
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        if others:
            await asyncio.wait(others, timeout=timeout)

    try:
        asyncio.run_coroutine_threadsafe(idle(), loop).result(timeout + 1)
    except Exception:  # noqa: BLE001 - best effort: the folder is deleted either way
        return


def remove_stale_stores(path: Path) -> None:
    """Delete the temporary stores of ``path`` whose writer no longer runs; keep a live writer's.

    A process killed by SIGKILL (or by SIGTERM without the CLI's handler) cannot clean up.
    """
    import logging

    for tmp in path.parent.glob(f".{path.stem}.tmp-*{path.suffix}"):
        pid = tmp.name.removeprefix(f".{path.stem}.tmp-").split("-")[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        logging.getLogger("gex_impute").info("removing %s, left by a run that was stopped", tmp)
        _delete(tmp)


def _delete(path: Path) -> None:
    """Delete a temporary store: a folder (zarr) or a file (h5ad); nothing there is fine."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process
        return True
    return True
