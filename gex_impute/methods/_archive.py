"""The model archive: one format for every method, without pickle.

A saved model is a zip file (a path ending in ``.zip``) or a folder, holding

* ``params.json``: format and package version, method name, hyperparameters, fitted state
  (gene ids, tissues, log1p flag, method-specific values) and the list of the other members;
* ``arrays/<name>.npy``: fitted arrays (``numpy.save`` with ``allow_pickle=False``);
* method-specific files, e.g. ``nets.pt`` (torch state dicts, read with ``weights_only=True``)
  and ``xgboost.json`` (the booster) for the hybrid model.

Reading is defensive: members are listed and size-checked before anything is read (no path
traversal, absolute paths, symlinks or unexpected names; at most :data:`MAX_TOTAL_BYTES`
uncompressed), ``params.json`` is parsed and checked against the method's schema (a callback)
before arrays and files are read, and every ``.npy`` header is checked (dtype, shape, size)
before its data are. Any problem is a :class:`~gex_impute.errors.ModelArchiveError`.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputPathError
from ._archive_members import ARRAY_NAME, FILE_NAMES, ArchiveMembers, fail

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ArchiveContent",
    "check_archive_path",
    "jsonable",
    "read_archive",
    "write_archive",
]

FORMAT = "gex_impute.model"
FORMAT_VERSION = 2
#: largest total uncompressed size of an archive's members (zip bombs stop here)
MAX_TOTAL_BYTES = 2 * 1024**3
#: largest ``params.json``
MAX_PARAMS_BYTES = 256 * 1024**2
MAX_MEMBERS = 256
MAX_JSON_DEPTH = 6
ARRAY_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
)
_TOP_KEYS = {
    "format",
    "format_version",
    "gex_impute_version",
    "method",
    "class",
    "params",
    "fitted",
    "arrays",
    "files",
}


@dataclass
class ArchiveContent:
    """What a model archive holds, in memory."""

    method: str
    class_name: str
    params: dict[str, Any]
    fitted: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    gex_impute_version: str = ""
    format_version: int = FORMAT_VERSION


def jsonable(value: Any) -> Any:
    """Turn ``value`` into plain JSON types (tuples and arrays as lists, numpy scalars as Python)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- writing -------------------------------------------------------------------------------------
def _members(content: ArchiveContent) -> dict[str, bytes]:
    arrays = {}
    for name, arr in content.arrays.items():
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        arrays[f"arrays/{name}.npy"] = buf.getvalue()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "gex_impute_version": content.gex_impute_version,
        "method": content.method,
        "class": content.class_name,
        "params": jsonable(content.params),
        "fitted": jsonable(content.fitted),
        "arrays": {n: {"dtype": str(a.dtype), "shape": list(a.shape)} for n, a in content.arrays.items()},
        "files": sorted(content.files),
    }
    return {"params.json": json.dumps(meta, indent=1).encode(), **arrays, **content.files}


def check_archive_path(path: str | os.PathLike, *, overwrite: bool = False) -> bool:
    """Check that a model can be saved at ``path`` (before fitting it); return whether it is a zip.

    Raises
    ------
    OutputPathError
        ``path`` exists and ``overwrite`` is False, or it is something other than a model.
    """
    path = Path(path)
    is_zip = path.suffix.lower() == ".zip"
    if path.exists() or path.is_symlink():
        if not overwrite:
            msg = f"{str(path)!r} already exists; pass overwrite=True or choose another path."
            raise OutputPathError(msg)
        if is_zip and path.is_dir():
            msg = f"{str(path)!r} is a folder; a model ending in .zip is written as a zip file."
            raise OutputPathError(msg)
        if not is_zip and (not path.is_dir() or path.is_symlink() or not (path / "params.json").is_file()):
            msg = f"{str(path)!r} exists and is not a saved model folder; choose another path."
            raise OutputPathError(msg)
    return is_zip


def write_archive(path: str | os.PathLike, content: ArchiveContent, *, overwrite: bool = False) -> Path:
    """Write ``content`` atomically: a zip file when ``path`` ends in ``.zip``, else a folder.

    Raises
    ------
    OutputPathError
        ``path`` exists and ``overwrite`` is False, or it is something other than a model.
    """
    from .._utils import atomic_path

    path = Path(path)
    members = _members(content)
    is_zip = check_archive_path(path, overwrite=overwrite)
    if is_zip:
        with atomic_path(path, suffix=".zip") as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, data in members.items():
                    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, data)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for name, data in members.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        # mkdtemp made the folder 0700 (other users, a Galaxy job, could not read the model): give
        # it the files' permissions (the umask's), searchable where readable
        mode = (tmp / next(iter(members))).stat().st_mode & 0o777
        tmp.chmod(mode | (mode & 0o444) >> 2)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path


# -- reading -------------------------------------------------------------------------------------
def _depth(value: Any, level: int = 0) -> int:
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _check_meta(path: Path, meta: Any) -> None:
    if not isinstance(meta, dict):
        raise fail(path, f"params.json holds a {type(meta).__name__}, not an object.")
    unknown, missing = sorted(set(meta) - _TOP_KEYS), sorted(_TOP_KEYS - set(meta))
    if unknown or missing:
        raise fail(path, f"params.json has unknown keys {unknown} / lacks keys {missing}.")
    if meta["format"] != FORMAT:
        raise fail(path, f"params.json is not a gex_impute model (format {meta['format']!r}).")
    version = meta["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version != FORMAT_VERSION:
        raise fail(
            path,
            f"format version {version!r}; this gex_impute reads version {FORMAT_VERSION}. "
            "Refit the model with this version, or use the gex_impute version that wrote it.",
        )
    for key, kind in (("gex_impute_version", str), ("method", str), ("class", str), ("params", dict)):
        if not isinstance(meta[key], kind):
            raise fail(
                path, f"params.json: {key!r} must be a {kind.__name__}, not {type(meta[key]).__name__}."
            )
    for key in ("fitted", "arrays"):
        if not isinstance(meta[key], dict):
            raise fail(path, f"params.json: {key!r} must be an object, not {type(meta[key]).__name__}.")
    files = meta["files"]
    if not isinstance(files, list) or not all(isinstance(f, str) and f in FILE_NAMES for f in files):
        raise fail(path, f"params.json: 'files' must list members among {FILE_NAMES}, got {files!r}.")
    depth = _depth(meta)
    if depth > MAX_JSON_DEPTH:
        raise fail(path, f"params.json is nested {depth} levels deep, more than a model's {MAX_JSON_DEPTH}.")


def _array_spec(path: Path, name: str, spec: Any) -> tuple[np.dtype, tuple[int, ...]]:
    if not (isinstance(name, str) and ARRAY_NAME.fullmatch(name)):
        raise fail(path, f"params.json names an invalid array {name!r}.")
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape"}:
        raise fail(path, f"params.json: array {name!r} must be described by dtype and shape, got {spec!r}.")
    dtype, shape = spec["dtype"], spec["shape"]
    if dtype not in ARRAY_DTYPES:
        raise fail(path, f"array {name!r} has dtype {dtype!r}; allowed: {ARRAY_DTYPES}.")
    if not (
        isinstance(shape, list)
        and len(shape) <= 4
        and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_TOTAL_BYTES for n in shape)
    ):
        raise fail(path, f"array {name!r} has an invalid shape {shape!r}.")
    return np.dtype(dtype), tuple(shape)


def _read_npy(path: Path, name: str, data: bytes, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    buf = io.BytesIO(data)
    try:
        major, _ = np.lib.format.read_magic(buf)
        header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        got_shape, fortran, got_dtype = header(buf)
    except (ValueError, OSError, SyntaxError) as err:
        raise fail(path, f"arrays/{name}.npy is not a valid .npy file ({err}).") from None
    if got_dtype != dtype or tuple(got_shape) != shape or fortran:
        raise fail(
            path, f"arrays/{name}.npy holds {got_dtype}{tuple(got_shape)}, params.json says {dtype}{shape}."
        )
    n_bytes = math.prod(shape) * dtype.itemsize
    if len(data) - buf.tell() != n_bytes:
        raise fail(
            path,
            f"arrays/{name}.npy has {len(data) - buf.tell()} data bytes, not the {n_bytes} of its shape.",
        )
    return np.frombuffer(data, dtype=dtype, offset=buf.tell()).reshape(shape).copy()


def read_archive(path: str | os.PathLike, check: Callable[[dict[str, Any]], None]) -> ArchiveContent:
    """Read a model archive (zip file or folder) written by :func:`write_archive`.

    Parameters
    ----------
    path
        The zip file or folder.
    check
        Called with the parsed ``params.json`` before any array or file is read; raises
        :class:`ModelArchiveError` when the method, hyperparameters or fitted state are invalid.

    Returns
    -------
    The archive's content.

    Raises
    ------
    ModelArchiveError
        Unreadable, unsafe, oversized or inconsistent archives.
    FileNotFoundError
        ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        msg = f"model {str(path)!r} does not exist; save one with model.save(path) or 'gex-impute fit'."
        raise FileNotFoundError(msg)
    source = ArchiveMembers(path, max_total=MAX_TOTAL_BYTES, max_members=MAX_MEMBERS)
    try:
        raw = source.read("params.json", MAX_PARAMS_BYTES)
        try:
            meta = json.loads(raw.decode("utf-8"))
        except RecursionError:
            raise fail(
                path, f"params.json is nested too deeply (more than {MAX_JSON_DEPTH} levels)."
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise fail(path, f"params.json is not valid JSON ({err}).") from None
        _check_meta(path, meta)
        check(meta)
        specs = {name: _array_spec(path, name, spec) for name, spec in meta["arrays"].items()}
        expected = {"params.json", *(f"arrays/{n}.npy" for n in specs), *meta["files"]}
        if set(source.sizes) != expected:
            extra, absent = sorted(set(source.sizes) - expected), sorted(expected - set(source.sizes))
            raise fail(path, f"members do not match params.json: unexpected {extra}, missing {absent}.")
        arrays = {}
        for name, (dtype, shape) in specs.items():
            n_bytes = math.prod(shape) * dtype.itemsize
            data = source.read(f"arrays/{name}.npy", n_bytes + 65536)
            arrays[name] = _read_npy(path, name, data, dtype, shape)
        files = {name: source.read(name, MAX_TOTAL_BYTES) for name in meta["files"]}
    finally:
        source.close()
    return ArchiveContent(
        method=meta["method"],
        class_name=meta["class"],
        params=meta["params"],
        fitted=meta["fitted"],
        arrays=arrays,
        files=files,
        gex_impute_version=meta["gex_impute_version"],
        format_version=meta["format_version"],
    )
