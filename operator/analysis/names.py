"""The serving pods' metric names and labels that rollout analysis reads: the contract.

Exported today by ``modelops.serving.metrics`` (labels ``model`` and ``version`` on all):

- ``modelops_requests_total{code}``: inference requests by HTTP status (5xx = errors).
- ``modelops_request_duration_seconds_bucket{le}``: inference latency histogram.
- ``modelops_feedback_rows_total``, ``modelops_feedback_correct_total``: labelled rows and
  the correct ones. Analysis sums them by the ``version`` label, not by the pod that was
  scraped, so they must count under the version that *made* the prediction (whichever
  replica scored the feedback).
- ``modelops_predictions_total{class}``: predicted rows per class (the Prometheus source's
  output distribution; the Pods source uses ``/v2/models/{m}/drift``'s output counts).

Shadow (``modelops.serving.metrics.ShadowMetrics``, fed by ``modelops.serving.shadow``):
exported only by *stable* pods started with ``--shadow-url/--shadow-percent/--shadow-version``
(a pod that does not mirror has none of them, so "not mirroring" reads apart from "mirrored
nothing yet"), labels ``model``, ``version`` (the stable, mirroring version) and
``candidate`` (the version mirrored to, ``--shadow-version``):

- ``modelops_shadow_requests_total{outcome}``: mirrored requests by outcome,
  ``answered`` (the candidate answered 2xx with a ``predict`` output and was compared),
  ``error`` (non-2xx, no predictions, timeout, refused), ``dropped`` (queue full, never
  sent; not counted as mirrored).
- ``modelops_shadow_rows_total``: rows compared (both versions predicted).
- ``modelops_shadow_agreed_rows_total``: compared rows where the candidate's prediction
  equals the stable's (classes compared as feedback labels are; regressors within the
  pod's relative tolerance).
- ``modelops_shadow_duration_seconds_bucket{le}``: the candidate's answer time as the
  mirror measured it (network and the stable pod's client included; the Shadow strategy's
  latency ratio uses the candidate pods' own ``modelops_request_duration_seconds``).

``tests/operator/test_shadow_processes.py`` checks these names against a real stable pod's
``/metrics`` and a real mirror, end to end through the Pods source.
"""

from __future__ import annotations

REQUESTS = "modelops_requests_total"
LATENCY_BUCKET = "modelops_request_duration_seconds_bucket"
FEEDBACK_ROWS = "modelops_feedback_rows_total"
FEEDBACK_CORRECT = "modelops_feedback_correct_total"
PREDICTIONS = "modelops_predictions_total"

SHADOW_REQUESTS = "modelops_shadow_requests_total"
SHADOW_ROWS = "modelops_shadow_rows_total"
SHADOW_AGREED = "modelops_shadow_agreed_rows_total"
SHADOW_LATENCY_BUCKET = "modelops_shadow_duration_seconds_bucket"

# Every cumulative series analysis reads (a scrape keeps these and drops the rest).
CUMULATIVE = frozenset(
    {
        REQUESTS,
        LATENCY_BUCKET,
        FEEDBACK_ROWS,
        FEEDBACK_CORRECT,
        PREDICTIONS,
        SHADOW_REQUESTS,
        SHADOW_ROWS,
        SHADOW_AGREED,
        SHADOW_LATENCY_BUCKET,
    }
)
SHADOW = (SHADOW_REQUESTS, SHADOW_ROWS, SHADOW_AGREED)

VERSION = "version"
MODEL = "model"
CODE = "code"
LE = "le"
CLASS = "class"
CANDIDATE = "candidate"
OUTCOME = "outcome"
ANSWERED = "answered"
ERROR = "error"
