"""The CRDs in crds/ are generated from the models and are structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.api.crdgen import SchemaError, render_all, structural
from modelops.api.resources import KINDS
from modelops.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crds_match_the_models() -> None:
    for name, text in render_all().items():
        committed = ROOT / "crds" / name
        assert committed.exists(), f"{committed} is missing: run `make crds`"
        assert committed.read_text() == text, f"{committed} is stale: run `make crds`"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    assert main(["crds", "--out", str(tmp_path)]) == 0
    assert main(["crds", "--out", str(tmp_path), "--check"]) == 0
    victim = next(tmp_path.glob("*.yaml"))
    victim.write_text(victim.read_text() + "# hand edit\n")
    assert main(["crds", "--out", str(tmp_path), "--check"]) == 1


def _walk(node: dict[str, Any], path: str) -> list[str]:
    problems = []
    for banned in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "default", "const"):
        if banned in node:
            problems.append(f"{path}: {banned}")
    if "type" not in node and not node.get("x-kubernetes-int-or-string"):
        problems.append(f"{path}: untyped")
    for key, sub in node.get("properties", {}).items():
        problems += _walk(sub, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        problems += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += _walk(node["additionalProperties"], f"{path}.*")
    return problems


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: Any) -> None:
    crd = yaml.safe_load(render_all()[f"modelops.dev_{kind.plural}.yaml"])
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    assert _walk(schema, kind.kind) == []
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["shortNames"] == list(kind.short_names)


def test_printer_columns_are_the_documented_ones() -> None:
    columns = {
        k.kind: [c.name.upper() for c in k.columns] for k in KINDS
    }
    assert columns == {
        "ModelVersion": ["MODEL", "FORMAT", "READY", "AGE"],
        "ModelDeployment": ["STABLE", "CANDIDATE", "WEIGHT", "PHASE", "READY", "AGE"],
        "DriftPolicy": ["TARGET", "DRIFT", "LAST-EVALUATED", "AGE"],
    }


def test_model_version_spec_is_immutable() -> None:
    crd = yaml.safe_load(render_all()["modelops.dev_modelversions.yaml"])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"


def test_embedded_objects_preserve_unknown_fields_only_there() -> None:
    text = render_all()["modelops.dev_driftpolicies.yaml"]
    assert text.count("x-kubernetes-preserve-unknown-fields") == 2  # params, jobTemplate
    for name, other in render_all().items():
        if name != "modelops.dev_driftpolicies.yaml":
            assert "preserve-unknown-fields" not in other


def test_unions_without_structural_form_are_refused() -> None:
    union = {"anyOf": [{"type": "integer"}, {"type": "boolean"}]}
    with pytest.raises(SchemaError, match="union"):
        structural({"type": "object", "properties": {"x": union}})


def test_exclusive_bounds_use_the_openapi_v3_0_boolean_form() -> None:
    node = structural({"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 1.0})
    assert node == {"type": "number", "minimum": 0.5, "exclusiveMinimum": True,
                    "maximum": 1.0, "exclusiveMaximum": True}
