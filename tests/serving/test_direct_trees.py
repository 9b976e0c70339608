"""The direct tree-ensemble predictor: used for trees, forests and gradient boosting only once it
answers as scikit-learn does, including on both sides of every split threshold and for missing
values; anything it cannot prove keeps scikit-learn, and the log says why."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import is_classifier
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeRegressor

from modelops.drift.profile import Profile, categorical_profile, numeric_profile
from modelops.serving.direct import choose, trees
from modelops.serving.direct.rows import profile_rows
from modelops.serving.direct.trees import TreeEnsemblePredictor
from modelops.serving.model import Feature, ServedModel
from tests.serving.support import cancer_data

X, Y, NAMES = cancer_data()
THREE = np.array(["low", "mid", "high"])[np.digitize(X[:, 0], [12, 16])]


def profile_of(x: np.ndarray[Any, Any], names: list[str] | None = None) -> Profile:
    names = names or [f"f{j}" for j in range(x.shape[1])]
    return Profile(
        features=tuple(numeric_profile(n, x[:, j]) for j, n in enumerate(names)),
        output=categorical_profile("predict", np.zeros(len(x), dtype=int)),
    )


def _split_points(model: Any) -> list[tuple[int, float]]:
    """(feature, threshold) of every split of every tree, read from scikit-learn's own arrays."""
    if hasattr(model, "_predictors"):
        nodes = [p.nodes for iteration in model._predictors for p in iteration]
        return [
            (int(f), float(t))
            for n in nodes
            for f, t, leaf in zip(n["feature_idx"], n["num_threshold"], n["is_leaf"], strict=True)
            if not leaf
        ]
    estimators = np.ravel(getattr(model, "estimators_", [model]))
    return [
        (int(f), float(t))
        for e in estimators
        for f, t in zip(e.tree_.feature, e.tree_.threshold, strict=True)
        if f >= 0
    ]


def threshold_rows(model: Any, x: np.ndarray[Any, Any], limit: int = 3000) -> np.ndarray[Any, Any]:
    """Data rows with one feature moved to a split threshold, one float64 step either side, or
    the float32 values around it (written here independently of the module under test)."""
    points = _split_points(model)
    step = max(1, len(points) // limit)
    out = []
    for i, (f, t) in enumerate(points[::step]):
        t32 = np.float32(t)
        near = [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), float(t32)]
        near += [float(np.nextafter(t32, np.float32(-np.inf))), float(np.nextafter(t32, np.float32(np.inf)))]
        lo, hi = sorted(near[3:])[:2]
        near += [lo / 2 + hi / 2, np.nextafter(lo / 2 + hi / 2, np.inf)]
        for v in near:
            if abs(v) <= np.finfo(np.float32).max:  # beyond, scikit-learn warns as it casts
                row = x[i % len(x)].copy()
                row[f] = v
                out.append(row)
    return np.array(out).reshape(-1, x.shape[1])


def assert_same_answers(direct: Any, model: Any, rows: np.ndarray[Any, Any]) -> None:
    assert np.array_equal(direct.predict(rows), model.predict(rows))
    if is_classifier(model):
        gap = np.abs(direct.predict_proba(rows) - model.predict_proba(rows))
        assert gap.max() <= 1e-12


def direct_of(model: Any, x: np.ndarray[Any, Any]) -> TreeEnsemblePredictor:
    choice = choose(model, profile_of(x), proba=bool(is_classifier(model)))
    assert isinstance(choice.predictor, TreeEnsemblePredictor), choice.reason
    return choice.predictor


CLASSIFIERS = {
    "tree": DecisionTreeClassifier(random_state=0),
    "forest": RandomForestClassifier(n_estimators=30, random_state=0),
    "extra-trees": ExtraTreesClassifier(n_estimators=30, random_state=0),
    "gradient-boosting": GradientBoostingClassifier(n_estimators=30, random_state=0),
    "hist-gradient-boosting": HistGradientBoostingClassifier(max_iter=30, random_state=0),
    "scaled-forest": make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=20, random_state=0)),
    "scaled-hist": make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=20, random_state=0)),
}
REGRESSORS = {
    "tree": DecisionTreeRegressor(random_state=0),
    "extra-tree": ExtraTreeRegressor(random_state=0),
    "forest": RandomForestRegressor(n_estimators=20, random_state=0),
    "extra-trees": ExtraTreesRegressor(n_estimators=20, random_state=0),
    "gradient-boosting": GradientBoostingRegressor(n_estimators=30, random_state=0),
    "gradient-boosting-huber": GradientBoostingRegressor(n_estimators=20, loss="huber", random_state=0),
    "hist-gradient-boosting": HistGradientBoostingRegressor(max_iter=30, random_state=0),
    "hist-poisson": HistGradientBoostingRegressor(max_iter=20, loss="poisson", random_state=0),
    "scaled-gradient-boosting": make_pipeline(StandardScaler(), GradientBoostingRegressor(n_estimators=20)),
}


@pytest.mark.parametrize("labels", ["binary", "three-strings"])
@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_classifiers_answer_exactly_as_scikit_learn(name: str, labels: str) -> None:
    y = Y if labels == "binary" else THREE
    model = CLASSIFIERS[name].fit(X, y)
    direct = direct_of(model, X)
    final = model[-1] if hasattr(model, "steps") else model
    rows = np.vstack([X, profile_rows(profile_of(X), seed=5), threshold_rows(final, X)])
    assert_same_answers(direct, model, rows)


@pytest.mark.parametrize("name", list(REGRESSORS))
def test_regressors_answer_exactly_as_scikit_learn(name: str) -> None:
    x, y = X[:, 1:], X[:, 0]
    model = REGRESSORS[name].fit(x, y)
    direct = direct_of(model, x)
    final = model[-1] if hasattr(model, "steps") else model
    rows = np.vstack([x, profile_rows(profile_of(x), seed=5), threshold_rows(final, x)])
    assert_same_answers(direct, model, rows)


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=20, random_state=0),
        DecisionTreeClassifier(random_state=0),
        HistGradientBoostingClassifier(max_iter=30, random_state=0),
    ],
    ids=["forest", "tree", "hist-gradient-boosting"],
)
def test_missing_values_go_where_each_estimator_sends_them(estimator: Any) -> None:
    rng = np.random.default_rng(3)
    x = X.copy()
    x[rng.random(x.shape) < 0.15] = np.nan  # learnt with missing values: both directions occur
    model = estimator.fit(x, Y)
    direct = direct_of(model, X)
    rows = np.vstack([x, threshold_rows(model, x)])
    unseen = X.copy()
    unseen[rng.random(unseen.shape) < 0.3] = np.nan
    assert_same_answers(direct, model, np.vstack([rows, unseen]))


def test_a_model_fitted_without_missing_values_answers_them_as_scikit_learn() -> None:
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, Y)
    rows = X.copy()
    rows[np.random.default_rng(0).random(rows.shape) < 0.3] = np.nan
    assert_same_answers(direct_of(model, X), model, rows)


def _data(draw: st.DrawFn, nan: bool) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    n = draw(st.integers(20, 60))
    f = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Few distinct values (ties, thresholds between close values) and wide scales.
    scale = draw(st.sampled_from([1e-6, 1.0, 1e6]))
    x = np.round(rng.normal(size=(n, f)), draw(st.integers(0, 3))) * scale
    if nan:
        x[rng.random(x.shape) < draw(st.sampled_from([0.0, 0.1, 0.3]))] = np.nan
    y = rng.integers(0, draw(st.integers(2, 3)), n)
    if len(np.unique(y)) < 2:
        y[:2] = [0, 1]
    return x, y


@st.composite
def forests(draw: st.DrawFn) -> tuple[Any, np.ndarray[Any, Any]]:
    x, y = _data(draw, nan=True)
    kind = draw(st.sampled_from([RandomForestClassifier, ExtraTreesClassifier, RandomForestRegressor]))
    model = kind(
        n_estimators=draw(st.integers(1, 8)),
        max_depth=draw(st.sampled_from([1, 3, None])),
        bootstrap=draw(st.booleans()),
        random_state=draw(st.integers(0, 100)),
    )
    target = y if kind is not RandomForestRegressor else y * 1.5 + np.nan_to_num(x[:, 0])
    return model.fit(x, target), x


@st.composite
def boosted(draw: st.DrawFn) -> tuple[Any, np.ndarray[Any, Any]]:
    hist = draw(st.booleans())
    x, y = _data(draw, nan=hist)  # GradientBoosting takes no missing values
    regress = draw(st.booleans())
    iterations = draw(st.integers(1, 15))
    seed = draw(st.integers(0, 100))
    if hist:
        kind: Any = HistGradientBoostingRegressor if regress else HistGradientBoostingClassifier
        model = kind(max_iter=iterations, max_leaf_nodes=draw(st.integers(2, 8)), random_state=seed)
    else:
        kind = GradientBoostingRegressor if regress else GradientBoostingClassifier
        model = kind(n_estimators=iterations, max_depth=draw(st.integers(1, 3)), random_state=seed)
    target = y * 2.0 + np.nan_to_num(x[:, 0]) if regress else y
    return model.fit(x, target), x


def _probe(model: Any, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    finite = np.nan_to_num(x)
    return np.vstack([x, threshold_rows(model, finite), profile_rows(profile_of(finite), n=64)])


@settings(max_examples=30, deadline=None)
@given(forests())
def test_random_forests_answer_as_scikit_learn(case: tuple[Any, np.ndarray[Any, Any]]) -> None:
    model, x = case
    direct = direct_of(model, np.nan_to_num(x))
    assert_same_answers(direct, model, _probe(model, x))


@settings(max_examples=30, deadline=None)
@given(boosted())
def test_random_boosted_models_answer_as_scikit_learn(case: tuple[Any, np.ndarray[Any, Any]]) -> None:
    model, x = case
    direct = direct_of(model, np.nan_to_num(x))
    assert_same_answers(direct, model, _probe(model, x))


def test_the_compiled_form_is_at_most_twice_scikit_learns_memory() -> None:
    for model in (
        RandomForestClassifier(n_estimators=50, random_state=0).fit(X, Y),
        HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(X, Y),
        GradientBoostingClassifier(n_estimators=50, random_state=0).fit(X, THREE),
    ):
        nbytes = direct_of(model, X).nodes.nbytes
        assert nbytes <= 2 * len(pickle.dumps(model)), type(model).__name__


def test_a_served_forest_uses_the_direct_predictor() -> None:
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, Y)
    served = ServedModel(
        model,
        name="forest",
        version="v1",
        features=tuple(Feature(n, "numeric") for n in NAMES),
        profile=profile_of(X, NAMES),
        task="classification",
    )
    assert isinstance(served.direct, TreeEnsemblePredictor)
    assert "tree-ensemble" in served.predictor_description
    assert np.array_equal(served.predict(X), model.predict(X))


# -- refusals: scikit-learn serves, and the log says why --------------------------------------


def test_a_model_it_does_not_know_keeps_scikit_learn(caplog: pytest.LogCaptureFixture) -> None:
    multi_output = RandomForestRegressor(n_estimators=3, random_state=0).fit(X[:, 2:], X[:, :2])
    with caplog.at_level("INFO", logger="modelops.serving.direct"):
        choice = choose(multi_output, profile_of(X[:, 2:]), proba=False)
    assert choice.predictor is None
    assert not choice.disagreed
    assert "RandomForestRegressor: it predicts several outputs" in caplog.text


def test_categorical_hist_gradient_boosting_keeps_scikit_learn(caplog: pytest.LogCaptureFixture) -> None:
    x = X.copy()
    x[:, 0] = np.floor(x[:, 0]) % 5
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(x, Y)
    with caplog.at_level("INFO", logger="modelops.serving.direct"):
        assert choose(model, profile_of(x), proba=True).predictor is None
    assert "HistGradientBoostingClassifier: it has categorical features" in caplog.text


def test_a_model_too_large_to_check_at_load_keeps_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trees, "MAX_SPLIT_NODES", 10)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    choice = choose(model, profile_of(X), proba=True)
    assert choice.predictor is None
    assert "more than the 10 checked at load" in choice.reason


def _broken(change: str) -> Any:
    """compile_trees, but with a bug of the kind the checks must catch."""
    original = trees.compile_trees

    def compile_with_a_bug(*args: Any) -> Any:
        compiled = original(*args)
        assert isinstance(compiled, trees.Compiled)
        predictor = compiled.predictor
        if change == "no-float32-cast":
            predictor.float32 = False
        else:  # thresholds one float64 step lower: decides wrongly exactly at each threshold
            predictor.nodes.threshold[:] = np.nextafter(predictor.nodes.threshold, -np.inf)
        return compiled

    return compile_with_a_bug


@pytest.mark.parametrize(
    ("model", "change"),
    [
        (RandomForestClassifier(n_estimators=10, random_state=0), "no-float32-cast"),
        (GradientBoostingRegressor(n_estimators=10, random_state=0), "no-float32-cast"),
        (HistGradientBoostingClassifier(max_iter=10, random_state=0), "threshold-one-step-low"),
    ],
    ids=["forest", "gradient-boosting", "hist-gradient-boosting"],
)
def test_a_predictor_wrong_only_at_thresholds_is_refused(
    model: Any, change: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model.fit(X, Y)
    monkeypatch.setattr(trees, "compile_trees", _broken(change))
    with caplog.at_level("WARNING", logger="modelops.serving.direct"):
        choice = choose(model, profile_of(X), proba=is_classifier(model))
    assert choice.predictor is None
    assert choice.disagreed
    assert "threshold-boundary rows to another leaf than scikit-learn does" in caplog.text


def test_a_disagreement_on_the_whole_model_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, Y)
    original = model.predict_proba
    model.predict_proba = lambda rows: original(rows) * (1 + 1e-9)  # scikit-learn now answers otherwise
    with caplog.at_level("WARNING", logger="modelops.serving.direct"):
        choice = choose(model, profile_of(X), proba=True)
    assert choice.predictor is None
    assert (
        "scikit-learn predict: the direct tree-ensemble predictor of HistGradientBoostingClassifier is not used"
        in caplog.text
    )
    assert "probabilities differ from scikit-learn's" in caplog.text


def test_linear_models_are_not_taken_for_trees() -> None:
    model = LinearRegression().fit(X[:, 1:], X[:, 0])
    assert trees.compile_trees((), model) is None


@pytest.mark.parametrize(
    ("estimator", "tie_goes_to"),
    [
        (HistGradientBoostingClassifier(max_iter=3), "a"),  # raw > 0 is the second class
        (GradientBoostingClassifier(n_estimators=3), "b"),  # raw >= 0 is the second class
        (RandomForestClassifier(n_estimators=3, bootstrap=False), "a"),  # argmax: the first
    ],
    ids=["hist-gradient-boosting", "gradient-boosting", "forest"],
)
def test_a_raw_tie_goes_where_each_estimator_sends_it(estimator: Any, tie_goes_to: str) -> None:
    # Nothing to split on and balanced classes: a raw score of exactly 0 (probabilities 1/2).
    x = np.ones((40, 2))
    model = estimator.fit(x, np.array(["a", "b"] * 20))
    direct = direct_of(model, x)
    assert direct.predict(x[:1]).tolist() == model.predict(x[:1]).tolist() == [tie_goes_to]


def test_a_refused_direct_predictor_leaves_scikit_learn_serving(caplog: pytest.LogCaptureFixture) -> None:
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    original = model.predict
    model.predict = lambda rows: 1 - original(rows)  # scikit-learn now answers otherwise
    with caplog.at_level("WARNING", logger="modelops.serving.direct"):
        served = ServedModel(
            model,
            name="forest",
            version="v1",
            features=tuple(Feature(n, "numeric") for n in NAMES),
            profile=profile_of(X, NAMES),
            task="classification",
        )
    assert served.direct is None
    assert served.predictor_description == "scikit-learn predict"
    assert np.array_equal(served.predict(X), 1 - original(X))  # what scikit-learn (as patched) says
    assert "scikit-learn predict: the direct tree-ensemble predictor of RandomForestClassifier is not used" in (
        caplog.text
    )
    assert "its predictions differ from scikit-learn's" in caplog.text
