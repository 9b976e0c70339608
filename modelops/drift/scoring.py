"""Drift scores of current bin counts against reference bin counts, for many features at once.

Every function takes flat integer count arrays (reference and current, same layout) and
the ``Segments`` that cut them into features, and returns one float per feature. Scores
are exact functions of the counts, finite for every input (no NaN, no inf), and 0 when
the current distribution over the bins equals the reference one. A feature whose
reference or current total is 0 carries no evidence: distances are 0 and the p-value 1.

Methods and their conventions:

- ``psi``: population stability index ``sum (q - p) * ln(q / p)`` over all bins. Empty
  bins would make it infinite, so both distributions are smoothed the same way first:
  ``p' = (p + eps) / (1 + B * eps)`` with ``eps = PSI_EPSILON`` (1e-4) and ``B`` bins.
  Identical proportions stay identical, so they still score exactly 0.
- ``jensen_shannon``: Jensen-Shannon *distance* (square root of the divergence) in base
  2, so it lies in [0, 1]; no smoothing is needed (``0 * log 0 = 0``). Equals
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
- ``ks``: Kolmogorov-Smirnov statistic ``max_k |F_ref(e_k) - F_cur(e_k)|`` over the value
  bins' right edges. The binned statistic brackets the exact two-sample statistic of the
  raw rows (``scipy.stats.ks_2samp``): ``D_bin <= D_exact <= D_upper``, where
  ``D_upper = max_k max(F_ref(e_k) - F_cur(e_{k-1}), F_cur(e_k) - F_ref(e_{k-1}))`` is
  returned by ``ks_bracket``, and ``D_upper - D_bin <= max_k max(p_k, q_k)``, the largest
  bin mass of either sample (about 1/B for the reference's quantile bins). Reason: inside
  bin ``k`` each ECDF is non-decreasing between its values at the bin's two edges.
- ``wasserstein``: the 1-Wasserstein distance between the value-bin histograms with each
  bin's mass at its right edge (the lowest bin at the first edge, the open top bin at the
  last edge), divided by the span between the first and the last inner edge, so it lies
  in [0, 1] and is free of the feature's unit (0.1 = the mean mass moved a tenth of the
  reference's central range; for decile bins that range is the central 80 %). Equals
  ``scipy.stats.wasserstein_distance`` on those positions. A feature with a single edge
  puts its two bins at 0 and 1; a feature with one value bin scores 0.
- ``chisquare``: Pearson chi-square test of homogeneity on the 2 x B table (reference,
  current) over all bins, without Yates' correction, bins empty in both samples left
  out: equals ``scipy.stats.chi2_contingency(table, correction=False)``. Returns the
  statistic, its degrees of freedom and the p-value.

KS and Wasserstein need an order, so they use the value bins only (missing values and
unseen categories are in the special last bin, which PSI, JS and chi-square do see).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from modelops.drift.segments import Floats, Ints, Segments

PSI_EPSILON = 1e-4
_LN2 = float(np.log(2.0))


def _proportions(counts: Ints, seg: Segments) -> tuple[Floats, Ints]:
    totals = seg.sum(counts)
    share: Floats = counts / seg.spread(np.maximum(totals, 1)).astype(np.float64)
    return share, totals


def psi(reference: Ints, current: Ints, seg: Segments, epsilon: float = PSI_EPSILON) -> Floats:
    """Population stability index per feature (smoothed, see module doc)."""
    p, n_ref = _proportions(reference, seg)
    q, n_cur = _proportions(current, seg)
    norm = 1.0 + epsilon * seg.spread(seg.lengths).astype(np.float64)
    ps = (p + epsilon) / norm
    qs = (q + epsilon) / norm
    out: Floats = seg.sum((qs - ps) * np.log(qs / ps))
    out[(n_ref == 0) | (n_cur == 0)] = 0.0
    # each term is >= 0 mathematically; rounding may leave -1e-17 on identical inputs
    return np.maximum(out, 0.0)


def jensen_shannon(reference: Ints, current: Ints, seg: Segments) -> Floats:
    """Jensen-Shannon distance (base 2, in [0, 1]) per feature."""
    p, n_ref = _proportions(reference, seg)
    q, n_cur = _proportions(current, seg)
    m = (p + q) / 2.0
    divergence = seg.sum(special.rel_entr(p, m) + special.rel_entr(q, m)) / (2.0 * _LN2)
    out: Floats = np.sqrt(np.clip(divergence, 0.0, 1.0))
    out[(n_ref == 0) | (n_cur == 0)] = 0.0
    return out


def _cdfs(reference: Ints, current: Ints, seg: Segments) -> tuple[Floats, Floats, Ints, Ints]:
    n_ref = seg.sum(reference)
    n_cur = seg.sum(current)
    a = seg.cumsum(reference) / seg.spread(np.maximum(n_ref, 1)).astype(np.float64)
    b = seg.cumsum(current) / seg.spread(np.maximum(n_cur, 1)).astype(np.float64)
    return a, b, n_ref, n_cur


def ks(reference: Ints, current: Ints, seg: Segments) -> Floats:
    """Binned Kolmogorov-Smirnov statistic per feature; ``seg`` over value bins only."""
    a, b, n_ref, n_cur = _cdfs(reference, current, seg)
    out: Floats = seg.max(np.abs(a - b))
    out[(n_ref == 0) | (n_cur == 0)] = 0.0
    return np.clip(out, 0.0, 1.0)


def ks_bracket(reference: Ints, current: Ints, seg: Segments) -> tuple[Floats, Floats]:
    """``(D_bin, D_upper)``: the exact two-sample KS statistic lies between the two.

    With an empty sample nothing is known: ``D_bin = 0`` and ``D_upper = 1``.
    """
    a, b, n_ref, n_cur = _cdfs(reference, current, seg)
    lower: Floats = seg.max(np.abs(a - b))
    # ECDFs at the previous edge (0 before the first bin of each feature)
    a_prev = a - reference / seg.spread(np.maximum(n_ref, 1)).astype(np.float64)
    b_prev = b - current / seg.spread(np.maximum(n_cur, 1)).astype(np.float64)
    upper: Floats = seg.max(np.maximum(a - b_prev, b - a_prev))
    empty = (n_ref == 0) | (n_cur == 0)
    lower[empty] = 0.0
    upper[empty] = 1.0
    return np.clip(lower, 0.0, 1.0), np.clip(np.maximum(upper, lower), 0.0, 1.0)


def wasserstein(reference: Ints, current: Ints, seg: Segments, widths: Floats) -> Floats:
    """Normalised binned 1-Wasserstein distance per feature; ``seg`` over value bins only.

    ``widths[i]`` is the normalised distance from value bin ``i``'s position to the next
    bin's (0 for a feature's last value bin), see ``wasserstein_widths``.
    """
    a, b, n_ref, n_cur = _cdfs(reference, current, seg)
    out: Floats = seg.sum(np.abs(a - b) * widths)
    out[(n_ref == 0) | (n_cur == 0)] = 0.0
    return np.clip(out, 0.0, 1.0)


def wasserstein_positions(edges: Floats) -> Floats:
    """Normalised positions of a numeric feature's value bins (see module doc)."""
    k = edges.size
    if k == 0:
        return np.zeros(1)
    if k == 1:
        return np.array([0.0, 1.0])
    at = np.concatenate((edges, edges[-1:]))
    out: Floats = (at - edges[0]) / (edges[-1] - edges[0])
    return out


def wasserstein_widths(positions: Floats, seg: Segments) -> Floats:
    """Gaps to the next value bin's position within each feature (0 at a feature's end)."""
    gaps = np.zeros_like(positions)
    gaps[:-1] = positions[1:] - positions[:-1]
    gaps[seg.is_last] = 0.0
    return gaps


def chisquare(reference: Ints, current: Ints, seg: Segments) -> tuple[Floats, Ints, Floats]:
    """Pearson chi-square homogeneity test per feature: ``(statistic, dof, p_value)``."""
    n_ref = seg.sum(reference).astype(np.float64)
    n_cur = seg.sum(current).astype(np.float64)
    both = n_ref + n_cur
    column = (reference + current).astype(np.float64)
    used = column > 0
    valid = used & seg.spread((n_ref > 0) & (n_cur > 0))
    safe = np.where(valid, column, 1.0) / seg.spread(np.maximum(both, 1.0))
    e_ref = safe * seg.spread(n_ref)
    e_cur = safe * seg.spread(n_cur)
    terms = np.where(
        valid,
        (reference - e_ref) ** 2 / np.where(valid, e_ref, 1.0)
        + (current - e_cur) ** 2 / np.where(valid, e_cur, 1.0),
        0.0,
    )
    statistic: Floats = seg.sum(terms)
    dof: Ints = np.maximum(seg.sum(valid.astype(np.int64)) - 1, 0)
    p_value: Floats = np.ones_like(statistic)
    tested = dof > 0
    p_value[tested] = stats.chi2.sf(statistic[tested], dof[tested])
    statistic[~tested] = 0.0
    return statistic, dof, np.clip(p_value, 0.0, 1.0)
