"""Offline validation of a model artifact before it may serve: ``modelops validate``,
run by the operator as a Job for every ModelVersion that declares ``spec.validation``.

    outcome = validate(Request(ArtifactSource(uri, sha256), spec, champion=...))
    outcome.reason           # ValidationPassed | ValidationFailed | ValidationError
    outcome.figures          # Figure(metric, value, limit, bound, group): one per limit
    outcome.termination_message(report_uri)   # <= 4096 bytes, for the operator
    outcome.report(report_uri)                # everything, for validation.json

Modules, one job each: ``holdout`` (reading it, the columns taken from it), ``thresholds``
(metric limits and the champion comparison, on ``modelops.evaluation``: the metrics the
retraining gate uses), ``fairness`` (fairlearn's MetricFrame and disparity functions),
``figures`` (limits, and which failing figure is worst), ``outcome`` (verdict, message
and its size bound), ``output`` (termination log, report), ``run`` (the I/O around them)
and ``cli``.
"""

from __future__ import annotations

from modelops.validation.errors import CannotValidateError, Problem
from modelops.validation.figures import Figure
from modelops.validation.outcome import Outcome
from modelops.validation.run import ArtifactSource, Request, validate

__all__ = ["ArtifactSource", "CannotValidateError", "Figure", "Outcome", "Problem", "Request", "validate"]
