"""Default thresholds: the larger of an effect-size floor and the score's null critical value.

A fixed threshold is wrong at both ends of the sample-size range: over 100 rows a PSI of
0.2 happens by chance alone, over a million rows a statistical test flags differences
nobody cares about. So, unless a threshold is given explicitly, a feature drifts when its
score exceeds **both**

- the *effect floor* of its method (``EFFECT_FLOOR``: the smallest change worth acting
  on, whatever the sample size), and
- the score's *critical value* under "no drift" at the false-alarm rate ``alpha / F``
  for ``F`` scored features (Bonferroni): at most ``alpha`` (1 % by default) of the
  evaluations of an undrifted model call *any* feature drifted, however many features
  it has, because the union bound holds for dependent features too.

Critical values, for ``n`` current and ``m`` reference rows and ``B`` bins that the
reference fills (``c = 1/n + 1/m``):

- ``ks``: ``sqrt(-ln(a/2) / 2) * sqrt(c)``, the asymptotic Kolmogorov bound; the binned
  statistic never exceeds the exact one, so this stays conservative.
- ``wasserstein`` (normalised): the KS critical value, because the normalised binned
  distance is a weighted mean of the same ECDF gaps whose maximum is the KS statistic.
- ``psi``: ``c * chi2.isf(a, B - 1)``: ``PSI / c`` tends to chi-square with ``B - 1``
  degrees of freedom (it is a symmetrised chi-square divergence).
- ``jensenshannon`` (base 2 distance): ``sqrt(c * chi2.isf(a, B - 1) / (8 ln 2))``, since
  the divergence tends to an eighth of the same chi-square divergence.
- ``chisquare``: its score is a p-value, drifting when *below* ``a`` (no floor: prefer
  Jensen-Shannon for categorical features over large samples).

Effect floors and why: PSI 0.2 is the credit-scoring convention for a significant shift;
KS 0.1 and normalised Wasserstein 0.1 correspond to a mean shift of about 0.25-0.3
standard deviations of a normal feature; Jensen-Shannon 0.1 (base 2) to a PSI of about
0.055, the same order of change for categorical features.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import stats

from modelops.drift.segments import Floats, Ints

ScoreMethod = Literal["psi", "jensenshannon", "wasserstein", "ks", "chisquare"]

DEFAULT_ALPHA = 0.01
EFFECT_FLOOR: dict[ScoreMethod, float] = {
    "psi": 0.2,
    "jensenshannon": 0.1,
    "wasserstein": 0.1,
    "ks": 0.1,
    "chisquare": 0.0,
}
# p-values drift when small; every other score when large
LOWER_IS_DRIFT: frozenset[ScoreMethod] = frozenset({"chisquare"})


def feature_alpha(alpha: float, n_features: int) -> float:
    """Per-feature false-alarm rate that keeps the whole evaluation's at ``alpha``."""
    return alpha / max(n_features, 1)


def critical_value(
    method: ScoreMethod, alpha: float, n_current: Ints, n_reference: Ints, filled_bins: Ints
) -> Floats:
    """The score each feature reaches by chance with probability ``alpha`` (see module doc)."""
    c = 1.0 / np.maximum(n_current, 1) + 1.0 / np.maximum(n_reference, 1)
    if method in ("ks", "wasserstein"):
        out: Floats = np.sqrt(-np.log(alpha / 2.0) / 2.0) * np.sqrt(c)
        return out
    dof = np.maximum(filled_bins - 1, 1)
    chi = stats.chi2.isf(alpha, dof)
    if method == "psi":
        return np.asarray(c * chi, dtype=np.float64)
    if method == "jensenshannon":
        return np.asarray(np.sqrt(c * chi / (8.0 * np.log(2.0))), dtype=np.float64)
    return np.full(np.shape(n_current), alpha, dtype=np.float64)


def default_threshold(
    method: ScoreMethod, alpha: float, n_current: Ints, n_reference: Ints, filled_bins: Ints
) -> Floats:
    """The threshold a feature gets when none is configured: floor and critical value."""
    crit = critical_value(method, alpha, n_current, n_reference, filled_bins)
    if method in LOWER_IS_DRIFT:
        return crit
    return np.maximum(crit, EFFECT_FLOOR[method])
