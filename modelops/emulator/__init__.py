"""An in-memory Kubernetes API server for tests and the sandbox.

`server.Emulator` serves it over HTTP; `cluster.Cluster` holds the API semantics (on
`store.Store`); `testing.running_emulator` runs it in a background thread for tests;
`modelops emulator` (cli.py) serves it until SIGINT/SIGTERM.

Why not kmock's KubernetesEmulator: kmock writes every create/patch/delete to its store
in `_handle()` before any handler runs, with plain dict merging, so refusing a request
(422 validation, 409 stale resourceVersion, status-subresource rules, patch types by
Content-Type) means replacing `_handle()` and all six of its fallbacks; its objects have
no resourceVersion/uid, are keyed per CRD version, and its responses are 200 and
`application/octet-stream` streams. What would remain of it — the reaction DSL and request
log — is what `faults.py` and `Emulator.requests` give in a few dozen lines.
"""

from modelops.emulator.cluster import Cluster
from modelops.emulator.server import Emulator

__all__ = ["Cluster", "Emulator"]
