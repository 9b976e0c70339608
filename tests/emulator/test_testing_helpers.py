"""The helpers other tests build on: direct store access through `EmulatorHandle`."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.emulator.errors import ApiError
from modelops.emulator.testing import EmulatorHandle, load_manifests, running_emulator
from tests.emulator.conftest import WIDGET_API, WIDGETS_CRD, widget


def test_seed_keeps_status_and_create_drops_it(k8s: EmulatorHandle) -> None:
    seeded = k8s.seed({**widget("s"), "metadata": {"name": "s", "namespace": "default"},
                       "status": {"phase": "Midway"}})
    created = k8s.create({**widget("c"), "metadata": {"name": "c", "namespace": "default"},
                          "status": {"phase": "Midway"}})
    assert seeded["status"] == {"phase": "Midway"}
    assert "status" not in created


def test_direct_writes_follow_api_rules(k8s: EmulatorHandle) -> None:
    with pytest.raises(ApiError) as error:
        k8s.create({**widget("w", size=99), "metadata": {"name": "w", "namespace": "default"}})
    assert error.value.code == 422
    k8s.apply({**widget("w"), "metadata": {"name": "w"}})
    applied = k8s.apply({**widget("w", size=5), "metadata": {"name": "w"}})
    assert (applied["spec"]["size"], applied["metadata"]["generation"]) == (5, 2)
    status = k8s.patch_status(WIDGET_API, "Widget", "w", {"phase": "Ok"})
    assert status["status"] == {"phase": "Ok"}


def test_lookups(k8s: EmulatorHandle) -> None:
    k8s.create_namespace("team")
    k8s.create({**widget("a"), "metadata": {"name": "a", "namespace": "team", "labels": {"x": "1"}}})
    k8s.create({**widget("b"), "metadata": {"name": "b", "namespace": "team"}})
    assert k8s.find(WIDGET_API, "wd", "a", "team") is not None
    assert k8s.find(WIDGET_API, "Widget", "zzz", "team") is None
    assert [w["metadata"]["name"] for w in k8s.list(WIDGET_API, "widgets", "team", label_selector="x=1")] == ["a"]
    k8s.delete(WIDGET_API, "Widget", "a", "team")
    assert k8s.find(WIDGET_API, "Widget", "a", "team") is None


def test_without_a_path_a_temporary_kubeconfig_is_written() -> None:
    with running_emulator() as handle:
        assert handle.kubeconfig.is_file()
        assert handle.url in handle.kubeconfig.read_text()


def test_load_manifests_reads_files_directories_and_dicts(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
    (tmp_path / "b.yaml").write_text("a: 1\n---\nb: 2\n")
    loaded = load_manifests([WIDGETS_CRD, tmp_path, {"c": 3}])
    assert [next(iter(obj)) for obj in loaded[1:]] == ["a", "b", "c"]
    assert loaded[0]["kind"] == "CustomResourceDefinition"


def test_find_of_an_unknown_kind_raises_rather_than_saying_absent(k8s: EmulatorHandle) -> None:
    with pytest.raises(ApiError):
        k8s.find(WIDGET_API, "Wdget", "a")
