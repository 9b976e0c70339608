"""The operator's memory: what it imports to verify an artifact.

Checking a ModelVersion's artifact reads manifest.json and metadata.json; it never loads the
model. Importing scikit-learn there (for its version) pulled scipy, pandas and pyarrow into the
operator: 70 MiB of its 314 MiB at 3,000 ModelDeployments (benchmarks/operator).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .harness import make_artifact

PROBE = """
import json, sys
from modelops.operator.modelversion.reconcile import Verify
from modelops.operator.modelversion.verify import inspect
outcome = inspect(Verify(sys.argv[1], sys.argv[2], False))
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "pandas", "pyarrow", "skops"})
print(json.dumps({"verified": outcome.verified, "reason": outcome.reason, "heavy": heavy}))
"""


def test_verifying_an_artifact_imports_neither_scikit_learn_nor_pandas(tmp_path: Path) -> None:
    uri, sha = make_artifact(tmp_path / "artifact", seed=1)
    probe = subprocess.run([sys.executable, "-c", PROBE, uri, sha], capture_output=True, text=True, timeout=120,
                           check=True)
    answer = json.loads(probe.stdout.strip().splitlines()[-1])
    assert answer == {"verified": True, "reason": None, "heavy": []}
