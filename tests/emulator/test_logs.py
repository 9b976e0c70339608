"""pods/log: the container's file under --pod-logs, validated as the API server validates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from modelops.emulator import logs
from modelops.emulator.errors import ApiError
from modelops.emulator.testing import running_emulator

POD: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                       "spec": {"nodeName": "n", "initContainers": [{"name": "fetch", "image": "i"}],
                                "containers": [{"name": "serve", "image": "i"}]}}


def test_tail_keeps_the_last_lines() -> None:
    assert logs.tail(b"a\nb\nc\n", 2) == b"b\nc\n"
    assert logs.tail(b"a\nb\nc", 1) == b"c"
    assert logs.tail(b"a\n", 0) == b""
    assert logs.tail(b"a\n", None) == b"a\n"


def test_the_container_defaults_when_there_is_one_and_must_exist() -> None:
    assert logs.container_of(POD, "") == "serve"
    assert logs.container_of(POD, "fetch") == "fetch"
    with pytest.raises(ApiError, match="container nope is not valid for pod p"):
        logs.container_of(POD, "nope")
    two = {**POD, "spec": {**POD["spec"], "containers": [{"name": "a"}, {"name": "b"}]}}
    with pytest.raises(ApiError, match=r"choose one of: \[a b\] or one of the init containers: \[fetch\]"):
        logs.container_of(two, "")


def test_names_cannot_leave_the_log_folder(tmp_path: Path) -> None:
    with pytest.raises(ApiError):
        logs.log_file(tmp_path, "default", "..", "serve")


def test_logs_are_read_from_the_folder_and_refused_without_one(tmp_path: Path) -> None:
    (tmp_path / "pods" / "default" / "p").mkdir(parents=True)
    (tmp_path / "pods" / "default" / "p" / "serve.log").write_text("hello\nworld\n")
    path = "/api/v1/namespaces/default/pods/p/log"
    with running_emulator(tmp_path / "a", pod_logs=tmp_path / "pods") as k8s, \
            httpx.Client(base_url=k8s.url, verify=k8s.ssl_context, headers=k8s.auth_headers) as api:
        k8s.create(POD)
        answer = api.get(path, params={"tailLines": "1"})
        assert (answer.status_code, answer.text, answer.headers["content-type"]) == (200, "world\n", "text/plain")
        assert api.get(path, params={"container": "serve"}).text == "hello\nworld\n"
        assert api.post(path).status_code == 405
    with running_emulator(tmp_path / "b") as k8s, \
            httpx.Client(base_url=k8s.url, verify=k8s.ssl_context, headers=k8s.auth_headers) as api:
        k8s.create(POD)
        refused = api.get(path)
        assert refused.status_code == 400
        assert "--pod-logs" in refused.json()["message"]
