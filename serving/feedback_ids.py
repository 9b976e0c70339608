"""Feedback ids that name the replica holding the prediction, signed, and where feedback goes.

A prediction is remembered only by the process that made it. So that feedback posted to any
replica of any version of a deployment is scored by that process, every remembered request
gets a *routable* id::

    <address>.<instance>.<serial>.<mac>

``address`` is the replica's ``host:port`` (base64url, no padding: no dots), ``instance`` 16
random hex digits drawn at start (a restarted process at the same address is another
instance), ``serial`` a per-process counter (hex), and ``mac`` the first 16 hex digits of
HMAC-SHA256 over the rest, keyed by the deployment's shared key (``MODELOPS_FEEDBACK_KEY``,
the same in every pod of every version). A replica that does not hold an id forwards the
feedback to the address the id names; one that cannot verify the mac refuses it (400), so a
client cannot make a replica post to an address of its choosing. Without a shared key each
process draws its own: ids then only verify, and score, on the replica that issued them.

``route`` is the pure decision of where feedback goes, tested without servers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import os
from dataclasses import dataclass

KEY_ENV = "MODELOPS_FEEDBACK_KEY"
_MAC_DIGITS = 16
NO_ADDRESS = "-"  # a process that was not told a routable address (in-process tests)


def key_from_env(environ: dict[str, str] | None = None) -> bytes | None:
    value = (os.environ if environ is None else environ).get(KEY_ENV, "")
    return value.encode() if value else None


@dataclass(frozen=True)
class ParsedId:
    address: str
    instance: str


class FeedbackIds:
    """Issues and verifies one process's routable ids (``issue`` costs ~1 µs: one HMAC)."""

    def __init__(self, address: str | None, key: bytes | None, instance: str | None = None) -> None:
        self.address = address or NO_ADDRESS
        self.shared_key = key is not None
        self._key = key if key is not None else os.urandom(32)
        # Keyed once; each mac copies it. The one-shot ``hmac.digest`` re-keys every time and
        # releases the GIL around OpenSSL's call: on the event loop's thread that hands the
        # GIL to the predicting thread and waits to get it back, ~20 µs of CPU and ~0.2 ms of
        # wall time per request under load (measured with benchmarks/serving/cpu.py), where
        # this costs ~3 µs and keeps the GIL (data under 2 KiB).
        self._keyed = hmac.new(self._key, digestmod="sha256")
        self.instance = instance or os.urandom(8).hex()
        self._prefix = f"{_encode(self.address)}.{self.instance}."
        self._serial = itertools.count(1)

    def issue(self) -> str:
        body = f"{self._prefix}{next(self._serial):x}"
        return f"{body}.{self._mac(body)}"

    def _mac(self, body: str) -> str:
        mac = self._keyed.copy()
        mac.update(body.encode())
        return mac.hexdigest()[:_MAC_DIGITS]

    def looks_routable(self, value: str) -> bool:
        return value.count(".") == 3

    def parse(self, value: str) -> ParsedId | str:
        """The id's address and instance, or why it is refused (a forged or foreign id)."""
        parts = value.split(".")
        if len(parts) != 4:
            return (
                f"feedback id {_shown(value)} is not one this deployment issues "
                "(<address>.<instance>.<serial>.<mac>)"
            )
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            hint = (
                "" if self.shared_key
                else f" ({KEY_ENV} is not set on this replica, so only ids it issued itself verify)"
            )  # fmt: skip
            return (
                f"feedback id {_shown(value)} fails its signature: forged, altered, or issued by "
                f"another deployment{hint}"
            )
        try:
            address = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):  # signed but unreadable: not ours either
            return f"feedback id {_shown(value)} names no readable address"
        return ParsedId(address=address, instance=parts[1])


CLIENT_ID_HINT = (
    "an id chosen by the client is known only to the replica that answered it; send the "
    "response's x-feedback-id instead, which any replica of the deployment forwards to its owner"
)


@dataclass(frozen=True)
class Local:
    """Score here: the id is held here, names this very process, or is a client's own id
    (the store then says why it is not held: 404)."""


@dataclass(frozen=True)
class Forward:
    address: str


@dataclass(frozen=True)
class Refuse:
    status: int
    message: str


Route = Local | Forward | Refuse


def route(ids: FeedbackIds, feedback_id: str, *, held: bool, forwarded: bool) -> Route:
    """Where feedback for ``feedback_id`` is scored. ``held``: this process remembers the id
    (or scored it already, or it is a client's id it answered); ``forwarded``: another replica
    sent it here, so it is never sent on (no loops)."""
    if held:
        return Local()
    if not ids.looks_routable(feedback_id):
        return Local()  # a client's own id: only ever known here; the store says why not (404)
    parsed = ids.parse(feedback_id)
    if isinstance(parsed, str):
        return Refuse(400, parsed)
    if parsed.address == ids.address and parsed.instance == ids.instance:
        return Local()  # ours but no longer held: the store says why (404)
    if parsed.address == ids.address or forwarded:
        return Refuse(
            410,
            f"the replica that made prediction {_shown(feedback_id)} ({parsed.address}, instance "
            f"{parsed.instance}) is gone: that address now serves another process, and the "
            "predictions it remembered went with it",
        )
    if parsed.address == NO_ADDRESS:
        return Refuse(404, f"feedback id {_shown(feedback_id)} was issued by a replica with no routable address")
    return Forward(parsed.address)


def _encode(address: str) -> str:
    return base64.urlsafe_b64encode(address.encode()).decode().rstrip("=")


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 80 else f"{value[:64]!r}… ({len(value)} characters)"
