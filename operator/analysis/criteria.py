"""The thresholds one analysis applies, read once from the ModelDeployment spec."""

from __future__ import annotations

from dataclasses import dataclass

from modelops.api.modeldeployment import Shadow, Strategy

# Shadow agreement (spec.strategy.analysis.minAgreement): the share of compared rows on which
# the candidate must predict what stable predicted. 0.9 tolerates a model that changes a tenth
# of its answers, which a retrained model does; a broken one (wrong feature order, wrong
# classes) agrees far less. The spec's default is this one (a test ties them).
DEFAULT_MIN_AGREEMENT = 0.9


@dataclass(frozen=True)
class Thresholds:
    min_samples: int = 200
    max_error_rate: float = 1.0  # percent of 5xx
    max_latency_ratio: float = 1.5  # candidate p99 / stable p99
    max_accuracy_drop: float = 0.02  # stable accuracy - candidate accuracy
    max_prediction_psi: float = 0.2
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    shadow_min_samples: int = 1000  # compared rows before agreement counts
    latency_quantile: float = 0.99
    # With no feedback label for either version in the interval, accuracy is left out of
    # the analysis (a deployment whose users never send labels can still roll out) unless
    # this is set; a label for one version only makes it Inconclusive, never a pass.
    require_accuracy: bool = False

    @classmethod
    def from_spec(cls, strategy: Strategy) -> Thresholds:
        a = strategy.analysis
        # spec.strategy.shadow left out is the Shadow strategy's defaults, as the strategy reads it
        shadow_min = (strategy.shadow or Shadow()).min_samples
        return cls(
            min_samples=a.min_samples,
            max_error_rate=a.max_error_rate,
            max_latency_ratio=a.max_latency_ratio,
            max_accuracy_drop=a.max_accuracy_drop,
            max_prediction_psi=a.max_prediction_psi,
            min_agreement=a.min_agreement,
            shadow_min_samples=shadow_min,
        )
