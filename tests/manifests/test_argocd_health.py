"""The Argo CD health checks (Lua) give the expected verdicts, and modelops.health agrees with them.

Each ``manifests/argocd/<group>/<Kind>/health.lua`` is run the way Argo CD's own
``resource_customizations`` tests run it: every ``health_test.yaml`` entry names a fixture under
``testdata/`` and the status and message the script must return. The Lua runs in Lua 5.1 (the
dialect of Argo CD's gopher-lua) with the io/os/debug libraries removed, as Argo CD's sandbox does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lupa.lua51
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelops import GROUP
from modelops.api.resources import KINDS as RESOURCE_KINDS
from modelops.health import FAILED_REASONS, KINDS, Health, health
from tests.manifests import argocd_cm

ARGOCD = argocd_cm.ARGOCD
CHECKS = ARGOCD / GROUP


def _load(path: Path) -> Any:
    # A JSON round trip: Argo CD hands the script what the API server returns, which is JSON.
    return json.loads(json.dumps(yaml.safe_load(path.read_text())))


class LuaCheck:
    """One health.lua compiled once in a sandboxed Lua 5.1 runtime, callable per object."""

    def __init__(self, script: Path) -> None:
        self.lua = lupa.lua51.LuaRuntime()
        lua_globals = self.lua.globals()
        for unsafe in ("io", "os", "debug", "require", "dofile", "loadfile", "package"):
            lua_globals[unsafe] = None
        self.chunk = self.lua.compile(script.read_text())

    def __call__(self, obj: Mapping[str, Any]) -> Health:
        self.lua.globals().obj = self.lua.table_from(obj, recursive=True)
        hs = self.chunk()
        return Health(status=hs.status, message=hs.message)


def _cases() -> Iterator[Any]:
    for test_file in sorted(CHECKS.glob("*/health_test.yaml")):
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            kind = test_file.parent.name
            path = case["inputPath"]
            yield pytest.param(kind, path, case["healthStatus"], id=f"{kind}/{path}")


LUA_CHECKS: dict[str, LuaCheck] = {kind: LuaCheck(CHECKS / kind / "health.lua") for kind in KINDS}


def test_every_kind_has_a_check_with_tests_and_fixtures() -> None:
    assert sorted(p.name for p in CHECKS.iterdir() if p.is_dir()) == sorted(KINDS)
    for kind in KINDS:
        folder = CHECKS / kind
        tests = yaml.safe_load((folder / "health_test.yaml").read_text())["tests"]
        listed = {case["inputPath"] for case in tests}
        on_disk = {str(p.relative_to(folder)) for p in (folder / "testdata").glob("*.yaml")}
        assert listed == on_disk, f"{kind}: fixtures not listed in health_test.yaml or listed but missing"


def test_every_verdict_is_exercised_for_every_kind() -> None:
    # A ModelVersion has nothing to pause; the other two kinds can be Suspended by their spec.
    verdicts = {"Healthy", "Progressing", "Degraded"}
    expected = {"ModelVersion": verdicts, "ModelDeployment": verdicts | {"Suspended"}}
    for kind in KINDS:
        tests = yaml.safe_load((CHECKS / kind / "health_test.yaml").read_text())["tests"]
        statuses = {case["healthStatus"]["status"] for case in tests}
        assert statuses == expected.get(kind, verdicts | {"Suspended"}), kind


@pytest.mark.parametrize(("kind", "input_path", "expected"), list(_cases()))
def test_lua_and_python_give_the_expected_health(kind: str, input_path: str, expected: dict[str, str]) -> None:
    obj = _load(CHECKS / kind / input_path)
    assert obj["kind"] == kind
    want = Health(status=expected["status"], message=expected["message"])  # type: ignore[arg-type]
    assert LUA_CHECKS[kind](obj) == want
    assert health(obj) == want


def test_fixtures_are_objects_the_operator_could_write() -> None:
    # Fixtures drift from the real resources unless the resource models accept them.
    models = {kind.kind: kind for kind in RESOURCE_KINDS}
    assert sorted(models) == sorted(KINDS)
    for path in sorted(CHECKS.glob("*/testdata/*.yaml")):
        obj = _load(path)
        models[obj["kind"]].spec.model_validate(obj["spec"])
        if "status" in obj:
            models[obj["kind"]].status.model_validate(obj["status"])


def test_every_model_version_reason_is_classified() -> None:
    # A reason added to the API must be placed: a failure (Degraded) or not. Only these are not.
    from modelops.api.modelversion import REASONS

    not_failures = {"Verified", "ValidationPassed"}
    assert set(REASONS) - not_failures == FAILED_REASONS["ModelVersion"]


def test_python_health_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="no health check for kind 'Deployment'"):
        health({"apiVersion": "apps/v1", "kind": "Deployment", "status": {}})


def test_argocd_cm_patch_is_rendered_from_the_lua_files() -> None:
    committed = argocd_cm.CM_PATCH.read_text()
    assert committed == argocd_cm.render(), "stale: run `.venv/bin/python -m tests.manifests.argocd_cm`"
    data = yaml.safe_load(committed)["data"]
    assert data == {
        f"resource.customizations.health.{GROUP}_{kind}": (CHECKS / kind / "health.lua").read_text() for kind in KINDS
    }


# Objects built from the vocabulary the checks branch on, so random draws reach every branch.
_messages = st.sampled_from([None, "", "churn-v2 serving with 2/2 replicas available"])
_conditions = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Ready", "Progressing", "Degraded", "Stalled", "Validated", "DriftDetected"]),
            "status": st.sampled_from(["True", "False", "Unknown"]),
            "reason": st.sampled_from(["Available", "InvalidSpec", "DigestMismatch", "VersionSkew", "Drifted"]),
        },
        optional={"message": _messages, "observedGeneration": st.integers(1, 3)},
    ),
    max_size=4,
)
_status = st.fixed_dictionaries(
    {},
    optional={
        "observedGeneration": st.integers(1, 3),
        "conditions": _conditions,
        "phase": st.sampled_from(["Pending", "Progressing", "Paused", "Stable", "RolledBack", "Failed"]),
    },
)
_objects = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(KINDS),
        "metadata": st.fixed_dictionaries({"name": st.just("churn")}, optional={"generation": st.integers(1, 3)}),
        "spec": st.fixed_dictionaries({}, optional={"paused": st.booleans(), "suspend": st.booleans()}),
    },
    optional={"status": _status},
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=_objects)
def test_python_mirrors_lua_on_any_object(obj: dict[str, Any]) -> None:
    assert health(obj) == LUA_CHECKS[obj["kind"]](obj)
