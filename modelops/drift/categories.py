"""How a value names a category: one function, used by the reference profile and by the
serving pods alike, so a live value lands in the bin its reference twin was counted in.

Values arrive as Python or numpy scalars from pandas columns (reference data), from JSON
(``/infer`` tensors) and from model outputs (class labels). Their spelling must not
depend on the route: ``1``, ``1.0``, ``np.int64(1)`` and ``np.float32(1.0)`` are one
category, ``"1"``; bytes are decoded; ``None``, NaN and pandas' ``NA``/``NaT`` are missing
(no category: they count in the profile's special bin, with unseen values).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

# What ``str()`` made of an integral float in profiles written before category_key
# existed ("1.0", "-3.0"). Such a name also answers to its canonical key ("1", "-3").
_LEGACY_INTEGRAL_FLOAT = re.compile(r"-?\d+\.0")


def category_key(value: Any) -> str | None:
    """The category a value names, or None when it is missing."""
    if isinstance(value, str):  # the common case first: this runs once per value served
        return value  # np.str_ too: it hashes and compares as the plain str
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer():
            return str(int(number))
        return str(value)
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing markers, without importing pandas
        return None
    return str(value)


def lookup_names(categories: Iterable[str]) -> dict[str | None, int]:
    """Category name -> bin index for a profile's categories, plus the canonical key of
    each legacy integral-float name ("1.0" -> also "1") unless that key is itself a
    category, so profiles written before ``category_key`` keep matching live values.
    Keyed by ``str | None`` so that ``category_key``'s None (missing) finds no bin."""
    index: dict[str | None, int] = {c: i for i, c in enumerate(categories)}
    for name, i in list(index.items()):
        if name is not None and _LEGACY_INTEGRAL_FLOAT.fullmatch(name):
            index.setdefault(name[:-2], i)
    return index
