"""Small shared helpers: seeds, atomic writes, progress bars, device choice, thread caps, dask clients."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def array_root(values: np.ndarray) -> np.ndarray:
    """Return the array that owns ``values``' memory (``values`` itself when it is no view)."""
    root = values
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root


def derive_seeds(random_state: int | None, n: int = 3) -> list[int]:
    """Derive ``n`` independent integer seeds (numpy, torch, xgboost, ...) from one ``random_state``."""
    ss = np.random.SeedSequence(0 if random_state is None else int(random_state))
    return [int(s.generate_state(1)[0]) for s in ss.spawn(n)]


def check_random_state(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """Return a numpy Generator for ``random_state`` (an int seed, a Generator, or None = 0).

    Raises
    ------
    gex_impute.errors.ParameterError
        For anything else (a float such as 1.5, a string, a negative seed), which ``int()``
        would otherwise have turned silently into another seed.
    """
    from .errors import ParameterError

    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng(0)
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer) or random_state < 0:
        msg = (
            f"random_state={random_state!r} is invalid; pass a non-negative integer seed, a numpy "
            "Generator or None."
        )
        raise ParameterError(msg)
    return np.random.default_rng(int(random_state))


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
    """Wrap ``iterable`` in a ``tqdm.auto`` progress bar that can be switched off.

    Switched off, a plain ``tqdm`` that draws nothing: ``tqdm.auto`` in a notebook without
    ipywidgets warns even for a bar never shown.
    """
    if not enabled:
        from tqdm.std import tqdm as plain

        return plain(iterable, disable=True, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def resolve_device(device: str = "auto") -> str:
    """Map ``"auto"`` to ``"cuda"`` when a GPU is present, else ``"cpu"``; check explicit choices."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        msg = f"device={device!r} requested but no CUDA GPU is available; use device='auto' or 'cpu'."
        raise ValueError(msg)
    if device.startswith("cuda:"):
        index = device.partition(":")[2]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            msg = (
                f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                "numbered from 0; use device='cuda' (the first) or 'auto'."
            )
            raise ValueError(msg)
    if device == "mps":
        backend = getattr(torch.backends, "mps", None)
        if backend is None or not backend.is_available():
            msg = "device='mps' requested but Apple's MPS is not available here; use device='auto' or 'cpu'."
            raise ValueError(msg)
    return device


#: files that mark a folder as one the package wrote, which ``overwrite`` may replace; each
#: writer passes its own kind, so that one kind of output never replaces another of that name
OUTPUT_MARKER = ".gex-impute-output"
ZARR_MARKERS = (".zgroup", "zarr.json")  # a zarr store (format 2 or 3)
MODEL_MARKERS = ("params.json",)  # a saved model folder
DEMO_MARKERS = ("report.json",)  # a demo report
COHORT_MARKERS = (OUTPUT_MARKER, "sim.h5ad")  # a simulated cohort
REPLACEABLE_MARKERS = (*ZARR_MARKERS, *MODEL_MARKERS, *DEMO_MARKERS, *COHORT_MARKERS)
#: what each kind is called in the refusal
_KINDS = {
    ZARR_MARKERS: "a zarr store",
    MODEL_MARKERS: "a saved model",
    DEMO_MARKERS: "an earlier demo report",
    COHORT_MARKERS: "a simulated cohort",
}


def _check_replaceable(
    path: Path, resolved: Path, what: str, inputs: tuple, markers: tuple[str, ...]
) -> None:
    """Refuse to replace a folder that holds an input, or that is not the output ``markers`` mark."""
    from .errors import OutputPathError

    for inp in inputs:
        if inp is not None and resolved in Path(inp).resolve().parents:
            msg = (
                f"{what} {str(path)!r} holds the input {str(inp)!r}: replacing the folder would delete "
                "it; choose another path."
            )
            raise OutputPathError(msg)
    if not any((path / name).exists() for name in markers):
        kind = _KINDS.get(markers, "an output of this kind")
        if any((path / name).exists() for name in REPLACEABLE_MARKERS):
            msg = (
                f"{what} {str(path)!r} is another kind of gex_impute output, not {kind}, so it is "
                "not replaced; remove it yourself or choose another path."
            )
        else:
            msg = (
                f"{what} {str(path)!r} is a folder of files gex_impute did not write (not {kind}), so "
                "it is not replaced; remove it yourself or choose another path."
            )
        raise OutputPathError(msg)


def check_output_path(
    path: str | os.PathLike,
    *,
    what: str = "output",
    inputs: tuple[str | os.PathLike | None, ...] = (),
    overwrite: bool = True,
    directory: bool = False,
    markers: tuple[str, ...] = REPLACEABLE_MARKERS,
) -> Path:
    """Check, before any long computation, that ``path`` can be written; return it as a Path.

    Refuses an empty path, a path equal to one of ``inputs``, an existing folder where a file is
    expected, a non-empty folder where a folder is expected (with ``overwrite``: one that holds
    an input or that lacks all of ``markers``, the files that mark the caller's kind of output:
    ``ZARR_MARKERS``, ``MODEL_MARKERS``, ``DEMO_MARKERS`` or ``COHORT_MARKERS``), an existing file
    when ``overwrite`` is False, a parent that is a file, and a parent folder where a file
    cannot be created (tried with a temporary file).
    A missing parent folder is fine (it is created on write).

    Raises
    ------
    gex_impute.errors.OutputPathError
        Naming the path, the problem and the fix.
    """
    from .errors import OutputPathError

    if path is None or not str(path).strip():
        msg = f"{what} path is empty; give a file name."
        raise OutputPathError(msg)
    path = Path(path)
    resolved = path.resolve()
    for inp in inputs:
        if inp is not None and Path(inp).resolve() == resolved:
            msg = f"{what} {str(path)!r} is also an input file; choose another path so the input is kept."
            raise OutputPathError(msg)
    if path.is_dir() and not directory:
        msg = f"{what} {str(path)!r} is an existing folder; give a file path (e.g. {path / 'result'}...)."
        raise OutputPathError(msg)
    here = Path.cwd().resolve()
    if directory and (resolved == here or resolved in here.parents):
        msg = (
            f"{what} {str(path)!r} is the current folder or one above it, which cannot be replaced "
            "by the new folder; name a new folder (e.g. 'report')."
        )
        raise OutputPathError(msg)
    if directory and path.exists() and not path.is_dir():
        msg = f"{what} {str(path)!r} exists and is not a folder; give a folder path."
        raise OutputPathError(msg)
    if directory and path.is_dir() and any(path.iterdir()):
        if not overwrite:
            msg = (
                f"{what} folder {str(path)!r} is not empty; remove it, choose another path or pass "
                "overwrite=True (which replaces only a folder gex_impute wrote)."
            )
            raise OutputPathError(msg)
        _check_replaceable(path, resolved, what, inputs, markers)
    if path.exists() and not path.is_dir() and not overwrite:
        msg = f"{what} {str(path)!r} exists; remove it, choose another path or pass overwrite=True."
        raise OutputPathError(msg)
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        msg = f"{what} {str(path)!r} cannot be created: {str(parent)!r} is a file, not a folder."
        raise OutputPathError(msg)
    try:  # os.access says yes to root (containers, Galaxy) on read-only mounts: try it
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        msg = (
            f"{what} {str(path)!r} cannot be written: folder {str(parent)!r} refuses new files "
            f"({err.strerror}); choose a folder you can write to."
        )
        raise OutputPathError(msg) from None
    return path


@contextlib.contextmanager
def limit_threads(limit: int, *, user_api: str | None = None) -> Iterator[None]:
    """Cap the native thread pools (threadpoolctl) to ``limit`` threads inside the block.

    ``user_api``: ``"blas"`` or ``"openmp"`` for one kind, None for all. Without threadpoolctl
    (it comes with scikit-learn) the block runs uncapped.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=limit, user_api=user_api):
        yield


def check_dask_client(client: Any) -> int:
    """Check that ``client`` is a dask.distributed Client with workers; return its worker threads.

    Raises
    ------
    ParameterError
        Not a ``dask.distributed.Client``, a closed client, or one without workers.
    """
    from .errors import ParameterError

    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - dask is a dependency
        msg = "client= needs dask.distributed; pip install 'dask[distributed]'."
        raise ParameterError(msg) from err
    if not isinstance(client, Client):
        msg = f"client must be a dask.distributed.Client, got {type(client).__name__}."
        raise ParameterError(msg)
    if client.status in ("closed", "closing") or client.scheduler is None:
        msg = "the dask client is closed; pass an open Client (e.g. Client(LocalCluster()))."
        raise ParameterError(msg)
    threads = sum(client.nthreads().values())
    if threads == 0:
        msg = "the dask client has no workers; start some (e.g. LocalCluster(n_workers=2)) first."
        raise ParameterError(msg)
    return int(threads)


def log_dask_cluster(client: Any) -> None:
    """Log the cluster a run uses (INFO): workers, threads, scheduler address and dashboard."""
    import logging

    info = client.scheduler_info()
    workers = info.get("workers", {})
    logging.getLogger("gex_impute").info(
        "dask: %d workers, %d threads at %s (dashboard: %s)",
        len(workers),
        sum(int(w.get("nthreads", 0)) for w in workers.values()),
        info.get("address", "?"),
        getattr(client, "dashboard_link", "?"),
    )


@contextlib.contextmanager
def said_if_cluster_lost(client: Any) -> Iterator[None]:
    """Re-raise dask's errors of a cluster lost mid-run as one :class:`ConnectionError` naming it.

    An error raised by the computation itself goes on as it is.
    """
    try:
        yield
    except Exception as err:
        lost = cluster_lost(err, client)
        if lost is None:
            raise
        raise lost from err


def cluster_lost(err: BaseException, client: Any) -> ConnectionError | None:
    """Return a clear error when ``err`` says the dask cluster went away mid-run, else None.

    dask reports a lost scheduler or worker as a cancelled future ("already forgotten": a worker
    over its memory limit), a closed comm or client, or a bare ``KeyError`` of a worker address;
    an error raised by the computation itself is left alone.
    """
    from concurrent.futures import CancelledError

    name = type(err).__name__
    lost = (
        isinstance(err, CancelledError)
        or name in ("CommClosedError", "ClosedClientError", "KilledWorker", "FutureCancelledError")
        or (
            isinstance(err, KeyError)
            and str(err.args[0] if err.args else "").startswith(("tcp://", "tls://", "inproc://", "ucx://"))
        )
        or getattr(client, "status", "running") in ("closing", "closed")
    )
    if not lost:
        return None
    address = getattr(getattr(client, "scheduler", None), "address", "?")
    return ConnectionError(
        f"the dask cluster at {address} was lost during the run ({name}: {err}): a worker died (over "
        "its memory limit?) or the scheduler or client stopped; check the cluster and run again."
    )


def release_quietly(futures: Any, *, cancel: bool = False) -> None:
    """Release (or ``cancel``) dask futures, ignoring a client that is already gone."""
    for future in futures:
        try:
            if cancel:
                future.cancel()
            else:
                future.release()
        except Exception:  # noqa: BLE001 - a closed client: nothing left to free, and the cause goes on
            continue
