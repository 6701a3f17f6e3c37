"""AnnData on disk: ``.h5ad`` (HDF5) and ``.zarr`` stores, read with clear errors, written atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .._data_keys import check_anndata
from .._utils import ZARR_MARKERS, atomic_path, check_output_path
from ..errors import InputFileError, OutputPathError, ParameterError
from ._text import check_input_file, file_kind, gzip_content_kind

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["read_h5ad", "read_zarr", "write_h5ad", "write_zarr"]

_FIX = "write it again (gex_impute.io.write_h5ad / AnnData.write_h5ad) or copy it again from its source"


def read_h5ad(path: str | os.PathLike, **kwargs) -> AnnData:
    """Read an ``.h5ad`` file, refusing empty, truncated, corrupt and non-HDF5 files clearly.

    Parameters
    ----------
    path
        The file.
    **kwargs
        Passed to :func:`anndata.read_h5ad` (e.g. ``backed="r"``).

    Returns
    -------
    The AnnData.

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    InputFileError
        For a folder, an empty file, a file that is not HDF5 (a GCT or TSV, a gzip file, ...), a
        truncated or corrupt HDF5 file, and an HDF5 file that holds no AnnData; the message names
        the file and the fix.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_h5ad("test-data/sim.h5ad")  # doctest: +SKIP
    """
    import anndata

    path = check_input_file(path, ".h5ad file")
    kind = file_kind(path)
    if kind == "empty":
        msg = f"{path} is empty (0 bytes), not an .h5ad file; the write was probably interrupted: {_FIX}."
        raise InputFileError(msg)
    if kind == "gzip" and gzip_content_kind(path) == "hdf5":
        msg = (
            f"{path} is a gzip-compressed .h5ad file; decompress it first (gunzip {path.name}) and pass "
            "the .h5ad it gives."
        )
        raise InputFileError(msg)
    if kind != "hdf5":
        hint = {
            "gzip": "a gzip file (a .gct.gz or .tsv.gz? read it with gex_impute.io.read_expression)",
            "zip": "a zip archive (a zipped zarr store or a model archive?)",
            "text": "a text file (a GCT or TSV table? read it with gex_impute.io.read_expression)",
            "binary": "a binary file of another format",
        }[kind]
        msg = f"{path} is not an .h5ad (HDF5) file: it is {hint}."
        raise InputFileError(msg)
    _check_anndata_groups(path)
    try:
        return anndata.read_h5ad(path, **kwargs)
    except MemoryError:
        raise
    except Exception as err:  # any failure to decode the file's content is a file problem
        msg = f"{path}: cannot read it as AnnData ({type(err).__name__}: {err}); the file is corrupt: {_FIX}."
        raise InputFileError(msg) from err


def _check_anndata_groups(path: Path) -> None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
            encoding = f.attrs.get("encoding-type", "")
    except MemoryError:
        raise
    except Exception as err:  # OSError for a truncated file, RuntimeError/KeyError for broken groups
        reason = str(err)
        what = "truncated (cut short)" if "truncated" in reason else "corrupt"
        msg = f"{path} is a {what} HDF5 file ({reason}); {_FIX}."
        raise InputFileError(msg) from err
    if not ({"obs", "var"} <= keys or encoding == "anndata"):
        msg = (
            f"{path} is an HDF5 file but holds no AnnData (top-level entries: {sorted(keys)[:10]}); "
            "pass an .h5ad written by anndata / scanpy."
        )
        raise InputFileError(msg)


def write_h5ad(adata: AnnData, path: str | os.PathLike, *, compression: str | None = "gzip") -> None:
    """Write ``adata`` to ``path`` atomically: a failed write leaves no partial file.

    Parameters
    ----------
    adata
        The AnnData.
    path
        Destination ``.h5ad`` file (parent folders are created; an existing file is replaced only
        once the new one is complete).
    compression
        HDF5 compression of the matrices (``"gzip"``, ``"lzf"`` or None).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_genes=100)
    >>> gi.io.write_h5ad(adata, "sim.h5ad")  # doctest: +SKIP
    """
    check_anndata(adata)
    if compression not in ("gzip", "lzf", None):
        msg = f"compression={compression!r} is not an HDF5 filter h5py always has; use 'gzip', 'lzf' or None."
        raise ParameterError(msg)
    check_output_path(path, what=".h5ad file")
    # pandas >= 3 gives string columns a nullable string dtype that anndata writes only when allowed
    with (
        atomic_path(path, suffix=".h5ad") as tmp,
        nullable_strings_allowed(),
    ):
        adata.write_h5ad(tmp, compression=compression)


def nullable_strings_allowed() -> contextlib.AbstractContextManager:
    """Let anndata write pandas' nullable string columns (pandas >= 3); a no-op without that option."""
    import anndata

    settings = getattr(anndata, "settings", None)  # anndata < 0.11 has no settings (nor the restriction)
    try:
        return settings.override(allow_write_nullable_strings=True)  # type: ignore[union-attr]
    except (AttributeError, TypeError, KeyError, ValueError):
        return contextlib.nullcontext()


def read_zarr(path: str | os.PathLike) -> AnnData:
    """Read an AnnData zarr store (a folder), with a clear error when it is not one.

    Parameters
    ----------
    path
        The ``.zarr`` folder.

    Returns
    -------
    The AnnData.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_zarr("sim.zarr")  # doctest: +SKIP
    """
    import anndata

    path = Path(path)
    if not path.exists():
        msg = f"zarr store not found: {path}; check the path."
        raise FileNotFoundError(msg)
    if not path.is_dir() or not any((path / n).exists() for n in ("zarr.json", ".zgroup", ".zattrs")):
        msg = (
            f"{path} is not a zarr store (a folder with zarr.json or .zgroup); pass an AnnData .zarr folder."
        )
        raise InputFileError(msg)
    try:
        return anndata.read_zarr(path)
    except MemoryError:
        raise
    except Exception as err:
        msg = f"{path}: cannot read it as an AnnData zarr store ({type(err).__name__}: {err})."
        raise InputFileError(msg) from err


def write_zarr(adata: AnnData, path: str | os.PathLike) -> None:
    """Write ``adata`` as a zarr store (a folder), atomically: complete, or not there at all.

    The store is written into a temporary folder beside ``path`` and renamed onto it; an existing
    store at ``path`` is replaced only after the new one is complete.

    Parameters
    ----------
    adata
        The AnnData.
    path
        Destination folder, e.g. ``sim.zarr``.

    Examples
    --------
    >>> import gex_impute as gi
    >>> gi.io.write_zarr(gi.datasets.simulate(n_genes=50), "sim.zarr")  # doctest: +SKIP
    """
    check_anndata(adata)
    path = Path(path)
    if path.exists() and not path.is_dir():
        msg = f"{path} exists and is a file; a zarr store is a folder. Remove it or choose another path."
        raise OutputPathError(msg)
    check_output_path(path, what="zarr store", directory=True, markers=ZARR_MARKERS)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    old = None
    try:
        store = tmp / "store.zarr"
        with warnings.catch_warnings():
            # anndata announces that its default zarr format will change; the store written here
            # (zarr v2, consolidated metadata) is what anndata and zarr read today
            warnings.filterwarnings("ignore", message="Writing zarr v2 data will no longer be the default")
            with nullable_strings_allowed():
                adata.write_zarr(store)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / "store.zarr")
        os.replace(store, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
