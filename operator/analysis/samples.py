"""What each model version did over one analysis interval.

Both metrics sources produce the same thing: the *increase* of every cumulative series
over the interval, keyed by metric name and labels (``Increases``), which ``build``
turns into one ``VersionSample`` per ``version`` label and one ``ShadowSample`` per
mirrored candidate. The Prometheus source gets increases from PromQL's ``increase()``;
the Pods source from two scrapes of every pod, by ``increase_between``:

- per pod and per series, ``current - previous``;
- a pod whose process restarted has reset its counters, so *every* series of that pod
  counts its current value as the increase (as ``increase()`` does on a reset). A restart
  shows as any series going down, a series that vanished, or a changed ``_created``
  timestamp. Detecting it per pod, not per series, matters for histograms: after a
  restart a bucket can already be above its old value, and per-series detection would
  count only the difference;
- a pod first seen in ``current`` adds nothing (we cannot know what it counted before the
  interval; ``increase()`` also needs two points), so a new replica joins at the next
  interval: fewer samples, never figures from outside the interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from modelops.operator.analysis import names
from modelops.operator.analysis.histograms import Histogram, HistogramError, parse_le

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs
SeriesKey = tuple[str, Labels]
Increases = dict[SeriesKey, float]


def series_key(name: str, labels: Mapping[str, str]) -> SeriesKey:
    return name, tuple(sorted(labels.items()))


@dataclass(frozen=True)
class Cumulative:
    """One pod's cumulative series at one scrape."""

    values: Mapping[SeriesKey, float]
    created: Mapping[SeriesKey, float] = field(default_factory=dict)  # series -> its _created time
    families: frozenset[str] = frozenset()  # series names the pod declares (even with no samples)


def restarted(previous: Cumulative, current: Cumulative) -> bool:
    """Whether the pod's counters were reset between the two scrapes (see module doc)."""
    for key, before in previous.values.items():
        now = current.values.get(key)
        if now is None or now < before:
            return True
    return any(key in current.created and current.created[key] != created for key, created in previous.created.items())


def increase_between(previous: Cumulative | None, current: Cumulative) -> Increases | None:
    """Per-series increase of one pod; None when there is no previous scrape (baseline)."""
    if previous is None:
        return None
    if restarted(previous, current):
        return dict(current.values)
    return {key: value - previous.values.get(key, 0.0) for key, value in current.values.items()}


def add(increases: Iterable[Increases]) -> Increases:
    total: Increases = {}
    for inc in increases:
        for key, value in inc.items():
            total[key] = total.get(key, 0.0) + value
    return total


@dataclass(frozen=True)
class OutputCounts:
    """Predicted rows per output bin. ``layout`` names how bins were cut (``drift:<n>``:
    the ``/drift`` output bins of the model's profile by index; ``class``: predicted class
    labels); two counts are comparable only under the same layout."""

    layout: str
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def empty_like(self) -> OutputCounts:
        return OutputCounts(self.layout, {})

    def __add__(self, other: OutputCounts) -> OutputCounts:
        if other.layout != self.layout:
            raise ValueError(f"output counts over layouts {self.layout!r} and {other.layout!r} cannot be added")
        merged = dict(self.counts)
        for key, value in other.counts.items():
            merged[key] = merged.get(key, 0) + value
        return OutputCounts(self.layout, merged)


@dataclass(frozen=True)
class ShadowSample:
    """What the stable pods saw of the candidate they mirror to (see ``names``)."""

    candidate: str
    mirrored: int  # requests sent to the candidate (answered + error)
    errors: int
    compared: int  # rows compared
    agreed: int
    latency: Histogram | None = None


@dataclass(frozen=True)
class VersionSample:
    """One version over one interval, all replicas summed."""

    version: str
    requests: int = 0
    errors: int = 0  # 5xx answers
    latency: Histogram | None = None
    labelled: int = 0  # feedback rows
    correct: int = 0
    outputs: OutputCounts | None = None

    @property
    def error_rate(self) -> float | None:
        """5xx share in percent (None without requests)."""
        return 100.0 * self.errors / self.requests if self.requests else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


def _count(value: float) -> int:
    # Prometheus' increase() extrapolates to the window's edges, so counts arrive as
    # floats like 199.6: round to whole events (and never below 0).
    return max(0, round(value))


@dataclass
class _Acc:
    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    labelled: float = 0.0
    correct: float = 0.0
    classes: dict[str, float] = field(default_factory=dict)


@dataclass
class _ShadowAcc:
    answered: float = 0.0
    errors: float = 0.0
    compared: float = 0.0
    agreed: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Built:
    versions: dict[str, VersionSample]
    shadow: dict[str, ShadowSample]  # by candidate version
    problems: tuple[str, ...] = ()  # malformed series, said plainly


def build(increases: Mapping[SeriesKey, float], families: frozenset[str]) -> Built:
    """Samples per ``version`` label (and shadow samples per ``candidate`` label).

    ``families`` are the series names the source knows to exist: a version gets a latency
    histogram or class counts only when the family is exported, and shadow samples exist
    only for candidates the shadow series mention.
    """
    acc: dict[str, _Acc] = {}
    shadow: dict[str, _ShadowAcc] = {}
    problems: list[str] = []
    for (name, labels), value in increases.items():
        lab = dict(labels)
        version = lab.get(names.VERSION)
        if version is None:
            continue
        if name == names.REQUESTS:
            a = acc.setdefault(version, _Acc())
            a.requests += value
            if lab.get(names.CODE, "").startswith("5"):
                a.errors += value
        elif name == names.LATENCY_BUCKET:
            a = acc.setdefault(version, _Acc())
            _bucket(a.buckets, lab, value, problems)
        elif name == names.FEEDBACK_ROWS:
            acc.setdefault(version, _Acc()).labelled += value
        elif name == names.FEEDBACK_CORRECT:
            acc.setdefault(version, _Acc()).correct += value
        elif name == names.PREDICTIONS:
            classes = acc.setdefault(version, _Acc()).classes
            key = lab.get(names.CLASS, "")
            classes[key] = classes.get(key, 0.0) + value
        elif name in names.SHADOW or name == names.SHADOW_LATENCY_BUCKET:
            candidate = lab.get(names.CANDIDATE)
            if candidate is None:
                problems.append(f"{name} without a candidate label")
                continue
            s = shadow.setdefault(candidate, _ShadowAcc())
            if name == names.SHADOW_REQUESTS:
                outcome = lab.get(names.OUTCOME)
                if outcome == names.ANSWERED:
                    s.answered += value
                elif outcome == names.ERROR:
                    s.errors += value
            elif name == names.SHADOW_ROWS:
                s.compared += value
            elif name == names.SHADOW_AGREED:
                s.agreed += value
            else:
                _bucket(s.buckets, lab, value, problems)
    versions = {v: _version_sample(v, a, families, problems) for v, a in acc.items()}
    shadows = {c: _shadow_sample(c, s, problems) for c, s in shadow.items()}
    return Built(versions=versions, shadow=shadows, problems=tuple(dict.fromkeys(problems)))


def _bucket(buckets: dict[float, float], labels: Mapping[str, str], value: float, problems: list[str]) -> None:
    try:
        le = parse_le(labels.get(names.LE, ""))
    except HistogramError as exc:
        problems.append(str(exc))
        return
    buckets[le] = buckets.get(le, 0.0) + value


def _histogram(buckets: dict[float, float], what: str, problems: list[str]) -> Histogram | None:
    if not buckets:
        return None
    try:
        return Histogram.from_buckets(buckets)
    except HistogramError as exc:
        problems.append(f"{what}: {exc}")
        return None


def _version_sample(version: str, a: _Acc, families: frozenset[str], problems: list[str]) -> VersionSample:
    latency = _histogram(a.buckets, f"latency of {version}", problems)
    outputs = None
    if names.PREDICTIONS in families:
        outputs = OutputCounts("class", {k: _count(v) for k, v in a.classes.items()})
    return VersionSample(
        version=version,
        requests=_count(a.requests),
        errors=_count(a.errors),
        latency=latency,
        labelled=_count(a.labelled),
        correct=min(_count(a.correct), _count(a.labelled)),
        outputs=outputs,
    )


def _shadow_sample(candidate: str, s: _ShadowAcc, problems: list[str]) -> ShadowSample:
    return ShadowSample(
        candidate=candidate,
        mirrored=_count(s.answered) + _count(s.errors),
        errors=_count(s.errors),
        compared=_count(s.compared),
        agreed=min(_count(s.agreed), _count(s.compared)),
        latency=_histogram(s.buckets, f"shadow latency of {candidate}", problems),
    )
