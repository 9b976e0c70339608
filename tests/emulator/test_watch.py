"""Watch streams: line-delimited JSON events, resuming, 410, timeouts, bookmarks, selectors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelops.emulator.testing import EmulatorHandle
from tests.emulator.conftest import WIDGETS, widget

MERGE = {"Content-Type": "application/merge-patch+json"}


class Watch:
    """A watch stream read in a background thread, so a test can act and then look."""

    def __init__(self, client: httpx.Client, params: dict[str, str], path: str = WIDGETS) -> None:
        self.events: list[dict[str, Any]] = []
        self.content_type = ""
        self.status = 0
        self.ended = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(client, path, {"watch": "true", **params}),
                                        daemon=True)
        self._thread.start()

    def _run(self, client: httpx.Client, path: str, params: dict[str, str]) -> None:
        try:
            with client.stream("GET", path, params=params, timeout=15) as response:
                self.status = response.status_code
                self.content_type = response.headers.get("content-type", "")
                for line in response.iter_lines():
                    if line.strip():
                        with self._changed:
                            self.events.append(json.loads(line))
                            self._changed.notify_all()
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()
            with self._changed:
                self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.events) >= count or self.ended.is_set(), timeout)
            return list(self.events)

    def types(self) -> list[tuple[str, str]]:
        return [(e["type"], e["object"]["metadata"].get("name", "")) for e in self.events if e["type"] != "BOOKMARK"]


@pytest.fixture
def client(k8s: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=k8s.url, timeout=15, verify=k8s.ssl_context, headers=k8s.auth_headers) as c:
        yield c


def wait_for_watchers(k8s: EmulatorHandle, count: int = 1) -> None:
    done = threading.Event()
    for _ in range(500):  # up to 10 s on a loaded machine
        if k8s.cluster.store.watch_count >= count:
            return
        done.wait(0.02)
    raise AssertionError("the watch did not subscribe")


def test_watch_streams_json_lines_of_existing_then_live_events(api: httpx.Client, client: httpx.Client,
                                                                 k8s: EmulatorHandle) -> None:
    api.post(WIDGETS, json=widget("old"))
    watch = Watch(client, {})
    wait_for_watchers(k8s)
    api.post(WIDGETS, json=widget("new"))
    api.patch(f"{WIDGETS}/new", json={"spec": {"size": 4}}, headers=MERGE)
    api.delete(f"{WIDGETS}/new")
    watch.wait_for(4)
    assert watch.content_type.startswith("application/json")
    assert watch.types() == [("ADDED", "old"), ("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "new")]
    assert all(e["object"]["kind"] == "Widget" for e in watch.events)


def test_watch_resumes_after_a_resource_version(api: httpx.Client, client: httpx.Client) -> None:
    first = api.post(WIDGETS, json=widget("a")).json()["metadata"]["resourceVersion"]
    api.post(WIDGETS, json=widget("b"))
    api.patch(f"{WIDGETS}/a", json={"spec": {"size": 5}}, headers=MERGE)
    watch = Watch(client, {"resourceVersion": first})
    watch.wait_for(2)
    assert watch.types() == [("ADDED", "b"), ("MODIFIED", "a")]


def test_watch_from_a_compacted_resource_version_gets_410(api: httpx.Client, client: httpx.Client,
                                                           k8s: EmulatorHandle) -> None:
    first = api.post(WIDGETS, json=widget("a")).json()["metadata"]["resourceVersion"]
    api.post(WIDGETS, json=widget("b"))
    k8s.compact()
    watch = Watch(client, {"resourceVersion": first})
    events = watch.wait_for(1)
    assert watch.ended.wait(5)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"


def test_history_overflow_also_expires_old_resource_versions(tmp_path: Any) -> None:
    from modelops.emulator.testing import running_emulator
    with running_emulator(tmp_path / "kc", history_size=3) as small, \
            httpx.Client(base_url=small.url, timeout=10, verify=small.ssl_context,
                         headers=small.auth_headers) as client:
        path = "/api/v1/namespaces/default/configmaps"
        first = client.post(path, json={"metadata": {"name": "c0"}}).json()["metadata"]["resourceVersion"]
        for i in range(1, 6):
            client.post(path, json={"metadata": {"name": f"c{i}"}})
        watch = Watch(client, {"resourceVersion": first}, path=path)
        assert watch.wait_for(1)[0]["object"]["code"] == 410


def test_timeout_seconds_ends_the_stream(client: httpx.Client) -> None:
    watch = Watch(client, {"timeoutSeconds": "1"})
    assert watch.ended.wait(5)
    assert watch.status == 200


def test_bookmarks_are_sent_periodically_when_allowed(client: httpx.Client, api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    watch = Watch(client, {"allowWatchBookmarks": "true"})
    events = watch.wait_for(3)
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, events
    assert bookmarks[0]["object"]["kind"] == "Widget"
    assert bookmarks[0]["object"]["metadata"]["resourceVersion"].isdigit()


def test_no_bookmarks_unless_allowed(client: httpx.Client) -> None:
    watch = Watch(client, {"timeoutSeconds": "1"})
    assert watch.ended.wait(5)
    assert watch.events == []


def test_send_initial_events_ends_with_an_annotated_bookmark(api: httpx.Client, client: httpx.Client) -> None:
    api.post(WIDGETS, json=widget("a"))
    watch = Watch(client, {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
                           "allowWatchBookmarks": "true"})
    events = watch.wait_for(2)
    assert [e["type"] for e in events[:2]] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_send_initial_events_without_resource_version_match_is_422(client: httpx.Client) -> None:
    response = client.get(WIDGETS, params={"watch": "true", "sendInitialEvents": "true"})
    assert response.status_code == 422


def test_selectors_filter_watches_and_leaving_a_selection_is_deleted(api: httpx.Client, client: httpx.Client,
                                                                      k8s: EmulatorHandle) -> None:
    watch = Watch(client, {"labelSelector": "tier=web"})
    wait_for_watchers(k8s)
    body = widget("a")
    body["metadata"]["labels"] = {"tier": "web"}
    api.post(WIDGETS, json=body)
    api.post(WIDGETS, json=widget("unlabelled"))
    api.patch(f"{WIDGETS}/a", json={"metadata": {"labels": {"tier": "db"}}}, headers=MERGE)
    api.patch(f"{WIDGETS}/unlabelled", json={"metadata": {"labels": {"tier": "web"}}}, headers=MERGE)
    watch.wait_for(3)
    assert watch.types() == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "unlabelled")]


def test_field_selector_on_watch(api: httpx.Client, client: httpx.Client, k8s: EmulatorHandle) -> None:
    watch = Watch(client, {"fieldSelector": "metadata.name=b"})
    wait_for_watchers(k8s)
    api.post(WIDGETS, json=widget("a"))
    api.post(WIDGETS, json=widget("b"))
    watch.wait_for(1)
    assert watch.types() == [("ADDED", "b")]


def test_dropped_watches_end_and_clients_can_resume(api: httpx.Client, client: httpx.Client,
                                                    k8s: EmulatorHandle) -> None:
    watch = Watch(client, {})
    wait_for_watchers(k8s)
    created = api.post(WIDGETS, json=widget("a")).json()
    watch.wait_for(1)
    assert k8s.drop_watches() == 1
    assert watch.ended.wait(5)
    api.post(WIDGETS, json=widget("b"))
    resumed = Watch(client, {"resourceVersion": created["metadata"]["resourceVersion"]})
    resumed.wait_for(1)
    assert resumed.types() == [("ADDED", "b")]


def test_aborted_watches_cut_the_connection(client: httpx.Client, k8s: EmulatorHandle) -> None:
    watch = Watch(client, {})
    wait_for_watchers(k8s)
    k8s.drop_watches(abort=True)
    assert watch.ended.wait(5)


def test_concurrent_writers_are_seen_once_each_in_resource_version_order(client: httpx.Client,
                                                                          k8s: EmulatorHandle) -> None:
    watch = Watch(client, {}, path="/api/v1/namespaces/default/configmaps")
    wait_for_watchers(k8s)

    def write(prefix: str) -> None:
        for i in range(25):
            k8s.create({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"{prefix}-{i}", "namespace": "default"}})

    writers = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    events = watch.wait_for(100)
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert len(events) == 100
    assert versions == sorted(set(versions))
