"""The members of a model archive, zip file or folder: listed with safety checks, read with bounds.

No member is extracted to disk. Listing refuses absolute paths, paths leaving the archive,
symbolic links, duplicate and unexpected names, and more than the allowed total size (zip
bombs); reading refuses more bytes than a member's entry declares.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from pathlib import Path

from ..errors import ModelArchiveError

__all__ = ["ARRAY_NAME", "FILE_NAMES", "ArchiveMembers", "fail"]

#: method-specific files an archive may hold besides params.json and arrays
FILE_NAMES = ("nets.pt", "xgboost.json")
#: names of fitted arrays (arrays/<name>.npy)
ARRAY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def fail(path: Path, problem: str) -> ModelArchiveError:
    """Return the error for ``problem`` in the model at ``path``."""
    return ModelArchiveError(f"model {str(path)!r}: {problem}")


def _allowed(name: str) -> bool:
    if name in ("params.json", *FILE_NAMES):
        return True
    return name.startswith("arrays/") and name.endswith(".npy") and bool(ARRAY_NAME.fullmatch(name[7:-4]))


def _check_name(path: Path, name: str) -> None:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\\" in name:
        raise fail(path, f"the archive holds an absolute or unsafe path {name!r}; refused.")
    if ".." in name.split("/"):
        raise fail(path, f"the archive holds a path leaving its folder {name!r}; refused.")


class ArchiveMembers:
    """The members of a zip file or a folder: names, sizes, and bounded reads."""

    def __init__(self, path: Path, *, max_total: int, max_members: int):
        self.path = path
        self.max_members = max_members
        self.sizes: dict[str, int] = {}
        self._zip: zipfile.ZipFile | None = None
        self._infos: dict[str, zipfile.ZipInfo] = {}
        try:
            if path.is_dir():
                self._list_folder()
            else:
                self._list_zip()
            total = sum(self.sizes.values())
            if total > max_total:
                raise fail(
                    path,
                    f"its members hold {total:,} bytes uncompressed, over the {max_total:,} limit.",
                )
        except BaseException:
            self.close()
            raise

    def _list_folder(self) -> None:
        for root, dirs, files in os.walk(self.path, followlinks=False):
            rel_root = Path(root).relative_to(self.path)
            for d in dirs:
                if (Path(root) / d).is_symlink():
                    raise fail(self.path, f"{(rel_root / d).as_posix()!r} is a symbolic link; refused.")
            for f in files:
                name = (rel_root / f).as_posix()
                if f.startswith("."):
                    continue
                st = os.lstat(Path(root) / f)
                if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
                    raise fail(self.path, f"{name!r} is a symbolic link or not a regular file; refused.")
                self._add(name, st.st_size)

    def _list_zip(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as err:
            raise fail(
                self.path, f"not a readable zip file or model folder (truncated or corrupt: {err})."
            ) from None
        if len(infos) > self.max_members:
            raise fail(
                self.path, f"the archive holds {len(infos)} members, more than a model ({self.max_members})."
            )
        names = [i.filename for i in infos]
        for name in names:
            _check_name(self.path, name)
        # a zip of a folder: one top-level directory holding everything
        tops = {n.split("/")[0] for n in names}
        prefix = f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in names) else ""
        for info in infos:
            if info.is_dir():
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                raise fail(self.path, f"{info.filename!r} is a symbolic link; refused.")
            name = info.filename[len(prefix) :]
            self._infos[name] = info
            self._add(name, info.file_size)

    def _add(self, name: str, size: int) -> None:
        if not _allowed(name):
            raise fail(
                self.path,
                f"unexpected member {name!r}; a model holds params.json, arrays/*.npy, {FILE_NAMES}.",
            )
        if name in self.sizes:
            raise fail(self.path, f"the member {name!r} appears twice; refused.")
        self.sizes[name] = int(size)

    def read(self, name: str, limit: int) -> bytes:
        """Return the bytes of member ``name``, refusing more than ``limit`` or than its entry declares."""
        if name not in self.sizes:
            raise fail(self.path, f"the member {name!r} is missing.")
        size = self.sizes[name]
        if size > limit:
            raise fail(self.path, f"{name} holds {size:,} bytes, over the {limit:,} limit.")
        try:
            if self._zip is None:
                with open(self.path / name, "rb") as fh:
                    data = fh.read(limit + 1)
            else:
                with self._zip.open(self._infos[name]) as fh:
                    data = fh.read(limit + 1)
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError, ValueError) as err:
            raise fail(self.path, f"{name} cannot be read (truncated or corrupt: {err}).") from None
        if len(data) != size:
            raise fail(self.path, f"{name} holds {len(data):,} bytes, not the {size:,} its entry declares.")
        return data

    def close(self) -> None:
        """Close the zip file (nothing for a folder)."""
        if self._zip is not None:
            self._zip.close()
