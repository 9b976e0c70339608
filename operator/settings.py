"""kopf settings for modelops.

- Handler progress and the diff base live in annotations under ``modelops.dev``, never in
  ``status``: the CRDs' structural status schema would prune kopf's ``status.kopf``.
- kopf posts Events only for warnings and errors it logs itself; our decisions post their
  own Events with their figures.
- Watches are bounded by a server-side timeout and a slightly longer client-side timeout,
  so a stream that dies silently is noticed and re-opened quickly.
- Standalone: no kopf peering. Replicas take turns by leader election on a Lease instead
  (leadership.py): kopf's peering pauses handlers, but not our workers or their writes.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelops.operator.modeldeployment.children import MANAGED_BY_LABEL, MANAGER
from modelops.operator.options import Options

PREFIX = "modelops.dev"


class EventsOnlyDiffBase(kopf.AnnotationsDiffBaseStorage):
    """The diff base of an operator with no change-detecting handlers (no on.create/update/field).

    kopf builds every event's "essence" (a deep copy of the body) to diff it against the last
    handled one, whether or not a handler wants the diff; with event handlers only, nothing
    reads it, and that copy was half of kopf's cost per watch event (benchmarks/operator, 9
    events per ModelDeployment converging). tests/operator/test_settings checks that the
    operator registers no handler that would need it.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()


def configure(settings: kopf.OperatorSettings, options: Options) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = EventsOnlyDiffBase(prefix=PREFIX, key="last-handled-configuration")
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = int(max(options.watch_server_timeout_s, 1))
    settings.watching.client_timeout = int(max(options.watch_server_timeout_s, 1)) + 10
    settings.watching.connect_timeout = int(max(options.request_timeout_s, 1))
    settings.watching.reconnect_backoff = options.watch_reconnect_backoff_s
    settings.networking.request_timeout = options.request_timeout_s
    settings.networking.connect_timeout = min(options.request_timeout_s, 10.0)
    settings.peering.standalone = True
    settings.peering.mandatory = False
    # Our handlers only enqueue keys; errors there are bugs, retried soon rather than in 60 s.
    settings.execution.max_workers = 4
    settings.batching.error_delays = (1, 2, 5, 10, 30, 60)
    # Only our children are watched at all: the API server filters Deployments and Services.
    managed = f"{MANAGED_BY_LABEL}={MANAGER}"
    settings.watching.label_selectors[_is_deployments] = managed
    settings.watching.label_selectors[_is_services] = managed


def _is_deployments(resource: kopf.Resource) -> bool:
    return bool(resource.group == "apps" and resource.plural == "deployments")


def _is_services(resource: kopf.Resource) -> bool:
    return bool(resource.group == "" and resource.plural == "services")
