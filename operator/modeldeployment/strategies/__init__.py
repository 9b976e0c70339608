"""One pure module per rollout strategy: given a rollout in flight, the next step.

``reconcile.plan`` decides *what* to roll out (the target version, what blocks it) and
builds children and status; while a candidate is in flight it asks the strategy of
``spec.strategy.type`` for a ``Decision`` (``step.Inputs`` in, ``step.Decision`` out), so
each strategy is a function of (spec, status, observed children, analysis run, now).

The state machine (``status.phase``; the Progressing condition's reason in brackets):

| from           | event                                                   | to                       |
|----------------|---------------------------------------------------------|--------------------------|
| (none)         | first version, no stable yet                            | Progressing (RollingOut) |
| Stable         | spec.version (or promotion Auto) names another version  | Progressing (RollingOut) |
| Progressing    | Canary: step's analysis Pass and pause elapsed          | Progressing, next step   |
| Progressing    | last step passed (or a ``promote`` action), all         | Stable (Stable), old     |
|                | candidate replicas available                            | version retiring         |
| Progressing    | ``failureLimit`` failed analyses                        | RolledBack (AnalysisFailed) |
| Progressing    | candidate pods not available by progressDeadline        | RolledBack (ProgressDeadlineExceeded) |
| Progressing    | ``abort`` action                                        | RolledBack (Aborted)     |
| Progressing    | ABTest: candidate wins the z-test                       | Progressing, promoting   |
| Progressing    | ABTest: stable wins / no significant difference         | Stable (StableWins /     |
|                |                                                         | NoDifference), candidate removed |
| Progressing    | Shadow (step 0): analysis Pass, ``then: Promote``       | Stable (Stable), old     |
|                |                                                         | version retiring         |
| Progressing    | Shadow (step 0): analysis Pass, ``then: Canary``        | Progressing, step 1 (the |
|                |                                                         | first canary step), the  |
|                |                                                         | stable stops mirroring   |
| Progressing    | no passing analysis by progressDeadline (Inconclusive)  | Paused (InsufficientData)|
| Paused         | ``promote`` / ``abort`` action                          | Stable / RolledBack      |
| Progressing    | ``spec.paused: true``                                   | Paused (Paused)          |
| Paused         | ``spec.paused: false``                                  | Progressing, same step   |
| RolledBack     | spec, version or ``retry`` action changes               | Progressing (RollingOut) |

A first version (no stable) has nothing to compare with and rolls out as Recreate does,
whatever the strategy; it ends in Failed instead of RolledBack.

``status.step`` per strategy: Canary, the step index (``len(steps)``: scaling up to promote);
ABTest, 0 testing and 1 promoting; Shadow, 0 shadowing, then with ``then: Promote`` 1
promoting, with ``then: Canary`` 1..n the canary's steps and n+1 its promotion. Under Shadow
``status.weight`` stays 0 until the canary: users only ever get the stable's answers (the
candidate's pods are not selected by Service D), while the stable mirrors
``shadow.mirrorPercent`` of its requests to the candidate (``Decision.mirror_percent``).
A rollback from any of them also removes the mirror.

Status holds all of it (``candidate``, ``step``, ``stepStartedAt``, ``stepVerdict``,
``failedAnalyses``, ``lastAnalysisAt``, ``retiring``, ``abTest``), so a restarted operator
resumes the same step with the same weight and never re-runs an analysis it recorded.

Modules: ``step`` (inputs and decision), ``recreate``, ``canary``, ``abtest``, ``shadow``
(which hands over to ``canary`` after a passing shadow with ``then: Canary``).
"""
