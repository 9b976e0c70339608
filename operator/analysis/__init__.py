"""Rollout analysis: per-version samples of the serving pods, verdicts and A/B statistics.

Layers (pure first; only ``pods``, ``prometheus`` and ``factory`` do or build I/O, which
``tests/operator/analysis/test_purity.py`` checks):

- ``names``: the metric names and labels read from the serving pods (the contract,
  including the shadow series serving does not export yet).
- ``histograms``: cumulative latency buckets and the p99 (Prometheus' histogram_quantile).
- ``samples``: what one version did over an interval, and the interval as a difference of
  two cumulative scrapes (counter resets handled).
- ``exposition``: the serving pods' ``/metrics`` text → cumulative series per pod.
- ``criteria``: the thresholds of ``spec.strategy.analysis`` (and shadow) as one value.
- ``verdicts``: stable vs candidate samples → Pass / Fail / Inconclusive per metric, the
  aggregate decision and the failureLimit rule.
- ``abtest``: the two-proportion z-test of an A/B test.
- ``sources`` (the interface, ``pod_targets``), ``pods`` (scrape the replicas),
  ``prometheus`` (PromQL), ``factory.source_for`` (the one a spec names).

A strategy's analysis step, in short::

    source = factory.source_for(spec, pods_source)           # pods_source: one per operator
    query = sources.Query(ns, name, spec.model, stable, candidate, interval, pod_targets(pods))
    observation = await source.observe(query)
    run = verdicts.evaluate_observation(observation, stable, candidate,
                                        criteria.Thresholds.from_spec(spec.strategy), now)
    status.analysis = run.to_status(); event message = run.describe(); run.decision
"""
