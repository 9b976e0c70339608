"""Direct predictors: a model's own arithmetic on numpy arrays in place of scikit-learn's
``predict`` machinery, used only once proven to answer as scikit-learn does.

``choose`` is what serving calls at load. It builds the direct predictor of a known model
(``linear``: LogisticRegression and plain linear regressors; ``trees``: trees, forests and
gradient boosting; each alone or behind StandardScalers in a Pipeline), checks it against the
fitted estimator on rows spread over the profile's range (plus, for trees, the boundaries of
every split threshold), and returns it only when its predictions are equal and its
probabilities match within the module's tolerance. Otherwise scikit-learn serves, and the
log line says why. Any surprise in an estimator's attributes counts as a refusal.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from modelops.drift.profile import Profile
from modelops.serving.direct import linear, rows, scaling, trees, verify

log = logging.getLogger(__name__)


class DirectPredictor(Protocol):
    kind: str  # "linear" | "trees"
    description: str

    def predict(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[Any]: ...

    def predict_proba(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class Choice:
    """The direct predictor to use (None: scikit-learn's ``predict``) and why."""

    predictor: DirectPredictor | None
    reason: str
    # A direct predictor was built but did not answer as scikit-learn does: worth a warning.
    disagreed: bool = False


def _choose(estimator: Any, profile: Profile, proba: bool) -> Choice:
    unpacked = scaling.unpack(estimator)
    if isinstance(unpacked, str):
        return Choice(None, f"no direct predictor: {unpacked}")
    scales, final = unpacked
    name = type(final).__name__
    check_rows = rows.profile_rows(profile)

    direct_linear = linear.compile_linear(scales, final)
    if direct_linear is not None:
        why = verify.disagreement(
            direct_linear,
            estimator,
            check_rows,
            proba,
            tolerance=linear.PROBA_TOLERANCE,
            relative=linear.PROBA_RELATIVE,
        )
        if why is not None:
            return Choice(None, f"the direct linear predictor of {name} is not used: {why}", disagreed=True)
        return Choice(direct_linear, f"{direct_linear.description}, equal to scikit-learn on {len(check_rows)} rows")

    compiled = trees.compile_trees(scales, final)
    if compiled is None:
        return Choice(None, f"no direct predictor for {name}")
    if isinstance(compiled, str):
        return Choice(None, f"no direct predictor: {compiled}")
    predictor = compiled.predictor
    base = scaling.apply(scales, check_rows[:1])[0]
    why, boundary = trees.check(compiled, base)
    if why is not None:
        return Choice(None, f"the direct tree-ensemble predictor of {name} is not used: {why}", disagreed=True)
    whole = [check_rows, scaling.undo(scales, boundary)]
    if compiled.allow_nan:
        whole.append(rows.with_missing(check_rows[:128]))
    sample = np.concatenate(whole)
    why = verify.disagreement(predictor, estimator, sample, proba)
    if why is not None:
        return Choice(None, f"the direct tree-ensemble predictor of {name} is not used: {why}", disagreed=True)
    return Choice(
        predictor,
        f"{predictor.description}, equal to scikit-learn on {len(sample)} rows (and every threshold "
        f"boundary tree by tree)",
    )


def choose(estimator: Any, profile: Profile, proba: bool) -> Choice:
    """The direct predictor for ``estimator`` if one is proven equal to it, logged either way.
    ``proba``: whether probabilities are served too (and so checked)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    started = time.perf_counter()
    try:
        # One OpenMP thread for scikit-learn's side of the check: its answers do not depend on
        # it (rows are independent), and on a busy machine its thread pool's start-up and
        # spinning cost more than the work (HistGradientBoosting: ~2 ms per tree call).
        with threadpool_limits(limits=1, user_api="openmp"):
            choice = _choose(estimator, profile, proba)
    except Exception as exc:  # any surprise in an estimator's attributes: keep scikit-learn
        log.debug("no direct predictor", exc_info=True)
        choice = Choice(None, f"no direct predictor: building it failed ({type(exc).__name__}: {exc})", disagreed=True)
    took = time.perf_counter() - started
    if choice.predictor is not None:
        log.info("using the %s (checked in %.2f s)", choice.reason, took)
    elif choice.disagreed:
        log.warning("scikit-learn predict: %s", choice.reason)
    else:
        log.info("scikit-learn predict: %s", choice.reason)
    return choice
