"""Validation through the real operator against the emulator: the test plays the Job controller,
running each validation Job's own command (real figures) and writing Pod and Job status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelops.api.modelversion import ModelVersionStatus
from modelops.emulator.testing import EmulatorHandle

from .harness import (
    IMAGE,
    MV_API,
    condition,
    has_condition,
    model_deployment,
    play_deployment_controller,
    running_operator,
    wait_deployment,
    wait_for,
    wait_object,
)
from .validation_jobs import SENSITIVE, Built, build, holdout_csv, run_validation_job, validated_version

pytestmark = pytest.mark.integration


def _version(k8s: EmulatorHandle, name: str, reason: str) -> dict[str, Any]:
    return wait_object(k8s, MV_API, "ModelVersion", name, lambda o: has_condition(o, "Validated", "False", reason)
                       or has_condition(o, "Validated", "True", reason), what=f"{name} Validated {reason}")


def _events(k8s: EmulatorHandle, name: str) -> dict[str, str]:
    return {e["reason"]: e["message"] for e in k8s.list("v1", "Event", "default")
            if e["involvedObject"]["name"] == name}


def test_metric_fairness_pass_and_unreadable_holdout(k8s: EmulatorHandle, tmp_path: Path) -> None:
    fair, biased = build(tmp_path / "fair", biased=False), build(tmp_path / "biased", biased=True)
    holdout = holdout_csv(tmp_path / "holdout.csv")
    fairness = {"sensitiveFeature": SENSITIVE, "maxDemographicParityDifference": 0.1,
                "minGroupMetric": {"name": "recall", "min": 0.5}}
    cases: dict[str, tuple[Built, dict[str, Any], str]] = {
        # name: (artifact, spec.validation, expected reason)
        "churn-pass": (fair, {"holdoutUri": holdout, "metrics": [{"name": "roc_auc", "min": 0.8}],
                              "fairness": fairness}, "ValidationPassed"),
        "churn-metric": (fair, {"holdoutUri": holdout, "metrics": [{"name": "roc_auc", "min": 0.8},
                                                                   {"name": "accuracy", "min": 0.99}]},
                         "ValidationFailed"),
        "churn-biased": (biased, {"holdoutUri": holdout, "metrics": [{"name": "accuracy", "min": 0.5}],
                                  "fairness": fairness}, "ValidationFailed"),
        "churn-nodata": (fair, {"holdoutUri": (tmp_path / "missing.csv").as_uri()}, "ValidationError"),
    }
    with running_operator(k8s):
        for name, (built, spec, _) in cases.items():
            k8s.create(validated_version(name, built, spec))
        for name in cases:
            job = run_validation_job(k8s, f"{name}-validate", tmp_path)
            assert job["metadata"]["ownerReferences"][0]["name"] == name
            assert job["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
        done = {name: _version(k8s, name, reason) for name, (_, _, reason) in cases.items()}

    passed = done["churn-pass"]
    assert has_condition(passed, "Ready", "True", "ValidationPassed")
    status = ModelVersionStatus.model_validate(passed["status"])
    assert status.validation is not None
    assert status.validation.job == "churn-pass-validate"
    assert status.validation.completed_at is not None
    figures = {(r.metric, r.group): r for r in status.validation.results}
    assert set(figures) == {("roc_auc", None), ("demographic_parity_difference", SENSITIVE),
                            ("recall", f"{SENSITIVE}=A"), ("recall", f"{SENSITIVE}=B")}
    assert all(r.verdict == "Pass" for r in figures.values())
    assert "roc_auc=" in _events(k8s, "churn-pass")["ValidationPassed"]

    metric = done["churn-metric"]
    assert has_condition(metric, "Ready", "False", "ValidationFailed")
    assert condition(metric, "Validated")["message"].startswith("accuracy is ")  # type: ignore[index]
    verdicts = {r["metric"]: r["verdict"] for r in metric["status"]["validation"]["results"]}
    assert verdicts == {"roc_auc": "Pass", "accuracy": "Fail"}

    unfair = done["churn-biased"]
    message = condition(unfair, "Validated")["message"]  # type: ignore[index]
    assert message.startswith(("demographic_parity_difference", f"recall of {SENSITIVE}=B"))
    failing = {(r["metric"], r.get("group")) for r in unfair["status"]["validation"]["results"]
               if r["verdict"] == "Fail"}
    assert ("demographic_parity_difference", SENSITIVE) in failing
    assert ("accuracy", None) not in failing  # accurate overall, unfair to group B
    assert "demographic_parity_difference" in _events(k8s, "churn-biased")["ValidationFailed"]

    nodata = done["churn-nodata"]
    assert has_condition(nodata, "Ready", "False", "ValidationError")
    assert "HoldoutUnreadable" in condition(nodata, "Validated")["message"]  # type: ignore[index]
    assert "missing.csv" in condition(nodata, "Validated")["message"]  # type: ignore[index]


def test_a_job_that_dies_without_a_message_is_a_validation_error(k8s: EmulatorHandle, tmp_path: Path) -> None:
    fair = build(tmp_path / "fair", biased=False)
    with running_operator(k8s):
        k8s.create(validated_version("churn-v1", fair, {"holdoutUri": holdout_csv(tmp_path / "h.csv")}))
        run_validation_job(k8s, "churn-v1-validate", tmp_path, crash=True)
        obj = _version(k8s, "churn-v1", "ValidationError")
    text = condition(obj, "Validated")["message"]  # type: ignore[index]
    assert "validation Job churn-v1-validate failed (BackoffLimitExceeded" in text
    assert has_condition(obj, "Ready", "False", "ValidationError")


def test_promotion_auto_waits_for_validation_and_compares_with_the_champion(
    k8s: EmulatorHandle, tmp_path: Path
) -> None:
    fair, biased = build(tmp_path / "fair", biased=False), build(tmp_path / "biased", biased=True)
    holdout = holdout_csv(tmp_path / "holdout.csv")
    spec = {"holdoutUri": holdout, "metrics": [{"name": "roc_auc", "min": 0.5}],
            "championComparison": {"metric": "accuracy", "maxDrop": 0.02}}
    with running_operator(k8s):
        k8s.create(validated_version("churn-v1", fair, {"holdoutUri": holdout}))
        k8s.create(model_deployment(None, promotion="Auto"))
        wait_object(k8s, MV_API, "ModelVersion", "churn-v1", lambda o: has_condition(o, "Validated", "Unknown",
                                                                                     "Validating"),
                    what="churn-v1 validating")
        # Not Ready while its validation runs: Auto has nothing to deploy.
        assert k8s.find("apps/v1", "Deployment", "churn-churn-v1") is None
        assert not has_condition(k8s.get(MV_API, "ModelVersion", "churn-v1"), "Ready", "True")
        run_validation_job(k8s, "churn-v1-validate", tmp_path)
        _version(k8s, "churn-v1", "ValidationPassed")
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "churn-v1 deployed once validated")
        play_deployment_controller(k8s, "churn-churn-v1", 2)
        wait_deployment(k8s, "churn-v1 stable", lambda o: (o.get("status") or {}).get("stable") == "churn-v1")

        # v2 learned a biased past: less accurate than v1 on the same holdout by more than maxDrop.
        k8s.create(validated_version("churn-v2", biased, spec))
        job = run_validation_job(k8s, "churn-v2-validate", tmp_path)
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--champion-uri") + 1] == fair.uri
        assert job["metadata"]["annotations"]["modelops.dev/champion"] == "churn-v1"
        v2 = _version(k8s, "churn-v2", "ValidationFailed")
        assert condition(v2, "Validated")["message"].startswith("accuracy_drop_vs_champion")  # type: ignore[index]
        # A version whose validation failed is never rolled out.
        mdep = wait_deployment(k8s, "still churn-v1", lambda o: (o.get("status") or {}).get("stable") == "churn-v1")
        assert (mdep.get("status") or {}).get("candidate") in (None, "")
        assert k8s.find("apps/v1", "Deployment", "churn-churn-v2") is None
