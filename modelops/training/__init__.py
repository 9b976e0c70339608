"""The built-in trainer (`modelops train`), run by a DriftPolicy's retraining Job.

    train.py      the pipeline: dataset -> split -> fit -> gate -> artifact -> result
    estimators.py the allow-list of estimators and the check of their params
    champion.py   the stable version's artifact, loaded through verified loading
    gate.py       the champion/challenger decision (pure)
    output.py     publishing the artifact to <output-uri>/<name>/ through fsspec
    result.py     the result JSON, at most 4096 bytes (the termination message)
    cli.py        the subcommand
    invocation.py the subcommand's args as the operator writes them into a Job
"""
