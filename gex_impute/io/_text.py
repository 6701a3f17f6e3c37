"""Text files shared by every reader and writer: opening (plain or gzip), sniffing, atomic writing.

Readers open files with :func:`open_text`, which refuses binary files (HDF5, zip, ...) up front
and turns the errors that surface while reading (bytes that are not UTF-8, a truncated or corrupt
gzip stream) into :class:`~gex_impute.errors.InputFileError` naming the file and the fix.
Writers use :func:`open_text_write`: a temporary file renamed onto the target on success, gzip
output with a fixed header so the same text always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Literal

from .._utils import atomic_path
from ..errors import InputFileError

__all__ = ["check_input_file", "examples", "file_kind", "open_text", "open_text_write"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"

FileKind = Literal["empty", "hdf5", "gzip", "zip", "binary", "text", "directory"]


def examples(items: Sequence, n: int = 10, width: int = 60) -> str:
    """Up to ``n`` items as a comma-separated ``repr`` list, ``...`` when there are more.

    An item's ``repr`` longer than ``width`` characters is cut (a sequence line read as a
    column name would fill the message).

    Examples
    --------
    >>> from gex_impute.io._text import examples
    >>> examples(["a", "ACGT" * 30, "c"], n=2, width=12)
    "'a', 'ACGTACGT..., ..."
    """
    items = list(items)
    shown = ", ".join(_cut(repr(x), width) for x in items[:n])
    return shown + (", ..." if len(items) > n else "")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 1)] + "..."


def check_input_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Return ``path`` as a Path after checking that it exists and is a file.

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    InputFileError
        When ``path`` is a folder.
    """
    path = Path(path)
    if not path.exists():
        msg = f"{what} not found: {path}; check the path."
        raise FileNotFoundError(msg)
    if path.is_dir():
        msg = f"{what} {path} is a folder, expected a file."
        raise InputFileError(msg)
    return path


def file_kind(path: str | os.PathLike) -> FileKind:
    """Tell what a file holds from its first bytes: HDF5, gzip, zip, other binary, text or nothing."""
    path = Path(path)
    if path.is_dir():
        return "directory"
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if not head:
        return "empty"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if b"\x00" in head:
        return "binary"
    return "text"


def _refuse_binary(path: Path, kind: FileKind, what: str) -> None:
    if kind == "hdf5":
        msg = (
            f"{path} is an HDF5 file (an .h5ad?), not a text {what}; pass the {what} itself, or read "
            "an .h5ad with gex_impute.io.read_h5ad / read_expression."
        )
    elif kind == "zip":
        msg = f"{path} is a zip archive, not a text {what}; unpack it and pass the {what} inside."
    elif kind == "binary":
        msg = f"{path} is a binary file (it holds NUL bytes), not a text {what}; check the path."
    else:
        return
    raise InputFileError(msg)


@contextlib.contextmanager
def open_text(path: str | os.PathLike, what: str = "file") -> Iterator[IO[str]]:
    """Open a plain or gzip text file for reading (gzip detected by its magic bytes, not its name).

    Inside the ``with`` block, a truncated or corrupt gzip stream and bytes that are not UTF-8
    raise :class:`~gex_impute.errors.InputFileError` naming the file.

    Parameters
    ----------
    path
        The file.
    what
        What the file should be (``"GCT file"``, ``"annotation file"``), used in messages.

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    InputFileError
        For a folder, an HDF5 / zip / other binary file, and for read errors inside the block.
    """
    path = check_input_file(path, what)
    kind = file_kind(path)
    _refuse_binary(path, kind, what)
    if kind == "gzip":
        _refuse_binary(path, gzip_content_kind(path), what)
        fh = gzip.open(path, "rt", encoding="utf-8", newline="")
    else:
        fh = open(path, encoding="utf-8", newline="")
    try:
        with fh:
            yield fh
    except UnicodeDecodeError as err:
        msg = (
            f"{path} is not a UTF-8 text {what}: it holds the byte {err.object[err.start : err.start + 1]!r} "
            "that is not UTF-8; is it a binary file, or text in another encoding (re-save it as UTF-8)?"
        )
        raise InputFileError(msg) from err
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        msg = (
            f"{path}: the gzip stream is truncated or corrupt ({type(err).__name__}: {err}); the download "
            "or copy was probably cut short. Download the file again, or check it with `gzip -t`."
        )
        raise InputFileError(msg) from err


def gzip_content_kind(path: str | os.PathLike) -> FileKind:
    """Tell what a gzip file holds, from its first decompressed bytes ("empty" when unreadable)."""
    with gzip.open(path, "rb") as probe:
        try:
            inner = probe.read(1024)
        except (EOFError, OSError, zlib.error):
            inner = b""
    return _kind_of_bytes(inner)


def _kind_of_bytes(head: bytes) -> FileKind:
    if not head:
        return "empty"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if b"\x00" in head:
        return "binary"
    return "text"


def first_line(path: str | os.PathLike) -> str:
    """Return the first line of a text file (plain or gzip) without its line end; "" if unreadable."""
    try:
        with open_text(path) as fh:
            return fh.readline(4096).rstrip("\r\n")
    except (InputFileError, OSError):
        return ""


@contextlib.contextmanager
def open_text_write(
    path: str | os.PathLike, *, compress: bool | None = None, compresslevel: int = 6
) -> Iterator[IO[str]]:
    """Open ``path`` for writing text atomically (a failure leaves no partial file).

    Parameters
    ----------
    path
        Destination; parent folders are created.
    compress
        gzip the output; None decides from a ``.gz`` suffix. The gzip header holds no file name
        and no time stamp, so the same text always gives the same bytes.
    compresslevel
        gzip level (1 fastest, 9 smallest).
    """
    path = Path(path)
    compress = path.suffix == ".gz" if compress is None else compress
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        if compress:
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=compresslevel
            ) as gz:
                with io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as fh:
                    yield fh
        else:
            with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as fh:
                yield fh


def write_text(path: str | os.PathLike, text: str, *, compress: bool | None = None) -> Path:
    """Write ``text`` to ``path`` atomically (gzip when ``compress``, or for a ``.gz`` suffix)."""
    with open_text_write(path, compress=compress) as fh:
        fh.write(text)
    return Path(path)
