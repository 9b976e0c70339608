"""evaluate(): per-feature methods and thresholds, dataset verdicts, Insufficient."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from modelops.drift.binning import Binner
from modelops.drift.counts import CountsBucket, CountsError, DriftCounts
from modelops.drift.evaluation import evaluate, score_counts
from modelops.drift.layout import layouts_of
from modelops.drift.profile import Profile, categorical_profile, numeric_profile
from modelops.drift.settings import DriftSettings, FeatureSetting, SettingsError
from modelops.drift.thresholds import EFFECT_FLOOR, default_threshold

RNG_SEED = 7


def _profile(n_numeric: int = 20, n_categorical: int = 0) -> Profile:
    rng = np.random.default_rng(RNG_SEED)
    numeric = [numeric_profile(f"x{i}", rng.normal(size=5000)) for i in range(n_numeric)]
    categorical = [
        categorical_profile(f"c{i}", rng.choice(["a", "b", "c", "d"], p=[0.4, 0.3, 0.2, 0.1], size=5000))
        for i in range(n_categorical)
    ]
    return Profile(features=(*numeric, *categorical), output=categorical_profile("y", rng.choice(["0", "1"], 5000)))


def _counts(profile: Profile, rows: np.ndarray, outputs: np.ndarray) -> DriftCounts:
    binner = Binner(profile)
    bucket = CountsBucket(
        start=600, rows=rows.shape[0], counts=binner.feature_counts(rows), output=binner.output_counts(outputs)
    )
    empty = DriftCounts.empty(profile, model="m", version="v", bucket_seconds=60, start=600, end=660)
    return replace(empty, buckets=(bucket,))


def _rows(n: int, shifted: tuple[int, ...] = (), shift: float = 0.5, n_features: int = 20) -> np.ndarray:
    rng = np.random.default_rng(RNG_SEED + n)
    rows = rng.normal(size=(n, n_features))
    rows[:, list(shifted)] += shift
    return rows


def test_shifted_features_drift_and_the_others_do_not() -> None:
    profile = _profile()
    result = evaluate(profile, _counts(profile, _rows(3000, (0, 5, 9)), np.array(["0", "1"] * 1500)))
    assert result.verdict == "Drifted"
    assert np.flatnonzero(result.drifted).tolist() == [0, 5, 9]
    assert {f.method for f in result.features} == {"ks"}
    assert result.output is not None
    assert result.output.method == "jensenshannon"
    assert not result.output.drifted


def test_below_min_samples_is_insufficient_whatever_the_scores() -> None:
    profile = _profile()
    result = evaluate(profile, _counts(profile, _rows(99, (0, 1, 2), shift=5.0), np.array(["0"] * 99)))
    assert result.verdict == "Insufficient"
    assert result.scores[0] >= 0.89  # scored all the same, for the status
    assert not result.drifted.any()
    assert result.drifted_features == 0


def test_dataset_drifts_only_when_the_share_of_drifted_features_is_reached() -> None:
    profile = _profile()
    counts = _counts(profile, _rows(3000, (0, 5, 9)), np.array(["0", "1"] * 1500))
    assert evaluate(profile, counts, DriftSettings(drifted_feature_share=15)).verdict == "Drifted"  # 3 of 20
    assert evaluate(profile, counts, DriftSettings(drifted_feature_share=16)).verdict == "Clean"  # needs 4


def test_unshifted_windows_rarely_alarm_with_default_settings() -> None:
    """The default thresholds bound false alarms of the whole evaluation at alpha (1 %)."""
    profile = _profile()
    layout = layouts_of(profile).features
    rng = np.random.default_rng(RNG_SEED)
    reference = [np.array(f.reference) / sum(f.reference) for f in profile.features]
    settings = DriftSettings()
    alarms = 0
    feature_alarms = 0
    windows = 400
    for _ in range(windows):
        current = np.concatenate([rng.multinomial(200, p) for p in reference])
        result = score_counts(layout, current, 200, settings)
        alarms += result.verdict == "Drifted"
        feature_alarms += result.drifted_features
    assert alarms <= 0.02 * windows
    # without the division of alpha by the 20 features, ~1 % of 8000 feature scores would fire
    assert feature_alarms <= 0.002 * windows * 20


def test_default_thresholds_shrink_with_sample_size_down_to_the_effect_floor() -> None:
    n = np.array([50, 200, 1000, 1_000_000])
    m = np.full(4, 100_000)
    bins = np.full(4, 10)
    for method in ("ks", "psi", "jensenshannon", "wasserstein"):
        t = default_threshold(method, 0.01 / 20, n, m, bins)
        assert np.all(np.diff(t) <= 0)
        assert t[0] > EFFECT_FLOOR[method]
        assert t[-1] == EFFECT_FLOOR[method]
    assert default_threshold("chisquare", 0.001, n, m, bins).tolist() == [0.001] * 4


def test_policy_method_and_per_feature_overrides() -> None:
    profile = _profile(n_numeric=3, n_categorical=2)
    settings = DriftSettings(
        method="wasserstein",
        threshold=0.05,
        features=(
            FeatureSetting("x1", method="psi"),
            FeatureSetting("x2", threshold=0.3),
            FeatureSetting("c1", method="chisquare", threshold=0.01),
        ),
    )
    rng = np.random.default_rng(1)
    rows = np.empty((500, 5), dtype=object)
    rows[:, :3] = rng.normal(size=(500, 3))
    rows[:, 3:] = rng.choice(["a", "b", "c", "d"], size=(500, 2))
    result = evaluate(profile, _counts(profile, rows, np.array(["0"] * 500)), settings)
    got = {f.name: (f.method, f.threshold) for f in result.features}
    assert got["x0"] == ("wasserstein", 0.05)  # the policy's method and threshold
    assert got["x1"][0] == "psi"
    assert got["x1"][1] >= EFFECT_FLOOR["psi"]  # psi's own default, not wasserstein's 0.05
    assert got["x2"] == ("wasserstein", 0.3)
    assert got["c0"][0] == "jensenshannon"  # wasserstein needs order: categorical stays auto
    assert got["c0"][1] >= EFFECT_FLOOR["jensenshannon"]
    assert got["c1"] == ("chisquare", 0.01)


def test_auto_policy_threshold_applies_to_every_feature() -> None:
    profile = _profile(n_numeric=2, n_categorical=1)
    layout = layouts_of(profile).features
    result = score_counts(layout, np.array(layout.reference), 5000, DriftSettings(threshold=0.25))
    assert result.thresholds.tolist() == [0.25, 0.25, 0.25]
    assert result.scores.tolist() == [0.0, 0.0, 0.0]
    assert result.verdict == "Clean"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (DriftSettings(features=(FeatureSetting("c0", method="ks"),)), "needs ordered bins"),
        (DriftSettings(features=(FeatureSetting("nope"),)), "'nope' is not a feature"),
    ],
)
def test_settings_that_do_not_fit_the_model_are_refused(settings: DriftSettings, message: str) -> None:
    profile = _profile(n_numeric=1, n_categorical=1)
    layout = layouts_of(profile).features
    with pytest.raises(SettingsError, match=message):
        score_counts(layout, np.array(layout.reference), 5000, settings)


def test_settings_from_policy_spec_and_their_validation() -> None:
    spec = {
        "method": "psi", "threshold": 0.25, "minSamples": 500, "driftedFeatureShare": 30, "consecutive": 3,
        "features": [{"name": "tenure", "method": "ks", "threshold": 0.1}], "window": "1h",
    }
    s = DriftSettings.from_spec(spec)
    assert (s.method, s.threshold, s.min_samples, s.drifted_feature_share, s.consecutive) == ("psi", 0.25, 500, 30, 3)
    assert s.features == (FeatureSetting("tenure", "ks", 0.1),)
    with pytest.raises(SettingsError, match="method 'pca'"):
        DriftSettings.from_spec({"method": "pca"})
    with pytest.raises(SettingsError, match="driftedFeatureShare"):
        DriftSettings(drifted_feature_share=120)


def test_counts_of_another_profile_are_not_scored() -> None:
    profile = _profile()
    other = _profile(n_numeric=19)
    counts = DriftCounts.empty(other, model="m", version="v", bucket_seconds=60, start=0, end=60)
    with pytest.raises(CountsError):
        evaluate(profile, counts)


def test_status_lists_drifted_features_first_when_limited() -> None:
    profile = _profile()
    result = evaluate(profile, _counts(profile, _rows(3000, (17, 4)), np.array(["0", "1"] * 1500)))
    status = result.to_status(limit=3)
    assert [f["name"] for f in status["features"]][:2] in (["x17", "x4"], ["x4", "x17"])
    assert [f["drifted"] for f in status["features"]] == [True, True, False]
    assert status["verdict"] == "Drifted"
    assert status["driftedFeatures"] == 2
    assert status["samples"] == 3000
