"""kopf's settings for an operator whose handlers only enqueue keys."""

from __future__ import annotations

import kopf

from modelops.operator.options import Options
from modelops.operator.runner import build
from modelops.operator.settings import EventsOnlyDiffBase


def test_no_handler_needs_a_diff_so_none_is_built_per_event() -> None:
    # The diff base is not built (a deep copy per watch event): only sound while no handler
    # detects changes. Registering on.create/update/field handlers needs the real storage back.
    registry, settings, _controller = build(Options())
    assert isinstance(settings.persistence.diffbase_storage, EventsOnlyDiffBase)
    assert not list(registry._changing.get_all_handlers())
    assert not list(registry._spawning.get_all_handlers())  # daemons and timers reset on diffs too
    body = kopf.Body({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"big": list(range(9))}})
    assert settings.persistence.diffbase_storage.build(body=body) == {}
