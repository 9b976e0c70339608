"""Rollout analysis: per-version samples of the serving pods, verdicts and A/B statistics.

Layers (pure first; only the sources do I/O):

- ``histograms``: cumulative latency buckets and the p99 (Prometheus' histogram_quantile).
- ``samples``: what one version did over an interval, and the interval as a difference of
  two cumulative scrapes (counter resets handled).
- ``exposition``: the serving pods' ``/metrics`` text → cumulative series per pod.
- ``criteria``: the thresholds of ``spec.strategy.analysis`` (and shadow) as one value.
- ``verdicts``: stable vs candidate samples → Pass / Fail / Inconclusive per metric, the
  aggregate decision and the failureLimit rule.
- ``abtest``: the two-proportion z-test of an A/B test.
- ``sources`` (the interface), ``pods`` (scrape the replicas), ``prometheus`` (PromQL).
"""
