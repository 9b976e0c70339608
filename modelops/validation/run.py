"""One validation run: load the artifact (and the champion's), read the holdout, compute
every figure the spec asks for, and return the Outcome. Nothing here raises for a model
that cannot be judged: that is an Outcome with reason ValidationError."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.api.modelversion import Validation
from modelops.evaluation import EvaluationError, Predictions, predict
from modelops.validation.errors import CannotValidateError
from modelops.validation.fairness import fairness_figures, group_counts
from modelops.validation.figures import Figure
from modelops.validation.holdout import is_remote, model_input, read_holdout, sensitive_groups, target_values
from modelops.validation.outcome import Outcome
from modelops.validation.thresholds import as_cannot_validate, champion_figure, metric_figures

Say = Callable[[str], None]


@dataclass(frozen=True)
class ArtifactSource:
    uri: str
    sha256: str
    trusted: bool = False
    allow_version_skew: bool = False


@dataclass(frozen=True)
class Request:
    artifact: ArtifactSource
    spec: Validation
    champion: ArtifactSource | None = None
    holdout_deadline_s: float | None = None


def validate(request: Request, say: Say = lambda _line: None) -> Outcome:
    facts: dict[str, Any] = {
        "artifact": {"uri": request.artifact.uri, "sha256": request.artifact.sha256},
        "holdout": {"uri": request.spec.holdout_uri},
    }
    try:
        with tempfile.TemporaryDirectory(prefix="modelops-validate-") as work:
            figures = _figures(request, Path(work), facts, say)
    except CannotValidateError as exc:
        say(f"cannot validate: {exc}")
        return Outcome.error(exc, facts)
    return Outcome.judged(figures, facts)


def _figures(request: Request, work: Path, facts: dict[str, Any], say: Say) -> list[Figure]:
    spec = request.spec
    model = _load(request.artifact, work / "model", "the artifact")
    say(f"artifact {request.artifact.uri} verified and loaded ({model.metadata.task})")
    holdout = read_holdout(spec.holdout_uri, deadline_s=request.holdout_deadline_s)
    frame = holdout.frame
    facts["holdout"].update({"sha256": holdout.sha256, "rows": len(frame), "target": model.metadata.target})
    say(f"holdout {spec.holdout_uri}: {len(frame)} rows, sha256 {holdout.sha256}")
    groups = sensitive_groups(frame, spec.fairness.sensitive_feature, spec.holdout_uri) if spec.fairness else None
    y = target_values(frame, model.metadata, spec.holdout_uri)
    predictions = _predict(model, frame, y, spec.holdout_uri, "the model")
    figures = metric_figures(spec.metrics, predictions)
    notes: list[str] = []
    if spec.champion_comparison is not None:
        if request.champion is None:
            # The first version of a model has no stable version to compare with.
            notes.append("championComparison skipped: no champion was given (no stable version)")
        else:
            champion = _load(request.champion, work / "champion", "the champion")
            facts["champion"] = {"uri": request.champion.uri, "sha256": request.champion.sha256}
            champion_predictions = _predict(champion, frame, y, spec.holdout_uri, "the champion")
            figures.append(champion_figure(spec.champion_comparison, predictions, champion_predictions))
    elif request.champion is not None:
        notes.append("a champion was given but the spec has no championComparison: not compared")
    if spec.fairness is not None and groups is not None:
        facts["groups"] = {"feature": spec.fairness.sensitive_feature, "rows": group_counts(groups)}
        figures.extend(fairness_figures(spec.fairness, predictions, groups))
    if notes:
        facts["notes"] = notes
        for note in notes:
            say(note)
    return figures


def _load(source: ArtifactSource, dest: Path, who: str) -> Any:
    from modelops.artifact.errors import ArtifactError
    from modelops.artifact.fetching import fetch
    from modelops.artifact.loading import load_artifact

    try:
        fetch(source.uri, source.sha256, dest)
        return load_artifact(dest, source.sha256, trusted=source.trusted, allow_version_skew=source.allow_version_skew)
    except ArtifactError as exc:
        # As the operator retries them: unreachable, or not found over a network.
        retryable = exc.reason == "ArtifactUnreachable" or (
            is_remote(source.uri) and exc.reason == "ArtifactNotFound"
        )
        raise CannotValidateError(
            "ArtifactUnusable", f"{who} {source.uri}: {exc.reason}: {exc.message}", retryable=retryable
        ) from None


def _predict(loaded: Any, frame: Any, y: Any, uri: str, who: str) -> Predictions:
    x = model_input(frame, loaded.metadata, loaded.model, uri, who)
    try:
        return predict(loaded.model, x, y, name=who)
    except EvaluationError as exc:
        raise as_cannot_validate(exc, f"{who} on holdout {uri}") from None
    except (ValueError, TypeError) as exc:  # scikit-learn refusing the columns' values
        raise CannotValidateError("HoldoutUnreadable", f"{who} cannot predict on holdout {uri}: {exc}") from None
