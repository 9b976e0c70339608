"""Validation of object metadata every kind gets on a real API server: names and labels.

Catches what a cluster would refuse from an operator or a user: metadata fields of the
wrong type, a name that is not a DNS name (a Service's must also start with a letter and
fit 63 characters), a label key or value that is too long or has characters labels cannot
hold.
"""

from __future__ import annotations

import re
from typing import Any

_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL_1123 = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"

# Kinds whose names are DNS labels (they become hostnames or DNS zones).
_DNS_1035_KINDS = {("", "services")}
_DNS_1123_LABEL_KINDS = {("", "namespaces")}

Cause = tuple[str, str, str]


def _name_causes(storage_key: tuple[str, str], name: str) -> list[Cause]:
    if storage_key in _DNS_1035_KINDS:
        pattern, limit, what = _LABEL_1035, 63, "a DNS-1035 label"
        rule = "must consist of lower case alphanumeric characters or '-', start with an alphabetic character, " \
               "and end with an alphanumeric character"
    elif storage_key in _DNS_1123_LABEL_KINDS:
        pattern, limit, what = _LABEL_1123, 63, "a lowercase RFC 1123 label"
        rule = "must consist of lower case alphanumeric characters or '-', and must start and end with an " \
               "alphanumeric character"
    else:
        pattern, limit, what = _SUBDOMAIN, 253, "a lowercase RFC 1123 subdomain"
        rule = "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an " \
               "alphanumeric character"
    causes: list[Cause] = []
    if len(name) > limit:
        causes.append(("FieldValueInvalid", "metadata.name",
                       f'Invalid value: "{name}": must be no more than {limit} characters'))
    if not re.fullmatch(pattern, name):
        causes.append(("FieldValueInvalid", "metadata.name",
                       f"Invalid value: \"{name}\": {what} {rule} (regex used for validation is '{pattern}')"))
    return causes


def _label_key_causes(key: str, field: str) -> list[Cause]:
    prefix, _, name = key.rpartition("/")
    causes: list[Cause] = []
    if prefix and (len(prefix) > 253 or not re.fullmatch(_SUBDOMAIN, prefix)):
        causes.append(("FieldValueInvalid", field,
                       f'Invalid value: "{key}": prefix part must be a lowercase RFC 1123 subdomain'))
    if not name or len(name) > 63 or not re.fullmatch(_QUALIFIED, name):
        causes.append(("FieldValueInvalid", field,
                       f'Invalid value: "{key}": name part must be no more than 63 characters, consist of '
                       "alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character"))
    return causes


def type_causes(meta: dict[str, Any]) -> list[Cause]:
    """Metadata fields of the wrong JSON type (what the rest of the server relies on)."""
    found: list[Cause] = []
    for field in ("name", "generateName", "namespace"):
        value = meta.get(field)
        if value is not None and not isinstance(value, str):
            found.append(("FieldValueTypeInvalid", f"metadata.{field}", f"Invalid value: {value!r}: must be a string"))
    finalizers = meta.get("finalizers")
    if finalizers is not None and not (isinstance(finalizers, list) and all(isinstance(f, str) for f in finalizers)):
        found.append(("FieldValueTypeInvalid", "metadata.finalizers",
                      f"Invalid value: {finalizers!r}: must be a list of strings"))
    references = meta.get("ownerReferences")
    if references is not None and not (isinstance(references, list) and all(isinstance(r, dict) for r in references)):
        found.append(("FieldValueTypeInvalid", "metadata.ownerReferences",
                      f"Invalid value: {references!r}: must be a list of objects"))
    annotations = meta.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        found.append(("FieldValueTypeInvalid", "metadata.annotations", "Invalid value: annotations must be a map"))
    return found


def causes(storage_key: tuple[str, str], meta: dict[str, Any]) -> list[Cause]:
    """Problems with an object's metadata types, name and labels, as 422 causes (empty when valid)."""
    found = type_causes(meta)
    name = meta.get("name")
    if isinstance(name, str) and name:
        found.extend(_name_causes(storage_key, name))
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        return [*found, ("FieldValueTypeInvalid", "metadata.labels", "Invalid value: labels must be a map")]
    for key, value in labels.items():
        found.extend(_label_key_causes(str(key), "metadata.labels"))
        if not isinstance(value, str):
            found.append(("FieldValueTypeInvalid", f"metadata.labels[{key}]",
                          f"Invalid value: {value!r}: label values must be strings"))
        elif len(value) > 63 or not re.fullmatch(_LABEL_VALUE, value):
            found.append(("FieldValueInvalid", "metadata.labels",
                          f'Invalid value: "{value}": a valid label must be an empty string or consist of '
                          "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                          "character, and be no more than 63 characters"))
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        for key, value in annotations.items():
            found.extend(_label_key_causes(str(key), "metadata.annotations"))
            if not isinstance(value, str):
                found.append(("FieldValueTypeInvalid", f"metadata.annotations[{key}]",
                              f"Invalid value: {value!r}: annotation values must be strings"))
    return found
