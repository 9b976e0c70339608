"""The kopf operator: handlers register here; decisions live in pure modules beside them.

Layers, from the outside in::

    cli.py, runner.py          flags -> Options; registry, settings, login, workers, probes, metrics
    */handlers.py              kopf registrations: every event only enqueues a key
    controller.py, workqueue   workers: one key at a time each, per-key backoff, resync
    */sync.py, writing.py      read the object and what it depends on; carry out the plan
    */reconcile.py, children,  pure decisions: (object, observed) -> Plan (children, status, Events)
    observed.py, plans.py
    kube.py, events.py         the thin API client and the Event objects

The pure modules import neither kopf nor the client (a test checks), so every decision is
tested without a server.
"""
