"""A serving pod's ``/metrics`` text → the cumulative series analysis reads (pure).

Parsed with ``prometheus_client.parser.text_string_to_metric_families``. Only the series
named in ``names.CUMULATIVE`` are kept (and their ``_created`` timestamps, which tell a
restarted process apart from a quiet one); a family declared without samples is still
recorded as exported, so "no feedback yet" (zero) differs from "not exported" (absent).
"""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from modelops.operator.analysis import names
from modelops.operator.analysis.samples import Cumulative, SeriesKey, series_key


class ExpositionError(ValueError):
    """Text that is not Prometheus exposition format; the message says where."""


def parse(text: str) -> Cumulative:
    values: dict[SeriesKey, float] = {}
    created: dict[SeriesKey, float] = {}
    families: set[str] = set()
    try:
        for family in text_string_to_metric_families(text):
            # the parser strips "_total" from counters' family names; declare both spellings
            for suffix in ("", "_total", "_bucket"):
                if family.name + suffix in names.CUMULATIVE:
                    families.add(family.name + suffix)
            for sample in family.samples:
                if sample.name in names.CUMULATIVE:
                    if math.isnan(sample.value):
                        continue
                    values[series_key(sample.name, sample.labels)] = float(sample.value)
                elif sample.name.endswith("_created"):
                    base = sample.name.removesuffix("_created")
                    # a counter's _created is per series; a histogram's covers all its buckets
                    for suffix in ("_total", "_bucket"):
                        if base + suffix in names.CUMULATIVE:
                            created[series_key(base + suffix, sample.labels)] = float(sample.value)
    except ValueError as exc:
        raise ExpositionError(f"not Prometheus text exposition: {exc}") from None
    return Cumulative(values=values, created=created, families=frozenset(families))
