"""Tests of gex_impute/_utils.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gex_impute as gi
from gex_impute._utils import atomic_path, check_output_path, derive_seeds
from gex_impute.errors import OutputPathError


def test_derive_seeds_deterministic_and_distinct():
    assert derive_seeds(0, 3) == derive_seeds(0, 3)
    assert derive_seeds(0, 3) != derive_seeds(1, 3)
    assert len(set(derive_seeds(0, 5))) == 5


def test_atomic_path_success_and_failure(tmp_path):
    out = tmp_path / "sub" / "result.tsv"
    with atomic_path(out) as tmp:
        tmp.write_text("ok")
        assert not out.exists()
    assert out.read_text() == "ok"

    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert out.read_text() == "ok"  # the old file is untouched
    assert [p.name for p in out.parent.iterdir()] == ["result.tsv"]  # no temp file left


def test_atomic_path_uses_normal_permissions(tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    out = tmp_path / "x.txt"
    with atomic_path(out) as tmp:
        tmp.write_text("x")
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_check_output_path(tmp_path):
    import os

    assert check_output_path(tmp_path / "new" / "out.h5ad") == tmp_path / "new" / "out.h5ad"
    existing = tmp_path / "in.gct"
    existing.write_text("x")
    cases = [
        ("", {}, "empty"),
        (existing, {"inputs": (existing,)}, "also an input"),
        (tmp_path, {}, "existing folder"),
        (existing, {"overwrite": False}, "exists"),
        (existing / "below.h5ad", {}, "is a file"),
    ]
    for path, kwargs, fragment in cases:
        with pytest.raises(OutputPathError, match=fragment):
            check_output_path(path, **kwargs)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(OutputPathError, match="not empty"):
        check_output_path(tmp_path / "full", directory=True, overwrite=False)
    # the current folder (or one above it) cannot be swapped for the staged folder
    here = tmp_path / "full"
    cwd = os.getcwd()
    try:
        os.chdir(here)
        for folder in (".", "..", str(here)):
            with pytest.raises(OutputPathError, match="current folder"):
                check_output_path(folder, directory=True, overwrite=True)
        assert check_output_path("report", directory=True) == Path("report")
    finally:
        os.chdir(cwd)
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(OutputPathError, match="refuses new files"):
            check_output_path(ro / "x.h5ad")


def test_check_output_path_tries_the_folder_even_as_root(tmp_path, monkeypatch):
    """os.access says yes to root on a read-only mount; the check creates a file to be sure."""
    import errno
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputPathError, match=r"refuses new files \(Read-only file system\)"):
        check_output_path(tmp_path / "x.h5ad")
    monkeypatch.undo()
    assert check_output_path(tmp_path / "x.h5ad") == tmp_path / "x.h5ad"
    assert list(tmp_path.iterdir()) == []  # the probe is gone


def test_resolve_device_names_what_this_machine_lacks(monkeypatch):
    torch = pytest.importorskip("torch")
    from gex_impute._utils import resolve_device

    assert resolve_device("cpu") == "cpu"
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            resolve_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == "cuda:0"
    for bad in ("cuda:1", "cuda:x"):
        with pytest.raises(ValueError, match="1 CUDA GPU"):
            resolve_device(bad)


@pytest.mark.parametrize("bad", [1.5, "1", -1, True])
def test_random_state_must_be_a_seed_or_generator(bad):
    """1.5 and 1.9 gave the same data, "1" passed, -1 raised numpy's bare ValueError (sweep, session 17)."""
    from gex_impute._utils import check_random_state
    from gex_impute.errors import ParameterError

    with pytest.raises(ParameterError, match="random_state="):
        check_random_state(bad)
    with pytest.raises(ParameterError, match="random_state="):
        gi.datasets.simulate(n_donors=2, n_tissues=2, n_genes=10, random_state=bad)
    assert check_random_state(np.int64(3)).integers(100) == np.random.default_rng(3).integers(100)
