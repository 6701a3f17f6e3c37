"""Saving and loading every method (gex_impute.methods._archive): round trips and crafted archives."""

from __future__ import annotations

import io
import json
import logging
import stat
import warnings
import zipfile

import numpy as np
import pytest

import gex_impute as gi
from gex_impute.errors import ModelArchiveError, OutputPathError
from gex_impute.methods import NotFittedError, _archive, available_methods, get_method, load_model

HYBRID_FAST = {
    "max_epochs": 1,
    "n_estimators": 10,
    "n_jobs": 1,
    "progress": False,
    "max_items_per_epoch": 256,
    "use_tissue_encoder": True,  # off by default; on here so that nets.pt is saved and checked
}


def _method(name):
    return get_method(name, **HYBRID_FAST) if name == "hybrid" else get_method(name)


@pytest.fixture(scope="module")
def tiny():
    return gi.datasets.simulate(
        n_donors=4, n_tissues=3, n_genes=120, upstream=60, downstream=40, random_state=0
    )


@pytest.fixture(scope="module")
def hybrid_zip(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("hybrid") / "model.zip"
    _method("hybrid").fit(tiny, donor_key="donor").save(path)
    return path


@pytest.fixture(scope="module")
def knn_zip(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("knn") / "model.zip"
    get_method("knn").fit(tiny, donor_key="donor").save(path)
    return path


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write_zip(path, members: dict[str, bytes], *, symlinks=()):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    return path


def _with_meta(src, dst, edit):
    members = _members(src)
    meta = json.loads(members["params.json"])
    edit(meta)
    members["params.json"] = json.dumps(meta).encode()
    return _write_zip(dst, members)


# -- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(available_methods()))
@pytest.mark.parametrize("form", ["model.zip", "model_folder"])
def test_every_method_round_trips(name, form, tiny, tmp_path):
    model = _method(name).fit(tiny, donor_key="donor")
    expected = model.predict(tiny, donor_key="donor")
    path = model.save(tmp_path / form)
    assert path.is_file() == form.endswith(".zip")
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    assert loaded.gene_ids_ == list(map(str, tiny.var_names)) and loaded.log1p_ == model.log1p_
    np.testing.assert_array_equal(loaded.predict(tiny, donor_key="donor"), expected)
    assert type(model).load(path).get_params() == model.get_params()
    members = _members(path) if path.is_file() else {p.name: b"" for p in path.iterdir()}
    assert not any(n.endswith((".pkl", ".pickle")) for n in members)


def test_names_as_the_data_gave_them_load_back(tiny, tmp_path):
    """A blank tissue (SMTSD left empty) and a 2,000-character gene id fit, save and load."""
    odd = tiny.copy()
    first = odd.obs["tissue"].cat.categories[0]
    odd.obs["tissue"] = odd.obs["tissue"].cat.rename_categories({first: ""})
    odd.var_names = ["g" * 2000, *odd.var_names[1:]]
    model = get_method("mean").fit(odd, donor_key="donor")
    loaded = load_model(model.save(tmp_path / "m.zip"))
    assert "" in loaded.tissues_ and loaded.gene_ids_[0] == "g" * 2000
    np.testing.assert_array_equal(loaded.predict(odd), model.predict(odd))


def test_save_is_atomic_and_refuses_to_overwrite(knn_zip, tmp_path):
    model = load_model(knn_zip)
    target = tmp_path / "m.zip"
    model.save(target)
    with pytest.raises(OutputPathError, match="overwrite=True"):
        model.save(target)
    model.save(target, overwrite=True)
    folder = tmp_path / "not_a_model"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    with pytest.raises(OutputPathError, match="not a saved model folder"):
        model.save(folder, overwrite=True)
    assert (folder / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.zip", "not_a_model"]  # no temporary leftovers


def test_unfitted_cannot_save_or_predict(tiny, tmp_path):
    with pytest.raises(NotFittedError, match=r"call fit\(adata\)"):
        get_method("mean").save(tmp_path / "m.zip")
    with pytest.raises(NotFittedError):
        get_method("knn").predict(tiny)


def test_class_load_refuses_another_method(knn_zip):
    with pytest.raises(ModelArchiveError, match="holds a 'knn' model, not HybridImputer.*load_model"):
        gi.HybridImputer.load(knn_zip)


def test_differences_are_reported(knn_zip, tiny, caplog, tmp_path):
    fewer = tiny[:, 10:].copy()
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        load_model(knn_zip).predict(fewer, donor_key="donor")
    assert "0 new genes" in caplog.text and "10 absent" in caplog.text
    caplog.clear()
    old = _with_meta(knn_zip, tmp_path / "old.zip", lambda m: m.update(gex_impute_version="0.0.1"))
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        load_model(old)
    assert "saved by gex_impute 0.0.1" in caplog.text


def test_hybrid_archive_layout(hybrid_zip, tiny):
    members = _members(hybrid_zip)
    assert {"params.json", "nets.pt", "xgboost.json", "arrays/cnn_profile_.npy"} <= set(members)
    meta = json.loads(members["params.json"])
    assert meta["method"] == "hybrid" and meta["fitted"]["tissues_"] == sorted(
        tiny.obs["tissue"].astype(str).unique()
    )
    assert meta["fitted"]["log1p_"] is True and meta["fitted"]["encoder_state_"]["n_nets"] == 3
    model = load_model(hybrid_zip)
    assert np.isfinite(model.predict(tiny, donor_key="donor")).all()


# -- crafted archives ------------------------------------------------------------------------------
def _params_error(src, dst, edit, match):
    path = _with_meta(src, dst, edit)
    with pytest.raises(ModelArchiveError, match=match):
        load_model(path)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(extra=1), r"unknown keys \['extra'\]"),
        (lambda m: m.pop("fitted"), r"lacks keys \['fitted'\]"),
        (lambda m: m.update(method="magic"), "unknown method 'magic'"),
        (lambda m: m.update(params=[1, 2]), "'params' must be a dict"),
        (lambda m: m["params"].update(bogus=1), "unknown parameter 'bogus'"),
        (lambda m: m["params"].update(d_model=1e9), r"d_model=1000000000\.0 is not valid"),
        (lambda m: m["params"].update(d_model=10**9), "d_model=1000000000 is not valid"),
        (lambda m: m["params"].update(n_heads=5), "not divisible"),
        (
            lambda m: m["fitted"]["encoder_state_"].update(n_nets=10**12),
            r"n_nets=1000000000000, n_tissues=3\) does not fit",
        ),
        (lambda m: m["fitted"].update(bogus=3), r"unknown keys \['bogus'\]"),
        (lambda m: m["fitted"]["encoder_state_"].update(n_nets=2), "nets.pt holds tensors of no network"),
        (lambda m: m["fitted"]["encoder_state_"].update(n_nets=4), "network 3: missing tensors"),
        (lambda m: m["fitted"].update(tissues_="brain"), "tissues_='brain' is not valid"),
        (lambda m: m["fitted"].update(diagnostics_={"a": {"b": {"c": {"d": 1}}}}), "diagnostics_="),
        (lambda m: m["fitted"]["models_"].update(genes={"choice": "magic"}), "has no valid 'choice'"),
        (lambda m: m["arrays"]["cnn_profile_"].update(shape=[10**8]), "cnn_profile_ must be float32"),
        (
            lambda m: m["arrays"]["encoder_fold_"].update(dtype="object"),
            "dtype 'object'|encoder_fold_ must be",
        ),
        (lambda m: m.update(files=["nets.pt"]), r"lists files \['nets.pt'\], the model needs"),
        (lambda m: m.update(files=["../../etc/passwd"]), "'files' must list members"),
        (lambda m: m.update(format_version=1), "format version 1.*Refit"),
        (lambda m: m.update(format="something else"), "not a gex_impute model"),
        (lambda m: m.update({"class": "KNNImputer"}), "names method 'hybrid' but class 'KNNImputer'"),
    ],
)
def test_invalid_params_json(hybrid_zip, tmp_path, edit, match):
    _params_error(hybrid_zip, tmp_path / "bad.zip", edit, match)


def test_params_json_not_an_object_or_too_deep(knn_zip, tmp_path):
    members = _members(knn_zip)
    for payload, match in [
        (b"[1, 2, 3]", "holds a list, not an object"),
        (b"{not json", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ]:
        path = _write_zip(tmp_path / "bad.zip", {**members, "params.json": payload})
        with pytest.raises(ModelArchiveError, match=match):
            load_model(path)
    meta = json.loads(members["params.json"])
    meta["fitted"]["validation_scores_"] = {"a": [[[[[[1]]]]]]}
    path = _write_zip(tmp_path / "deep.zip", {**members, "params.json": json.dumps(meta).encode()})
    with pytest.raises(ModelArchiveError, match="nested 9 levels deep"):
        load_model(path)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("../evil.txt", "leaving its folder"),
        ("/etc/evil", "absolute or unsafe path"),
        ("C:/evil", "absolute or unsafe path"),
        ("arrays\\..\\evil", "absolute or unsafe path"),
        ("notes.txt", "unexpected member 'notes.txt'"),
    ],
)
def test_unsafe_member_names_refused(knn_zip, tmp_path, name, match):
    path = _write_zip(tmp_path / "bad.zip", {**_members(knn_zip), name: b"x"})
    with pytest.raises(ModelArchiveError, match=match):
        load_model(path)


def test_symlink_members_refused(knn_zip, tmp_path):
    members = _members(knn_zip)
    path = _write_zip(tmp_path / "link.zip", {**members, "nets.pt": b"/etc/passwd"}, symlinks=("nets.pt",))
    with pytest.raises(ModelArchiveError, match="symbolic link"):
        load_model(path)
    folder = load_model(knn_zip).save(tmp_path / "folder")
    (folder / "xgboost.json").symlink_to("/etc/passwd")
    with pytest.raises(ModelArchiveError, match="symbolic link"):
        load_model(folder)


def test_duplicate_members_refused(knn_zip, tmp_path):
    members = _members(knn_zip)
    path = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate it writes
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in [*members.items(), ("params.json", members["params.json"])]:
                zf.writestr(name, data)
    with pytest.raises(ModelArchiveError, match="appears twice"):
        load_model(path)


def test_zip_bomb_capped(knn_zip, tmp_path, monkeypatch):
    members = _members(knn_zip)
    path = _write_zip(tmp_path / "bomb.zip", {**members, "xgboost.json": b"\0" * 5_000_000})
    assert path.stat().st_size < 100_000  # compresses > 50x
    monkeypatch.setattr(_archive, "MAX_TOTAL_BYTES", 1_000_000)
    with pytest.raises(ModelArchiveError, match="over the 1,000,000 limit"):
        load_model(path)


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_truncated_or_corrupt_zip(hybrid_zip, tmp_path, cut):
    data = hybrid_zip.read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ModelArchiveError, match="truncated or corrupt") as err:
        load_model(path)
    assert "Traceback" not in str(err.value) and "gex_impute_model_" not in str(err.value)
    flipped = bytearray(data)
    start = data.index(b"nets.pt") + 200  # inside the deflated network weights
    flipped[start : start + 64] = bytes(64)
    path.write_bytes(bytes(flipped))
    with pytest.raises(ModelArchiveError, match="model .*cut.zip"):
        load_model(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "model.zip"
    path.write_text("hello")
    with pytest.raises(ModelArchiveError, match="not a readable zip file or model folder"):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "absent.zip")


def test_wrong_networks_and_booster(hybrid_zip, tmp_path):
    import torch

    members = _members(hybrid_zip)
    state = torch.load(io.BytesIO(members["nets.pt"]), weights_only=True)
    name = "0.value.weight"  # network 0 of the tissue encoder
    assert name in state
    for edit, match in [
        (lambda s: s.update({name: torch.zeros(3, 3)}), r"tensor 'value\.weight' is torch\.float32\(3, 3\)"),
        (lambda s: s.pop(name), r"missing tensors \['value\.weight'\]"),
        (lambda s: s.update({"7.extra": torch.zeros(1)}), "tensors of no network"),
    ]:
        bad = dict(state)
        edit(bad)
        buf = io.BytesIO()
        torch.save(bad, buf)
        path = _write_zip(tmp_path / "nets.zip", {**members, "nets.pt": buf.getvalue()})
        with pytest.raises(ModelArchiveError, match=match):
            load_model(path)
    path = _write_zip(tmp_path / "garbage.zip", {**members, "nets.pt": b"not torch"})
    with pytest.raises(ModelArchiveError, match="nets.pt cannot be read"):
        load_model(path)
    path = _write_zip(tmp_path / "xgb.zip", {**members, "xgboost.json": b"{}"})
    with pytest.raises(ModelArchiveError, match="xgboost.json"):
        load_model(path)


def test_npy_header_checked_before_reading(hybrid_zip, tmp_path):
    members = _members(hybrid_zip)
    buf = io.BytesIO()
    np.save(buf, np.zeros(3, dtype=np.float64))
    path = _write_zip(tmp_path / "npy.zip", {**members, "arrays/cnn_profile_.npy": buf.getvalue()})
    with pytest.raises(ModelArchiveError, match=r"cnn_profile_\.npy holds float64\(3,\)"):
        load_model(path)
    path = _write_zip(tmp_path / "npy2.zip", {**members, "arrays/cnn_profile_.npy": b"\x93NUMPY garbage"})
    with pytest.raises(ModelArchiveError, match="not a valid .npy file|holds"):
        load_model(path)
