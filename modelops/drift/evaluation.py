"""One drift evaluation: current counts of a window scored against a profile, with verdicts.

``evaluate(profile, counts, settings)`` is what the operator calls with the merged
``/drift`` counts of a model version's replicas; ``score_counts`` is the same on bare
arrays (the hot path: a few vectorised passes per method in use, no loop over features).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.drift import scoring
from modelops.drift.counts import DriftCounts
from modelops.drift.decisions import Verdict, dataset_verdict, features_drifted, required_features
from modelops.drift.layout import ReferenceLayout, layouts_of
from modelops.drift.profile import Profile
from modelops.drift.segments import Floats, Ints, Segments
from modelops.drift.settings import AUTO_CATEGORICAL, AUTO_NUMERIC, SCORE_METHODS, DriftSettings, Plan, plan
from modelops.drift.thresholds import LOWER_IS_DRIFT, ScoreMethod, default_threshold, feature_alpha

_LOWER = np.array([m in LOWER_IS_DRIFT for m in SCORE_METHODS], dtype=bool)
_ORDERED = frozenset({"ks", "wasserstein"})


@dataclass(frozen=True)
class FeatureScore:
    name: str
    method: ScoreMethod
    score: float
    threshold: float
    drifted: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "score": round(self.score, 6),
            "threshold": round(self.threshold, 6),
            "drifted": self.drifted,
        }


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Scores of every feature (columnar: thousands of features stay arrays) and verdicts."""

    verdict: Verdict
    samples: int
    min_samples: int
    names: tuple[str, ...]
    methods: npt.NDArray[np.int8]  # index into SCORE_METHODS
    scores: Floats
    thresholds: Floats
    drifted: npt.NDArray[np.bool_]
    drifted_features: int
    required_features: int
    output: FeatureScore | None = None  # prediction drift, reported but not in the verdict

    def feature(self, i: int) -> FeatureScore:
        return FeatureScore(
            name=self.names[i],
            method=SCORE_METHODS[int(self.methods[i])],
            score=float(self.scores[i]),
            threshold=float(self.thresholds[i]),
            drifted=bool(self.drifted[i]),
        )

    @property
    def features(self) -> list[FeatureScore]:
        return [self.feature(i) for i in range(len(self.names))]

    def to_status(self, limit: int | None = None) -> dict[str, Any]:
        """The ``lastEvaluation`` fields owned by the scores (the caller adds ``time`` and
        ``accuracy``). With ``limit``, only that many features are listed: drifted ones
        first, then by score relative to threshold, so a status stays small for models
        with thousands of features."""
        order = np.arange(len(self.names))
        if limit is not None and limit < order.size:
            ratio = np.where(
                _LOWER[self.methods],
                self.thresholds / np.maximum(self.scores, 1e-300),
                self.scores / np.maximum(self.thresholds, 1e-300),
            )
            order = np.lexsort((-ratio, ~self.drifted))[:limit]
        out: dict[str, Any] = {
            "samples": self.samples,
            "verdict": self.verdict,
            "features": [self.feature(int(i)).to_json() for i in order],
            "driftedFeatures": self.drifted_features,
        }
        if self.output is not None:
            out["output"] = self.output.to_json()
        return out


def evaluate(profile: Profile, counts: DriftCounts, settings: DriftSettings | None = None) -> Evaluation:
    """Score merged ``/drift`` counts against ``profile`` (raises ``CountsError`` when the
    counts were taken over other bins, ``SettingsError`` for settings that do not fit)."""
    counts.check_profile(profile)
    layouts = layouts_of(profile)
    return score_counts(
        layouts.features,
        counts.feature_totals(),
        counts.rows,
        settings or DriftSettings(),
        output_layout=layouts.output,
        output_counts=counts.output_totals(),
    )


def score_counts(
    layout: ReferenceLayout,
    current: Ints,
    rows: int,
    settings: DriftSettings,
    *,
    output_layout: ReferenceLayout | None = None,
    output_counts: Ints | None = None,
) -> Evaluation:
    """Score flat current counts (``Binner.feature_counts`` layout) of ``rows`` rows."""
    current = np.asarray(current, dtype=np.int64)
    if current.shape != (layout.bins.size,):
        raise ValueError(f"expected {layout.bins.size} current counts, got shape {current.shape}")
    p = plan(layout, settings)
    n = len(layout.names)
    alpha = feature_alpha(settings.alpha, n)
    scores = np.zeros(n)
    thresholds = np.zeros(n)
    for group in _groups(layout, p):
        s, t = _score_group(layout, current, group, alpha=alpha, configured=p.thresholds[group.chosen])
        scores[group.chosen] = s
        thresholds[group.chosen] = t
    insufficient = rows < settings.min_samples
    drifted = features_drifted(scores, thresholds, _LOWER[p.methods])
    if insufficient:
        drifted[:] = False
    count = int(drifted.sum())
    output = None
    if output_layout is not None and output_counts is not None:
        output = _score_output(output_layout, np.asarray(output_counts, dtype=np.int64), settings.alpha)
        if insufficient:
            output = FeatureScore(output.name, output.method, output.score, output.threshold, False)
    return Evaluation(
        verdict=dataset_verdict(rows, settings.min_samples, count, n, settings.drifted_feature_share),
        samples=rows,
        min_samples=settings.min_samples,
        names=layout.names,
        methods=p.methods,
        scores=scores,
        thresholds=thresholds,
        drifted=drifted,
        drifted_features=count,
        required_features=required_features(n, settings.drifted_feature_share),
        output=output,
    )


@dataclass(frozen=True, eq=False)
class _Group:
    """The features scored with one method, gathered once per (layout, plan)."""

    method: ScoreMethod
    chosen: npt.NDArray[np.intp]  # feature indices
    flat: npt.NDArray[np.intp] | None  # positions in the (value-)bin array; None: all of it
    seg: Segments
    reference: Ints
    widths: Floats
    filled: Ints


@lru_cache(maxsize=64)
def _groups(layout: ReferenceLayout, p: Plan) -> tuple[_Group, ...]:
    out = []
    for code in np.unique(p.methods):
        method = SCORE_METHODS[int(code)]
        chosen = np.flatnonzero(p.methods == code)
        everything = chosen.size == len(layout.names)
        ordered = method in _ORDERED
        segments = layout.values if ordered else layout.bins
        reference = layout.reference_values if ordered else layout.reference
        flat, seg = (None, segments) if everything else segments.subset(chosen)
        out.append(
            _Group(
                method=method,
                chosen=chosen,
                flat=flat,
                seg=seg,
                reference=reference if flat is None else reference[flat],
                widths=(layout.widths if flat is None else layout.widths[flat]) if ordered else layout.widths[:0],
                filled=(layout.filled_value_bins if ordered else layout.filled_bins)[chosen],
            )
        )
    return tuple(out)


def _score_group(
    layout: ReferenceLayout, current: Ints, group: _Group, *, alpha: float, configured: Floats
) -> tuple[Floats, Floats]:
    method, seg, ref = group.method, group.seg, group.reference
    cur = current[layout.value_mask] if method in _ORDERED else current
    if group.flat is not None:
        cur = cur[group.flat]
    if method == "ks":
        scores = scoring.ks(ref, cur, seg)
    elif method == "wasserstein":
        scores = scoring.wasserstein(ref, cur, seg, group.widths)
    elif method == "psi":
        scores = scoring.psi(ref, cur, seg)
    elif method == "jensenshannon":
        scores = scoring.jensen_shannon(ref, cur, seg)
    else:
        scores = scoring.chisquare(ref, cur, seg)[2]
    defaults = default_threshold(method, alpha, seg.sum(cur), seg.sum(ref), group.filled)
    thresholds = np.where(np.isnan(configured), defaults, configured)
    return scores, thresholds


def _score_output(layout: ReferenceLayout, counts: Ints, alpha: float) -> FeatureScore:
    method: ScoreMethod = AUTO_NUMERIC if bool(layout.numeric[0]) else AUTO_CATEGORICAL
    (group,) = _groups(layout, plan(layout, DriftSettings()))
    scores, thresholds = _score_group(layout, counts, group, alpha=alpha, configured=np.full(1, np.nan))
    return FeatureScore(
        name=layout.names[0],
        method=method,
        score=float(scores[0]),
        threshold=float(thresholds[0]),
        drifted=bool(scores[0] > thresholds[0]),
    )
