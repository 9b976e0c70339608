"""The skops allow-list: explicit types only, judged by what they resolve to, refused before
anything is rebuilt (issue 12, item 1: an allowed-looking numpy type deleted a directory)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, SplineTransformer, StandardScaler
from sklearn.svm import SVC

from modelops.artifact.errors import ArtifactError
from modelops.artifact.loading import load_artifact, review_skops_types
from modelops.artifact.trust import review
from modelops.cli import main

from .gadgets import object_node, reduce_node, with_attribute
from .helpers import Built, Dataset, resign


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "data.csv").write_text("a,b\n1,2\n")
    return victim


def _repository(victim: Path) -> dict[str, Any]:
    # DataSource.__del__ runs shutil.rmtree(self._destpath) when self._istmpdest.
    return object_node("numpy.lib._datasource", "Repository",
                       {"_istmpdest": True, "_destpath": str(victim), "_baseurl": "https://example.invalid"})


def test_the_repository_gadget_is_real(tmp_path: Path) -> None:
    # What the old prefix allow-list let through: rebuilt and freed, it deletes the directory.
    from numpy.lib._datasource import Repository

    victim = _victim(tmp_path)
    gadget = Repository.__new__(Repository)
    gadget.__dict__.update(_istmpdest=True, _destpath=str(victim), _baseurl="")
    del gadget
    gc.collect()
    assert not victim.exists()


def test_the_gadget_is_refused_by_modelops_package_and_the_directory_survives(
    tmp_path: Path, breast_cancer: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = _victim(tmp_path)
    model_file = tmp_path / "fitted.skops"
    model_file.write_bytes(with_attribute(skops.io.dumps(breast_cancer.model), "cache_", _repository(victim)))
    reference = tmp_path / "reference.csv"
    breast_cancer.frame.assign(malignant=breast_cancer.target).to_csv(reference, index=False)
    code = main(["package", "--model", str(model_file), "--reference", str(reference), "--target", "malignant",
                 "--out", str(tmp_path / "artifact")])
    gc.collect()
    assert code != 0
    err = capsys.readouterr().err
    assert "UntrustedType" in err
    assert "numpy.lib._datasource.Repository" in err
    assert "__del__" in err
    assert (victim / "data.csv").exists()
    assert not (tmp_path / "artifact").exists()


def test_the_gadget_is_refused_by_the_serving_load_and_the_directory_survives(
    artifact: Built, tmp_path: Path
) -> None:
    victim = _victim(tmp_path)
    model = artifact.path / "model.skops"
    model.write_bytes(with_attribute(model.read_bytes(), "cache_", _repository(victim)))
    digest = resign(artifact.path)
    from modelops.serving.config import ServingConfig
    from modelops.serving.dataplane import DataPlane

    dataplane = DataPlane(ServingConfig(model_dir=artifact.path, expected_sha256=digest))
    try:
        dataplane.load()
        gc.collect()
        assert dataplane.state != "ready"
        assert "UntrustedType" in dataplane.reason
        assert "numpy.lib._datasource.Repository" in dataplane.reason
    finally:
        dataplane.close()
    assert (victim / "data.csv").exists()


# Other objects with side effects when rebuilt or freed, none of them a model's.
GADGETS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "numpy.lib._datasource.DataSource": lambda victim: object_node(
        "numpy.lib._datasource", "DataSource", {"_istmpdest": True, "_destpath": str(victim)}),
    "numpy.memmap": lambda victim: reduce_node("numpy", "memmap", str(victim / "data.csv"), "uint8", "r+"),
    "numpy.lib._npyio_impl.NpzFile": lambda victim: object_node(
        "numpy.lib._npyio_impl", "NpzFile", {"zip": None, "fid": None}),
    "tempfile.TemporaryDirectory": lambda victim: object_node(
        "tempfile", "TemporaryDirectory", {"name": str(victim), "_delete": True}),
    "tempfile._TemporaryFileWrapper": lambda victim: object_node(
        "tempfile", "_TemporaryFileWrapper", {"name": str(victim / "data.csv"), "delete": True}),
    "subprocess.Popen": lambda victim: reduce_node("subprocess", "Popen", ["rm", "-rf", str(victim)]),
    "weakref.finalize": lambda victim: reduce_node("weakref", "finalize", "x", "shutil.rmtree", str(victim)),
    "shutil.rmtree": lambda victim: reduce_node("shutil", "rmtree", str(victim)),
    "scipy.io._netcdf.netcdf_file": lambda victim: object_node(
        "scipy.io._netcdf", "netcdf_file", {"fp": None, "mode": "w", "filename": str(victim / "x.nc")}),
    "sklearn.utils._testing.TempMemmap": lambda victim: object_node(
        "sklearn.utils._testing", "TempMemmap", {"temp_folder": str(victim)}),
    "numpy._core.multiarray.fromfile": lambda victim: reduce_node(
        "numpy._core.multiarray", "fromfile", str(victim / "data.csv")),
}


@pytest.mark.parametrize("name", sorted(GADGETS))
def test_objects_with_side_effects_on_rebuild_or_free_are_refused_by_name(
    name: str, artifact: Built, tmp_path: Path
) -> None:
    victim = _victim(tmp_path)
    model = artifact.path / "model.skops"
    model.write_bytes(with_attribute(model.read_bytes(), "cache_", GADGETS[name](victim)))
    digest = resign(artifact.path)
    with pytest.raises(ArtifactError) as err:
        load_artifact(artifact.path, digest)
    gc.collect()
    assert err.value.reason == "UntrustedType"
    assert name in err.value.message
    assert (victim / "data.csv").exists()


def test_a_refused_type_says_which_hook_it_defines() -> None:
    import numpy.lib._datasource  # noqa: F401  (loaded: the reason can name the hook)

    (refused,) = review([("numpy.lib._datasource", "Repository")])
    assert refused.name == "numpy.lib._datasource.Repository"
    assert "__del__" in refused.why
    (popen,) = review([("subprocess", "Popen")])
    assert "__del__" in popen.why


def test_names_are_judged_by_what_they_resolve_to() -> None:
    refused = review([
        ("numpy.lib._datasource", "_open"),  # io.open, by another name
        ("numpy._core.multiarray", "fromfile"),  # numpy.fromfile
        ("numpy.lib._datasource", "os"),  # a module
        ("sklearn.nosuchmodule", "Thing"),  # resolves to nothing
        ("builtins", "eval"),
        ("os", "system"),
    ])
    assert [r.name for r in refused] == sorted([
        "numpy.lib._datasource._open", "numpy._core.multiarray.fromfile", "numpy.lib._datasource.os",
        "sklearn.nosuchmodule.Thing", "builtins.eval", "os.system",
    ])
    # An allowed name split differently from the way it is defined is judged by its target.
    assert review([("sklearn.tree", "_tree.Tree")]) == []
    assert review([("sklearn", "tree._tree.Tree")]) == []
    assert review([
        ("sklearn.linear_model._logistic", "LogisticRegression"), ("numpy", "float64"), ("builtins", "NoneType"),
        ("scipy.sparse._csr", "csr_matrix"), ("sklearn.tree._tree", "Tree"), ("numpy", "log1p"),
    ]) == []


def test_an_estimator_gaining_an_unreviewed_del_hook_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # A family member (all of scikit-learn's estimators) is admitted only while its rebuild
    # and free hooks are those reviewed.
    from sklearn.linear_model import _logistic

    monkeypatch.setattr(_logistic.LogisticRegression, "__del__", lambda self: None, raising=False)
    (refused,) = review([("sklearn.linear_model._logistic", "LogisticRegression")])
    assert "__del__" in refused.why
    assert "LogisticRegression" in refused.why


def _fitted() -> list[tuple[str, Any]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    import pandas as pd

    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(colour=np.array(["r", "g", "b"])[np.arange(120) % 3])
    column = ColumnTransformer([("num", make_pipeline(SimpleImputer(), StandardScaler()), ["a", "b", "c", "d"]),
                                ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])])
    models: list[tuple[str, Any, Any]] = [
        ("logistic", make_pipeline(StandardScaler(), LogisticRegression()), x),
        ("sgd", SGDClassifier(), x),
        ("forest", RandomForestClassifier(n_estimators=3, random_state=0), x),
        ("gradient-boosting", GradientBoostingRegressor(n_estimators=3, loss="huber"), x),
        ("hist-gradient-boosting", HistGradientBoostingClassifier(max_iter=3), x),
        ("svc", make_pipeline(MinMaxScaler(), SVC(random_state=0)), x),
        ("knn-kd-tree", KNeighborsClassifier(algorithm="kd_tree"), x),
        ("naive-bayes", GaussianNB(), x),
        ("calibrated", CalibratedClassifierCV(LogisticRegression(), cv=3), x),
        ("splines", make_pipeline(SplineTransformer(), LogisticRegression()), x),
        ("column-transformer", make_pipeline(column, HistGradientBoostingClassifier(max_iter=3)), frame),
    ]
    return [(name, model.fit(data, y)) for name, model, data in models]


def test_fitted_estimators_of_every_family_pass_the_review_and_load() -> None:
    for name, model in _fitted():
        data = skops.io.dumps(model)
        trusted = review_skops_types(data, name)
        assert type(skops.io.loads(data, trusted=trusted)) is type(model), name


def test_a_zip_without_a_schema_is_invalid() -> None:
    with pytest.raises(ArtifactError) as err:
        review_skops_types(b"PK\x05\x06" + b"\x00" * 18, "empty.skops")
    assert err.value.reason == "InvalidArtifact"
