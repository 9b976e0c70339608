"""The format of a model artifact's reference profile (`profile.json`).

A profile fixes, per input feature and for the model's output, the bins that serving
replicas count into and the reference counts the drift scores compare against. Every
binned quantity has the same layout: its value bins, then one last *special* bin:

- numeric: ``len(edges) + 1`` value bins, right-closed, ``(-inf, e0], (e0, e1], …,
  (e_last, +inf)``; the special bin counts missing values (NaN).
- categorical: one bin per known category, in profile order; the special bin counts
  values never seen in the reference (and missing ones).

So ``n_bins == n_value_bins + 1`` always, and replicas' counts over the same profile add
up exactly. Scoring methods that need an order (KS, Wasserstein) use the value bins only.

Categories are named by ``modelops.drift.categories.category_key``. This module only
describes and (de)serialises profiles; ``modelops.drift.profile`` builds them from
reference data with the serving pods' own binning code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import orjson

PROFILE_FORMAT_VERSION = 1

FeatureKind = Literal["numeric", "categorical"]


class ProfileError(ValueError):
    """A profile (or data given to build one) that cannot be used; the message says why."""


@dataclass(frozen=True)
class BinnedProfile:
    """One binned quantity: an input feature or the model's output."""

    name: str
    kind: FeatureKind
    # numeric: strictly increasing inner bin edges (finite floats); empty for categorical
    edges: tuple[float, ...] = ()
    # categorical: the known categories, as strings; empty for numeric
    categories: tuple[str, ...] = ()
    # reference counts, length n_bins (value bins then the special bin)
    reference: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == "numeric":
            if self.categories:
                raise ProfileError(f"numeric feature {self.name!r} must not list categories")
            edges = np.asarray(self.edges, dtype=np.float64)
            if not np.all(np.isfinite(edges)):
                raise ProfileError(f"feature {self.name!r}: bin edges must be finite")
            if edges.size > 1 and not np.all(np.diff(edges) > 0):
                raise ProfileError(f"feature {self.name!r}: bin edges must be strictly increasing")
        elif self.kind == "categorical":
            if self.edges:
                raise ProfileError(f"categorical feature {self.name!r} must not list edges")
            if not self.categories:
                raise ProfileError(f"categorical feature {self.name!r} lists no categories")
            if len(set(self.categories)) != len(self.categories):
                raise ProfileError(f"categorical feature {self.name!r} lists a category twice")
        else:
            raise ProfileError(f"feature {self.name!r}: unknown kind {self.kind!r}")
        if len(self.reference) != self.n_bins:
            raise ProfileError(
                f"feature {self.name!r}: {len(self.reference)} reference counts for {self.n_bins} bins"
            )
        if any(c < 0 for c in self.reference):
            raise ProfileError(f"feature {self.name!r}: negative reference count")

    @property
    def n_value_bins(self) -> int:
        return len(self.edges) + 1 if self.kind == "numeric" else len(self.categories)

    @property
    def n_bins(self) -> int:
        return self.n_value_bins + 1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "numeric":
            out["edges"] = list(self.edges)
        else:
            out["categories"] = list(self.categories)
        out["reference"] = list(self.reference)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BinnedProfile:
        try:
            return cls(
                name=str(raw["name"]),
                kind=raw["kind"],
                edges=tuple(float(e) for e in raw.get("edges", ())),
                categories=tuple(str(c) for c in raw.get("categories", ())),
                reference=tuple(int(c) for c in raw["reference"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ProfileError):
                raise
            raise ProfileError(f"malformed profile entry {raw.get('name', '?')!r}: {exc}") from exc


@dataclass(frozen=True)
class Profile:
    """Per-feature reference bins plus the reference distribution of the model's output."""

    features: tuple[BinnedProfile, ...]
    output: BinnedProfile
    format_version: int = PROFILE_FORMAT_VERSION
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ProfileError("profile lists a feature twice")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def feature(self, name: str) -> BinnedProfile:
        try:
            return self.features[self._index[name]]
        except KeyError:
            raise ProfileError(f"profile has no feature {name!r}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": self.format_version,
            "features": [f.to_json() for f in self.features],
            "output": self.output.to_json(),
        }

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)

    @property
    def layout_digest(self) -> str:
        """sha256 of the bin layout (not the reference counts): counts from replicas can
        only be merged, or scored, against a profile with the same layout digest."""
        layout = [
            [f.name, f.kind, list(f.edges), list(f.categories)]
            for f in (*self.features, self.output)
        ]
        return hashlib.sha256(orjson.dumps(layout)).hexdigest()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Profile:
        if not isinstance(raw, Mapping):
            raise ProfileError("profile must be a JSON object")
        version = raw.get("formatVersion")
        if version != PROFILE_FORMAT_VERSION:
            raise ProfileError(
                f"profile formatVersion {version!r} is not supported (expected {PROFILE_FORMAT_VERSION})"
            )
        try:
            features = tuple(BinnedProfile.from_json(f) for f in raw["features"])
            output = BinnedProfile.from_json(raw["output"])
        except KeyError as exc:
            raise ProfileError(f"profile is missing {exc.args[0]!r}") from None
        return cls(features=features, output=output)

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProfileError(f"profile is not valid JSON: {exc}") from None
        return cls.from_json(raw)
