from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# property tests draw the same examples on every run: CI must not depend on the draw
settings.register_profile("deterministic", derandomize=True)
settings.load_profile("deterministic")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = ROOT / "test-data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder beside the project; tests using it skip when it is absent."""
    if not (SHARED_DATA / "gtex_tissue_tpm.tsv").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared/data beside the project root)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The project's generated test files (scripts/make_test_data.py)."""
    return TEST_DATA


@pytest.fixture(scope="session")
def _sim_session():
    import gex_impute as gi

    return gi.datasets.simulate(n_donors=6, n_tissues=5, n_genes=300, random_state=0)


@pytest.fixture
def sim(_sim_session):
    """A tiny simulated AnnData (samples x genes, with missing entries); a fresh copy per test."""
    return _sim_session.copy()


@pytest.fixture
def sim_file(sim, tmp_path):
    """The ``sim`` cohort written to an .h5ad file (the CLI tests' input)."""
    import gex_impute as gi

    path = tmp_path / "sim.h5ad"
    gi.io.write_h5ad(sim, path)
    return path


@pytest.fixture(scope="module")
def client():
    """A 2-worker in-process dask LocalCluster's client, one per test module (closed after it)."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


def pytest_collection_modifyitems(config, items) -> None:
    """Run every docstring example in a namespace of its own, not its module's globals.

    A user pastes an example into a fresh session: it must import what it uses (``np``, the
    function itself), which the module's globals would otherwise hide.
    """
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.dtest is not None:
            item.dtest.globs = {"__name__": "__main__"}
