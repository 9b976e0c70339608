"""metav1.Condition helpers, shared by every reconciler.

Conditions are kept as the JSON dicts that go into ``status.conditions``. The rules that
kubectl, kstatus/Flux and Argo CD rely on live here once:

- ``lastTransitionTime`` changes only when ``status`` flips;
- ``observedGeneration`` is stamped on every condition, so ``kubectl wait`` trusts it;
- ``reason`` is one CamelCase word;
- kstatus' abnormal-true conditions (``Reconciling``, ``Stalled``) appear only while True.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

# This module is the bottom layer (.importlinter): it imports nothing of modelops, so the
# resource models, the artifact format and every reconciler can use it without a cycle.
# metav1.Condition's reason: one CamelCase word (the API server's own pattern).
REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

Status = Literal["True", "False", "Unknown"]
_REASON = re.compile(REASON_PATTERN)
# kstatus reads these as "something is wrong / in progress" when present: drop them when False.
ABNORMAL_TRUE = frozenset({"Reconciling", "Stalled"})


class ConditionDict(TypedDict, total=False):
    type: str
    status: Status
    reason: str
    message: str
    observedGeneration: int
    lastTransitionTime: str


@dataclass(frozen=True)
class Desired:
    """A condition a reconciler wants to be in status."""

    type: str
    status: Status
    reason: str
    message: str = ""

    def __post_init__(self) -> None:
        if not _REASON.fullmatch(self.reason):
            raise ValueError(f"condition reason {self.reason!r} is not one CamelCase word")
        if self.status not in ("True", "False", "Unknown"):
            raise ValueError(f"condition status {self.status!r} is not True/False/Unknown")


def now_rfc3339(now: datetime | None = None) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes timestamps."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: Iterable[ConditionDict | dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    for cond in conditions or ():
        if cond.get("type") == type_:
            return dict(cond)
    return None


def is_true(conditions: Iterable[ConditionDict | dict[str, Any]] | None, type_: str) -> bool:
    cond = find(conditions, type_)
    return cond is not None and cond.get("status") == "True"


def merge(
    current: Sequence[ConditionDict | dict[str, Any]] | None,
    desired: Iterable[Desired],
    generation: int | None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The conditions list with ``desired`` applied on top of ``current``.

    Conditions not mentioned in ``desired`` are kept as they are; order is stable (existing
    first, new appended) so that repeated reconciles produce identical patches.
    """
    stamp = now_rfc3339(now)
    by_type: dict[str, dict[str, Any]] = {str(c.get("type")): dict(c) for c in current or ()}
    order = [str(c.get("type")) for c in current or ()]
    for want in desired:
        old = by_type.get(want.type)
        if want.type in ABNORMAL_TRUE and want.status != "True":
            by_type.pop(want.type, None)
            continue
        flipped = old is None or old.get("status") != want.status
        cond: dict[str, Any] = {
            "type": want.type,
            "status": want.status,
            "reason": want.reason,
            "message": want.message,
            "lastTransitionTime": stamp if flipped or not old or not old.get("lastTransitionTime")
            else old["lastTransitionTime"],
        }
        if generation is not None:
            cond["observedGeneration"] = generation
        by_type[want.type] = cond
        if want.type not in order:
            order.append(want.type)
    return [by_type[t] for t in order if t in by_type]


def transitions(
    before: Sequence[ConditionDict | dict[str, Any]] | None,
    after: Sequence[ConditionDict | dict[str, Any]] | None,
) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(old, new) pairs of the conditions whose status or reason changed: what deserves an Event."""
    changed = []
    for new in after or ():
        old = find(before, str(new.get("type")))
        if old is None or old.get("status") != new.get("status") or old.get("reason") != new.get("reason"):
            changed.append((old, dict(new)))
    return changed


def first_outcome(old: ConditionDict | Mapping[str, Any] | None) -> bool:
    """Whether a transition from ``old`` gives the condition its first outcome: it had none, or
    only Unknown while the object was being looked at.

    Such a transition, when it is good news (verified, rolling out, waiting), is not announced
    by an Event: the object's first status says it, and at thousands of objects an Event per
    apply is a write per object that tells nothing a ``kubectl get`` does not. Warnings are
    announced whatever came before; so is every change of an outcome already given.
    """
    return old is None or old.get("status") == "Unknown"
