"""A profile's reference bins laid out flat, ready for vectorised scoring.

Built once per profile (``layouts_of`` keeps the last few), so an evaluation only adds
the current counts to arrays that already hold the reference side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from modelops.drift.profile import BinnedProfile, Profile
from modelops.drift.scoring import wasserstein_positions, wasserstein_widths
from modelops.drift.segments import Floats, Ints, Segments


@dataclass(frozen=True, eq=False)
class ReferenceLayout:
    """Binned quantities (features, or the output) with their reference counts, flat."""

    names: tuple[str, ...]
    numeric: npt.NDArray[np.bool_]  # per quantity
    reference: Ints  # flat over all bins
    bins: Segments  # all bins: value bins then the special bin
    value_mask: npt.NDArray[np.bool_]  # flat over all bins: True on value bins
    values: Segments  # value bins only
    reference_values: Ints  # flat over value bins
    widths: Floats  # flat over value bins: normalised Wasserstein gaps (0 for categorical)
    filled_bins: Ints  # per quantity: bins with a reference count
    filled_value_bins: Ints

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @classmethod
    def of(cls, quantities: Sequence[BinnedProfile]) -> ReferenceLayout:
        sizes = [q.n_bins for q in quantities]
        bins = Segments(np.concatenate(([0], np.cumsum(sizes, dtype=np.intp))))
        value_mask, values = bins.drop_last()
        reference = np.fromiter(
            (c for q in quantities for c in q.reference), dtype=np.int64, count=bins.size
        )
        positions = np.concatenate(
            [
                wasserstein_positions(np.asarray(q.edges, dtype=np.float64))
                if q.kind == "numeric"
                else np.zeros(q.n_value_bins)
                for q in quantities
            ]
            or [np.zeros(0)]
        )
        reference_values = reference[value_mask]
        return cls(
            names=tuple(q.name for q in quantities),
            numeric=np.array([q.kind == "numeric" for q in quantities], dtype=bool),
            reference=reference,
            bins=bins,
            value_mask=value_mask,
            values=values,
            reference_values=reference_values,
            widths=wasserstein_widths(positions, values),
            filled_bins=bins.sum((reference > 0).astype(np.int64)),
            filled_value_bins=values.sum((reference_values > 0).astype(np.int64)),
        )


@dataclass(frozen=True, eq=False)
class ProfileLayouts:
    features: ReferenceLayout
    output: ReferenceLayout
    digest: str


_CACHE: dict[int, tuple[Profile, ProfileLayouts]] = {}
_CACHE_SIZE = 16


def layouts_of(profile: Profile) -> ProfileLayouts:
    """The flat layouts of a profile's features and output (cached by identity)."""
    hit = _CACHE.get(id(profile))
    if hit is not None and hit[0] is profile:
        return hit[1]
    built = ProfileLayouts(
        features=ReferenceLayout.of(profile.features),
        output=ReferenceLayout.of((profile.output,)),
        digest=profile.layout_digest,
    )
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[id(profile)] = (profile, built)
    return built
