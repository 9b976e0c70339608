"""The real operator against the emulator, closing the drift loop: the test plays the serving
replicas (real HTTP on 127.0.0.x with counts from the real sketch), the Deployment and the
Job controllers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from modelops.emulator.testing import EmulatorHandle

from .conftest import Artifact
from .drift_fakes import (
    FakeReplica,
    drift_policy,
    events_of,
    load_profile,
    play_job,
    reference_rows,
    replicas,
    retrain,
    trainer_result,
)
from .harness import (
    IMAGE,
    MV_API,
    apply_v1,
    has_condition,
    play_when_created,
    running_operator,
    wait_deployment,
    wait_for,
    wait_object,
)

pytestmark = pytest.mark.integration
JOB = "churn-drift-retrain-1"


def _serve_stable(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact], **spec: Any) -> None:
    apply_v1(k8s, artifacts[0], **spec)
    play_when_created(k8s, "churn-churn-v1", 2)
    wait_deployment(k8s, "churn-v1 stable", lambda o: (o.get("status") or {}).get("stable") == "churn-v1")


def _policy(k8s: EmulatorHandle) -> dict[str, Any]:
    return k8s.get(MV_API, "DriftPolicy", "churn-drift")


def _wait_policy(k8s: EmulatorHandle, what: str, check: Any, timeout: float = 30.0) -> dict[str, Any]:
    return wait_object(k8s, MV_API, "DriftPolicy", "churn-drift", check, what=what, timeout=timeout)


def _evaluations(k8s: EmulatorHandle, n: int) -> None:
    """Let ``n`` more evaluations happen (each writes a new lastEvaluation.time)."""
    def when() -> Any:
        return ((_policy(k8s).get("status") or {}).get("lastEvaluation") or {}).get("time")

    seen = {when()}
    for _ in range(n):
        seen.add(wait_for(lambda: (t := when()) not in seen and t, "another evaluation"))


def _shifted(fakes: list[FakeReplica], rows: int = 300, shift: float = 3.0) -> None:
    for i, fake in enumerate(fakes):
        fake.send(reference_rows(rows, shift=shift, seed=10 + i))


def test_drift_starts_one_job_whose_passing_result_becomes_a_model_version_with_lineage(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v2 = artifacts[1]
    profile = load_profile(artifacts[0].uri)
    with running_operator(k8s), replicas(k8s, profile, 3) as fakes:
        _serve_stable(k8s, artifacts)
        _shifted(fakes)
        fakes[2].failing = True  # one replica cannot be scraped: named, left out
        k8s.create(drift_policy(retrain=retrain()))
        detected = _wait_policy(k8s, "DriftDetected", lambda o: has_condition(o, "DriftDetected", "True", "Drifted"))
        status = detected["status"]
        evaluation = status["lastEvaluation"]
        assert evaluation["verdict"] == "Drifted"
        assert evaluation["samples"] == 600  # two replicas' rows: the failing one left out
        assert evaluation["replicas"] == 2
        assert evaluation["unreachable"] == ["churn-churn-v1-pod2"]
        assert evaluation["features"][0]["name"] == "a"
        assert evaluation["features"][0]["drifted"] is True
        assert evaluation["totalFeatures"] == 3
        assert "churn-churn-v1-pod2" in next(c for c in status["conditions"] if c["type"] == "Ready")["message"]
        # Events are posted after the status patch: wait for them
        wait_for(lambda: any(r == "DriftDetected" and "a ks" in m for r, m in events_of(k8s)), "DriftDetected Event")
        assert REGISTRY.get_sample_value("modelops_drift_detected", {"namespace": "default",
                                                                     "policy": "churn-drift"}) == 1.0
        score = REGISTRY.get_sample_value("modelops_drift_score", {"namespace": "default", "policy": "churn-drift",
                                                                   "feature": "a", "method": "ks"})
        assert score is not None
        assert score > 0.5

        job = wait_for(lambda: k8s.find("batch/v1", "Job", JOB), "the retraining Job")
        policy = _policy(k8s)
        assert job["metadata"]["ownerReferences"][0]["uid"] == policy["metadata"]["uid"]
        pod = job["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        assert pod["automountServiceAccountToken"] is False
        container = pod["containers"][0]
        assert container["image"] == IMAGE
        args = container["args"]
        last = _wait_policy(k8s, "lastRetrain", lambda o: (o["status"].get("lastRetrain") or {}).get("job") == JOB)
        when = last["status"]["lastRetrain"]["driftEvaluation"]
        assert args[args.index("--created-at") + 1] == when  # deterministic artifact bytes on a rerun
        assert args[args.index("--champion-sha256") + 1] == artifacts[0].sha256
        assert args[args.index("--parent") + 1] == "churn-v1"
        assert has_condition(last, "Retraining", "True", "JobRunning")

        play_job(k8s, JOB, trainer_result("Succeeded", uri=v2.uri, sha256=v2.sha256))
        mv = wait_for(lambda: k8s.find(MV_API, "ModelVersion", JOB), "the retrained ModelVersion")
        assert mv["spec"]["artifact"] == {"uri": v2.uri, "sha256": v2.sha256}
        assert mv["spec"]["model"] == "churn"
        assert not mv["metadata"].get("ownerReferences")  # outlives the policy
        lineage = mv["spec"]["lineage"]
        assert lineage["parent"] == "churn-v1"
        assert lineage["job"] == JOB
        assert lineage["driftPolicy"] == "churn-drift"
        assert lineage["driftEvaluation"] == when
        assert lineage["datasetSha256"] == "a" * 64
        done = _wait_policy(k8s, "Succeeded", lambda o: o["status"]["lastRetrain"].get("result") == "Succeeded")
        assert done["status"]["lastRetrain"]["modelVersion"] == JOB
        assert done["status"]["lastRetrain"]["gate"] == {"metric": "accuracy", "champion": 0.7, "challenger": 0.9}
        assert has_condition(done, "Retraining", "False", "RetrainSucceeded")
        wait_for(lambda: any(r == "RetrainSucceeded" for r, _ in events_of(k8s)), "RetrainSucceeded Event")
        # drift goes on, but the cooldown holds: still one Job
        _evaluations(k8s, 3)
        assert [j["metadata"]["name"] for j in k8s.list("batch/v1", "Job", "default")] == [JOB]


def test_failed_gate_is_recorded_and_the_cooldown_keeps_a_second_job_from_starting(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    profile = load_profile(artifacts[0].uri)
    with running_operator(k8s), replicas(k8s, profile, 2) as fakes:
        _serve_stable(k8s, artifacts)
        _shifted(fakes)
        k8s.create(drift_policy(retrain=retrain()))
        wait_for(lambda: k8s.find("batch/v1", "Job", JOB), "the retraining Job")
        play_job(k8s, JOB, trainer_result("GateFailed", champion=0.9, challenger=0.8))
        failed = _wait_policy(k8s, "GateFailed", lambda o: o["status"]["lastRetrain"].get("result") == "GateFailed")
        assert has_condition(failed, "Retraining", "False", "GateFailed")
        assert failed["status"]["lastRetrain"]["gate"] == {"metric": "accuracy", "champion": 0.9, "challenger": 0.8}
        assert "not before" in next(c for c in failed["status"]["conditions"] if c["type"] == "Retraining")["message"]
        wait_for(lambda: any(r == "GateFailed" for r, _ in events_of(k8s)), "GateFailed Event")
        _evaluations(k8s, 3)
        assert has_condition(_policy(k8s), "DriftDetected", "True")
        assert len(k8s.list("batch/v1", "Job", "default")) == 1
        assert k8s.find(MV_API, "ModelVersion", JOB) is None  # stable keeps serving


def test_failed_job_is_recorded_with_its_reason(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]) -> None:
    profile = load_profile(artifacts[0].uri)
    with running_operator(k8s), replicas(k8s, profile, 2) as fakes:
        _serve_stable(k8s, artifacts)
        _shifted(fakes)
        k8s.create(drift_policy(retrain=retrain()))
        wait_for(lambda: k8s.find("batch/v1", "Job", JOB), "the retraining Job")
        play_job(k8s, JOB, trainer_result("Failed"), succeeded=False)
        failed = _wait_policy(k8s, "Failed", lambda o: o["status"]["lastRetrain"].get("result") == "Failed")
        assert failed["status"]["lastRetrain"]["reason"] == "DatasetUnreadable"
        assert has_condition(failed, "Retraining", "False", "RetrainFailed")
        wait_for(lambda: any(r == "RetrainFailed" and "no such file" in m for r, m in events_of(k8s)),
                 "RetrainFailed Event")
        assert k8s.find(MV_API, "ModelVersion", JOB) is None


def test_a_restart_mid_retrain_creates_no_second_job_and_reads_the_result(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v2 = artifacts[1]
    profile = load_profile(artifacts[0].uri)
    with replicas(k8s, profile, 2) as fakes:
        with running_operator(k8s):
            _serve_stable(k8s, artifacts)
            _shifted(fakes)
            k8s.create(drift_policy(retrain=retrain()))
            wait_for(lambda: k8s.find("batch/v1", "Job", JOB), "the retraining Job")
            _wait_policy(k8s, "lastRetrain recorded", lambda o: (o["status"].get("lastRetrain") or {}).get("job"))
        with running_operator(k8s):
            _evaluations(k8s, 3)  # still drifted, the Job still running
            assert [j["metadata"]["name"] for j in k8s.list("batch/v1", "Job", "default")] == [JOB]
            assert _policy(k8s)["status"]["retrains"] == 1
            play_job(k8s, JOB, trainer_result("Succeeded", uri=v2.uri, sha256=v2.sha256))
            wait_for(lambda: k8s.find(MV_API, "ModelVersion", JOB), "the retrained ModelVersion")


def test_insufficient_samples_never_trigger(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]) -> None:
    profile = load_profile(artifacts[0].uri)
    with running_operator(k8s), replicas(k8s, profile, 2) as fakes:
        _serve_stable(k8s, artifacts)
        _shifted(fakes, rows=20)  # 40 rows, far off, but below minSamples 100
        k8s.create(drift_policy(retrain=retrain()))
        insufficient = _wait_policy(k8s, "Insufficient", lambda o: ((o.get("status") or {}).get("lastEvaluation")
                                                                    or {}).get("verdict") == "Insufficient")
        assert insufficient["status"]["lastEvaluation"]["samples"] == 40
        _evaluations(k8s, 3)
        policy = _policy(k8s)
        assert has_condition(policy, "DriftDetected", "False", "InsufficientSamples")
        assert policy["status"]["streak"] == {"drifted": 0, "clean": 0}
        assert k8s.list("batch/v1", "Job", "default") == []


def test_concept_drift_from_feedback_accuracy_triggers(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
                                                       ) -> None:
    profile = load_profile(artifacts[0].uri)
    with running_operator(k8s), replicas(k8s, profile, 2) as fakes:
        _serve_stable(k8s, artifacts)
        for i, fake in enumerate(fakes):
            fake.send(reference_rows(300, seed=20 + i))  # the inputs are as in training
            fake.accuracy, fake.labelled = (0.6, 200) if i == 0 else (0.7, 200)
        k8s.create(drift_policy(retrain=retrain(), conceptDrift={"metric": "accuracy", "minimum": 0.8}))
        detected = _wait_policy(k8s, "ConceptDrift", lambda o: has_condition(o, "DriftDetected", "True",
                                                                             "ConceptDrift"))
        evaluation = detected["status"]["lastEvaluation"]
        assert evaluation["dataVerdict"] == "Clean"
        assert evaluation["conceptVerdict"] == "Drifted"
        assert evaluation["accuracy"] == pytest.approx(0.65)
        assert evaluation["labelledRows"] == 400
        wait_for(lambda: k8s.find("batch/v1", "Job", JOB), "the retraining Job")


def test_clean_traffic_stays_clean(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]) -> None:
    profile = load_profile(artifacts[0].uri)
    with running_operator(k8s), replicas(k8s, profile, 2) as fakes:
        _serve_stable(k8s, artifacts)
        for i, fake in enumerate(fakes):
            fake.send(reference_rows(300, seed=30 + i))
        k8s.create(drift_policy(retrain=retrain()))
        clean = _wait_policy(k8s, "Clean x2", lambda o: ((o.get("status") or {}).get("streak") or {}).get("clean", 0)
                             >= 2)
        assert has_condition(clean, "DriftDetected", "False", "Clean")
        assert has_condition(clean, "Ready", "True", "Evaluated")
        assert k8s.list("batch/v1", "Job", "default") == []


def test_missing_target_and_suspend_say_so(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]) -> None:
    with running_operator(k8s):
        k8s.create(drift_policy(retrain=retrain()))
        missing = _wait_policy(k8s, "TargetNotFound", lambda o: has_condition(o, "Ready", "False", "TargetNotFound"))
        assert "default/churn" in next(c for c in missing["status"]["conditions"] if c["type"] == "Ready")["message"]
        k8s.patch(MV_API, "DriftPolicy", "churn-drift", {"spec": {"suspend": True}})
        suspended = _wait_policy(k8s, "Suspended", lambda o: has_condition(o, "Ready", "True", "Suspended"))
        assert "not evaluated" in next(c for c in suspended["status"]["conditions"] if c["type"] == "Ready")["message"]
        assert "lastEvaluation" not in suspended["status"]
        time.sleep(0.5)
        assert k8s.list("batch/v1", "Job", "default") == []


def test_with_promotion_auto_the_deployment_rolls_out_the_retrained_version(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v2 = artifacts[1]
    profile = load_profile(artifacts[0].uri)
    with running_operator(k8s), replicas(k8s, profile, 2) as fakes:
        _serve_stable(k8s, artifacts, promotion="Auto")
        _shifted(fakes)
        k8s.create(drift_policy(retrain=retrain()))
        wait_for(lambda: k8s.find("batch/v1", "Job", JOB), "the retraining Job")
        play_job(k8s, JOB, trainer_result("Succeeded", uri=v2.uri, sha256=v2.sha256))
        wait_object(k8s, MV_API, "ModelVersion", JOB, lambda o: has_condition(o, "Ready", "True"),
                    what="the retrained version verified")
        play_when_created(k8s, f"churn-{JOB}", 2)
        wait_deployment(k8s, "the retrained version stable", lambda o: o["status"].get("stable") == JOB)
