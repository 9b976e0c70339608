"""``modelops history MODEL``: the audit chain of a model, from the cluster alone.

Modules, one job each: ``chain`` (pure: ModelVersions, ModelDeployments and Events in, the
chain out, with what the cluster has forgotten said in words), ``read`` (the three lists,
from the API server), ``render`` (table, JSON, YAML) and ``cli``.
"""

from __future__ import annotations

from modelops.history.chain import History, chain

__all__ = ["History", "chain"]
