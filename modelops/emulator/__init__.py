"""An in-memory Kubernetes API server for tests and the sandbox.

`server.Emulator` serves it over HTTP; `cluster.Cluster` holds the API semantics;
`testing.running_emulator` runs it in a background thread for tests.
"""

from modelops.emulator.cluster import Cluster
from modelops.emulator.server import Emulator

__all__ = ["Cluster", "Emulator"]
