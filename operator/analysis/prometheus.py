"""The ``Prometheus`` metrics source: PromQL against ``spec.prometheus.url``.

Instant queries through the HTTP API (``GET <url>/api/v1/query?query=…``), all at once,
each answered with a ``vector``. ``<w>`` is the analysis interval in whole seconds
(``60s``), ``<sel>`` is ``model="<spec.model>",version=~"<stable>|<candidate>"`` (plus
``<namespace_label>="<namespace>"`` when the source is given a namespace label, e.g.
``namespace`` for kube-prometheus' pod monitors; the default adds none because the label
depends on the scrape configuration, and model + version already name the series):

``sum by (version, code) (increase(modelops_requests_total{<sel>}[<w>]))``
    requests and 5xx answers per version.
``sum by (version, le) (increase(modelops_request_duration_seconds_bucket{<sel>}[<w>]))``
    the latency histogram per version; p99 is computed here from the buckets
    (``histograms.Histogram.quantile``, PromQL's histogram_quantile), exactly as for the
    Pods source.
``sum by (version) (increase(modelops_feedback_rows_total{<sel>}[<w>]))`` and
``sum by (version) (increase(modelops_feedback_correct_total{<sel>}[<w>]))``
    labelled and correct rows per version.
``sum by (version, class) (increase(modelops_predictions_total{<sel>}[<w>]))``
    predicted rows per class: the output distribution (``layout`` ``class``; a regressor
    has no class counts, so its prediction PSI stays Inconclusive with this source).
``sum by (version, candidate, outcome) (increase(modelops_shadow_requests_total{<shadow>}[<w>]))``,
``sum by (version, candidate) (increase(modelops_shadow_rows_total{<shadow>}[<w>]))``,
``sum by (version, candidate) (increase(modelops_shadow_agreed_rows_total{<shadow>}[<w>]))``,
``sum by (version, candidate, le) (increase(modelops_shadow_duration_seconds_bucket{<shadow>}[<w>]))``
    with ``<shadow>`` = ``model="<model>",version="<stable>",candidate="<candidate>"``: what
    the stable pods saw of the mirrored candidate (series not exported yet, see ``names``).

``increase()`` extrapolates to the window's edges, so counts are rounded to whole events.
A query Prometheus does not answer (unreachable, timeout, ``status: error``, not a
vector) is reported in ``Observation.failures``, never raised; its figures are missing, so
the metrics that need them are Inconclusive.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

from modelops.operator.analysis import names, samples
from modelops.operator.analysis.samples import Increases, series_key
from modelops.operator.analysis.sources import Observation, Query, SourceFailure

_LABEL_VALUE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class _Sample(BaseModel):
    model_config = ConfigDict(extra="ignore")
    metric: dict[str, str]
    value: tuple[float, str]


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")
    resultType: str  # noqa: N815 - Prometheus' wire name
    result: list[Any]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: str
    data: _Data | None = None
    errorType: str | None = None  # noqa: N815
    error: str | None = None


class PromQLError(ValueError):
    """Prometheus answered, but not with a usable vector."""


def queries(query: Query, namespace_label: str | None = None) -> dict[str, str]:
    """PromQL per series name (documented in the module docstring)."""
    for what, value in (("model", query.model), ("stable", query.stable), ("candidate", query.candidate)):
        if not _LABEL_VALUE.match(value):
            raise ValueError(f"{what} {value!r} is not a DNS label: it cannot be put in a PromQL selector")
    extra = f",{namespace_label}={json.dumps(query.namespace)}" if namespace_label else ""
    window = f"{max(1, math.ceil(query.interval.total_seconds()))}s"
    sel = f'model="{query.model}",version=~"{query.stable}|{query.candidate}"{extra}'
    shadow = f'model="{query.model}",version="{query.stable}",candidate="{query.candidate}"{extra}'

    def inc(by: str, name: str, selector: str) -> str:
        return f"sum by ({by}) (increase({name}{{{selector}}}[{window}]))"

    return {
        names.REQUESTS: inc("version, code", names.REQUESTS, sel),
        names.LATENCY_BUCKET: inc("version, le", names.LATENCY_BUCKET, sel),
        names.FEEDBACK_ROWS: inc("version", names.FEEDBACK_ROWS, sel),
        names.FEEDBACK_CORRECT: inc("version", names.FEEDBACK_CORRECT, sel),
        names.PREDICTIONS: inc("version, class", names.PREDICTIONS, sel),
        names.SHADOW_REQUESTS: inc("version, candidate, outcome", names.SHADOW_REQUESTS, shadow),
        names.SHADOW_ROWS: inc("version, candidate", names.SHADOW_ROWS, shadow),
        names.SHADOW_AGREED: inc("version, candidate", names.SHADOW_AGREED, shadow),
        names.SHADOW_LATENCY_BUCKET: inc("version, candidate, le", names.SHADOW_LATENCY_BUCKET, shadow),
    }


def parse_vector(body: bytes) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of an instant-query answer; raises ``PromQLError`` saying why not."""
    try:
        answer = _Answer.model_validate_json(body)
    except ValidationError as exc:
        raise PromQLError(f"not a Prometheus API answer: {exc.errors()[0]['msg']}") from None
    if answer.status != "success":
        raise PromQLError(f"{answer.errorType or 'error'}: {answer.error or 'no message'}")
    if answer.data is None or answer.data.resultType != "vector":
        got = answer.data.resultType if answer.data else "no data"
        raise PromQLError(f"expected a vector, got {got}")
    out: list[tuple[dict[str, str], float]] = []
    for raw in answer.data.result:
        try:
            sample = _Sample.model_validate(raw)
            value = float(sample.value[1])
        except (ValidationError, ValueError):
            raise PromQLError(f"malformed vector sample {str(raw)[:200]}") from None
        if math.isfinite(value):
            out.append((sample.metric, value))
    return out


class PrometheusSource:
    def __init__(self, url: str, *, timeout: float = 5.0, namespace_label: str | None = None) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.namespace_label = namespace_label

    async def observe(self, query: Query) -> Observation:
        promql = queries(query, self.namespace_label)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            answers = await asyncio.gather(*(self._query(session, q) for q in promql.values()))
        increases: Increases = {}
        families: set[str] = set()
        failures: list[SourceFailure] = []
        for (name, q), answer in zip(promql.items(), answers, strict=True):
            if isinstance(answer, str):
                failures.append(SourceFailure(target=q, reason=answer))
                continue
            for labels, value in answer:
                increases[series_key(name, labels)] = value
            if answer:
                families.add(name)
        built = samples.build(increases, frozenset(families))
        notes = [f"Prometheus query failed: {f.target}: {f.reason}" for f in failures]
        notes.extend(built.problems)
        return Observation(
            source="Prometheus",
            versions=built.versions,
            shadow=built.shadow,
            failures=tuple(failures),
            notes=tuple(notes),
            scraped=len(promql) - len(failures),
            seconds=query.interval.total_seconds(),
        )

    async def _query(self, session: aiohttp.ClientSession, promql: str) -> list[tuple[dict[str, str], float]] | str:
        try:
            async with (
                asyncio.timeout(self.timeout),
                session.get(f"{self.url}/api/v1/query", params={"query": promql}) as response,
            ):
                status, body = response.status, await response.read()
        except TimeoutError:
            return f"timed out after {self.timeout:g}s"
        except (aiohttp.ClientError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        try:
            return parse_vector(body)  # Prometheus answers errors (400, 422, 503) as JSON too
        except PromQLError as exc:
            return f"HTTP {status}: {exc}" if status != 200 else str(exc)
