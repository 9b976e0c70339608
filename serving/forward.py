"""Feedback sent on to the replica that made the prediction (the address its id names).

One POST with a short timeout; the owner's answer is the answer. The owner marks an id as
scored before it answers, so when the answer is lost (timeout) a retry of the whole call is
safe: it is answered ``already_scored`` and counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from modelops.serving.errors import ServingError

FORWARDED_HEADER = "x-modelops-forwarded-by"
SCORED_BY_HEADER = "x-modelops-scored-by"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class Forwarder:
    def __init__(self, me: str, timeout: float) -> None:
        self.me = me
        self.timeout = timeout
        self._session: Any = None  # aiohttp.ClientSession, made in the event loop on first use

    async def send(self, address: str, model: str, feedback_id: str, body: bytes) -> Answer:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        url = f"http://{address}/v2/models/{quote(model, safe='')}/feedback"
        headers = {FORWARDED_HEADER: self.me, "content-type": "application/json"}
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                return Answer(response.status, await response.read())
        except TimeoutError:
            raise ServingError(
                504,
                f"the replica that made prediction {feedback_id!r} ({address}) did not answer within "
                f"{self.timeout:g}s; retry: feedback is never counted twice",
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ServingError(
                410,
                f"the replica that made prediction {feedback_id!r} ({address}) is gone "
                f"({type(exc).__name__}): the predictions it remembered went with it",
            ) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
