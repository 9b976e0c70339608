"""The sandbox's own minimal API client: JSON over https with the kubeconfig's token and CA.

The kubelet writes Pods, ReplicaSets and statuses as raw JSON (no model classes in between,
so a status is written exactly as built) and needs nothing the kubernetes client's generated
layer adds, whose calling convention changes between its releases.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelops.emulator import kubeconfig as kubeconfigs


class ApiError(Exception):
    """A non-2xx answer: its HTTP status and the server's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Api:
    server: str
    token: str
    context: ssl.SSLContext

    @classmethod
    def from_kubeconfig(cls, path: Path) -> Api:
        config = yaml.safe_load(path.read_text())
        server = str(config["clusters"][0]["cluster"]["server"]).rstrip("/")
        context = ssl.create_default_context(cadata=kubeconfigs.ca_of(path).decode())
        return cls(server, kubeconfigs.token_of(path), context)

    def call(self, method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
             content_type: str = "application/json", timeout: float = 10.0) -> Any:
        url = self.server + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = str(json.loads(detail).get("message", detail))
            raise ApiError(error.code, detail) from None
        return json.loads(raw) if raw else None

    def open(self, path: str, *, query: dict[str, str] | None = None, timeout: float | None = None) -> Any:
        """A streaming GET (watch, follow a log): the open response, to read line by line."""
        url = self.server + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        return urllib.request.urlopen(request, timeout=timeout, context=self.context)
