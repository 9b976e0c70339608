"""Specs parse with the documented defaults and reject what the schema would reject."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from modelops.api.common import format_duration, parse_duration
from modelops.api.driftpolicy import DriftPolicySpec
from modelops.api.modeldeployment import ModelDeploymentSpec
from modelops.api.modelversion import ModelVersionSpec

SHA = "a" * 64


def test_model_version_defaults_to_untrusted_skops() -> None:
    spec = ModelVersionSpec.model_validate(
        {"model": "churn", "artifact": {"uri": "file:///models/churn/v1", "sha256": SHA}}
    )
    assert spec.artifact.format == "skops"
    assert spec.artifact.trusted is False
    assert spec.allow_version_skew is False


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"model": "Churn_Model"}, "model"),
        ({"artifact": {"uri": "not a uri", "sha256": SHA}}, "artifact.uri"),
        ({"artifact": {"uri": "file:///x", "sha256": "xyz"}}, "artifact.sha256"),
        ({"artifact": {"uri": "file:///x", "sha256": SHA, "format": "pickle"}}, "artifact.format"),
        ({"artefact": {}}, "artefact"),
    ],
)
def test_model_version_rejects_bad_fields_naming_them(patch: dict[str, object], field: str) -> None:
    raw: dict[str, object] = {"model": "churn", "artifact": {"uri": "file:///x", "sha256": SHA}}
    raw.update(patch)
    with pytest.raises(ValidationError) as info:
        ModelVersionSpec.model_validate(raw)
    locs = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert field in locs


def test_model_deployment_accepts_the_design_example() -> None:
    spec = ModelDeploymentSpec.model_validate(
        {
            "model": "churn",
            "version": "churn-v1",
            "promotion": "Manual",
            "replicas": 2,
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
            "serving": {"maxBatchSize": 32, "maxBatchLatencyMs": 2, "maxConcurrency": 256},
            "router": "Replicas",
            "strategy": {
                "type": "Canary",
                "canary": {"steps": [{"weight": 10, "pause": "5m"}, {"weight": 50, "pause": "10m"}]},
                "analysis": {"interval": "1m", "minSamples": 200, "maxPredictionPSI": 0.2},
                "progressDeadline": "10m",
            },
        }
    )
    assert spec.strategy.canary is not None
    assert [s.weight for s in spec.strategy.canary.steps] == [10, 50]
    assert spec.strategy.analysis.max_prediction_psi == 0.2
    assert spec.resources.requests == {"cpu": "250m", "memory": "256Mi"}


@pytest.mark.parametrize(
    "bad",
    [
        {"replicas": -1},
        {"strategy": {"type": "BlueGreen"}},
        {"strategy": {"canary": {"steps": [{"weight": 101}]}}},
        {"strategy": {"progressDeadline": "10 minutes"}},
    ],
)
def test_model_deployment_rejects_out_of_range_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ModelDeploymentSpec.model_validate({"model": "churn", **bad})


def test_drift_policy_defaults() -> None:
    spec = DriftPolicySpec.model_validate({"targetRef": {"name": "churn"}})
    assert (spec.interval, spec.window, spec.min_samples, spec.method) == ("5m", "1h", 500, "auto")
    assert spec.drifted_feature_share == 30
    assert spec.consecutive == 2


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("1.5h", 5400)]
)
def test_durations_parse_like_go(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "5 m", "-1s", "1d"])
def test_bad_durations_name_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_format_duration_round_trips_whole_seconds() -> None:
    assert format_duration(timedelta(seconds=5400)) == "1h30m"
    assert parse_duration(format_duration(timedelta(seconds=3725))) == timedelta(seconds=3725)


def test_a_duration_too_long_for_a_timedelta_is_a_value_error_not_an_overflow() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("99999999999999h")


@pytest.mark.parametrize("deadline", ["99999999999999h", "8785h", "600000m"])
def test_every_duration_has_an_upper_bound(deadline: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ModelDeploymentSpec.model_validate({"model": "churn", "strategy": {"progressDeadline": deadline}})
    assert caught.value.errors()[0]["loc"] == ("strategy", "progressDeadline")
    with pytest.raises(ValidationError):
        DriftPolicySpec.model_validate({"targetRef": {"name": "churn"}, "window": deadline})


def test_the_longest_duration_is_accepted() -> None:
    spec = ModelDeploymentSpec.model_validate({"model": "churn", "strategy": {"progressDeadline": "8784h"}})
    assert parse_duration(spec.strategy.progress_deadline) == timedelta(days=366)


@pytest.mark.parametrize(("value", "ok"), [("250m", True), ("256Mi", True), ("1.5", True), ("1e3", True), (2, True),
                                           ("lots", False), ("1 Gi", False), ("1Gb", False), ("", False)])
def test_quantities_follow_the_kubernetes_syntax(value: object, ok: bool) -> None:
    body = {"model": "churn", "resources": {"limits": {"memory": value}}}
    if ok:
        ModelDeploymentSpec.model_validate(body)
    else:
        with pytest.raises(ValidationError):
            ModelDeploymentSpec.model_validate(body)


def test_a_bad_quantity_is_one_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        ModelDeploymentSpec.model_validate({"model": "churn", "resources": {"requests": {"cpu": "lots"}}})
    (error,) = caught.value.errors()
    assert error["loc"] == ("resources", "requests", "cpu")
    assert "'lots' is not a Kubernetes quantity" in error["msg"]
