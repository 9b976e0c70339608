"""`modelops sandbox demo` (what `make demo` runs): the whole loop on one machine.

1. Generates a churn dataset (nothing downloaded), trains and packages v1 with the built-in
   trainer, and writes v1's validation holdout and the retraining dataset as files (file://).
2. Starts the sandbox and applies ``manifests/examples/`` (URIs pointed at those files, times
   compressed): v1 is verified, validated (metric and fairness) and served by the ModelDeployment.
3. Sends requests through the Service's ClusterIP with delayed feedback labels, then shifts the
   `tenure` distribution: the DriftPolicy's scores rise, DriftDetected, a retraining Job runs,
   the gate passes, v2 appears with lineage, is validated, and `promotion: Auto` rolls it out as
   a canary whose steps, analysis figures and live share of answers per version are shown.
4. Ends with a summary table and ``modelops history``. Exits 0 only when v2 is stable and every
   step happened; otherwise 1, naming the missing steps, with the pods' and operator's logs.
"""

from modelops.sandbox.demo.run import run_demo

__all__ = ["run_demo"]
