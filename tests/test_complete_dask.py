"""gi.tl.complete on a dask.distributed cluster equals the local run."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest

from gex_impute.errors import ParameterError
from gex_impute.tl import complete

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cohort():
    import gex_impute as gi

    adata = gi.datasets.simulate(n_donors=6, n_tissues=4, n_genes=100, random_state=2)
    return adata[~np.isnan(adata.X).all(axis=1)].copy()


@pytest.mark.parametrize("method", ["knn", "softimpute"])
def test_cluster_run_equals_local_run(cohort, client, method):
    local = complete(cohort, method=method, block_size=5, progress=False)
    remote = complete(cohort, method=method, block_size=5, client=client, progress=False)
    np.testing.assert_allclose(remote.X, local.X, rtol=1e-6)
    np.testing.assert_array_equal(remote.layers["completed_mask"], local.layers["completed_mask"])
    assert remote.uns["completed"]["n_workers"] == 2
    assert remote.uns["completed"]["fingerprint"] == local.uns["completed"]["fingerprint"]


def test_cluster_run_writes_a_store(cohort, client, tmp_path):
    local = complete(cohort, method="mean", progress=False)
    out = tmp_path / "completed.h5ad"
    complete(cohort, method="mean", client=client, out=out, block_size=3, progress=False)
    back = ad.read_h5ad(out, backed="r")
    try:
        np.testing.assert_allclose(back.X[:], local.X, rtol=1e-6)
    finally:
        back.file.close()


def test_client_must_be_a_client(cohort):
    with pytest.raises(ParameterError, match="dask.distributed.Client"):
        complete(cohort, method="mean", client="tcp://localhost:8786", progress=False)


def test_a_closed_client_is_named():
    distributed = pytest.importorskip("distributed")
    import gex_impute as gi

    cohort = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=20, random_state=0)
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        closed = distributed.Client(cluster)
        closed.close()
        with pytest.raises(ParameterError, match="client is closed"):
            complete(cohort, method="mean", client=closed, progress=False)


def test_the_model_and_data_are_scattered_once(client, monkeypatch):
    """Sweep Q: with missing entries in observed samples they were sent to every worker twice."""
    import gex_impute as gi

    adata = gi.datasets.simulate(
        n_donors=6, n_tissues=4, n_genes=60, frac_missing_entries=0.05, random_state=1
    )
    adata = adata[~np.isnan(adata.X).all(axis=1)].copy()
    assert np.isnan(adata.X).any()
    sent = []
    scatter = type(client).scatter

    def counted(self, data, *args, **kwargs):
        sent.append([type(x).__name__ for x in data])
        return scatter(self, data, *args, **kwargs)

    monkeypatch.setattr(type(client), "scatter", counted)
    local = complete(adata, method="knn", block_size=4, progress=False)
    remote = complete(adata, method="knn", block_size=4, client=client, progress=False)
    assert sent == [["KNNImputer", "Context"]]
    np.testing.assert_allclose(remote.X, local.X, rtol=1e-6)


def _slow_square(shared, x):
    import time

    time.sleep(0.2)
    return shared * x * x


def test_a_lost_cluster_is_named_not_hidden_by_the_cleanup():
    """Sweep Q: 'error: tcp://...' (a KeyError) or the cleanup's ClosedClientError hid what happened."""
    from gex_impute._utils import cluster_lost
    from gex_impute.tl._dask import run_blocks, scattered

    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        lost = distributed.Client(cluster)
        with scattered((1,), lost) as shared:
            blocks = run_blocks(_slow_square, shared, [(i,) for i in range(8)], client=lost, max_in_flight=4)
            assert next(blocks) == 0
            lost.close()  # the cluster goes away mid-run
            with pytest.raises(ConnectionError, match="dask cluster at .* was lost during the run"):
                list(blocks)
    assert cluster_lost(KeyError("tcp://127.0.0.1:33825"), None) is not None
    from concurrent.futures import CancelledError

    cancelled = getattr(distributed.client, "FutureCancelledError", None)  # else CancelledError
    assert cluster_lost(cancelled("x", "already forgotten") if cancelled else CancelledError("x"), None)
    assert cluster_lost(KeyError("gene"), None) is None  # the computation's own error goes on
    assert cluster_lost(ValueError("bad"), None) is None
