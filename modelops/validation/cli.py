"""`modelops validate`: validate a model artifact against a ModelVersion's spec.validation.

Runs inside the validation Job (same image, no Kubernetes API rights). Progress goes to
stderr; the result JSON (``modelops.validation.outcome``) to stdout and, at most 4096
bytes, to ``--termination-log``, where Kubernetes hands it to the operator as the
container's termination message; the full report to ``--report-uri`` (default:
``<artifact>.validation.json`` beside the artifact) when that location is writable.

Exit status, chosen so a Job's own retry (backoffLimit) does the right thing:

- 0: a final outcome: ValidationPassed, ValidationFailed, or a ValidationError that a
  rerun would only repeat (target or sensitive feature missing, groups too small, a spec
  the model cannot satisfy). The verdict is data: read it from the termination message.
- 1: a ValidationError a rerun may cure (``"retryable": true``: the holdout or an artifact
  was unreachable or timed out), so the Job retries; when it gives up, the last pod's
  termination message still says why.
- 2: bad usage (arguments the operator should never build).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelops.api.modelversion import Validation

DEFAULT_TERMINATION_LOG = Path("/dev/termination-log")


def register(parser: argparse.ArgumentParser) -> None:
    art = parser.add_argument_group("artifact")
    art.add_argument("--artifact-uri", required=True, help="the artifact directory: path, file://, http(s)://, s3://")
    art.add_argument("--sha256", required=True, help="the artifact's digest (sha256 of manifest.json)")
    art.add_argument("--trusted", action="store_true", help="the artifact may be a joblib pickle")
    art.add_argument("--allow-version-skew", action="store_true",
                     help="load artifacts built with another scikit-learn major.minor")
    spec = parser.add_mutually_exclusive_group(required=True)
    spec.add_argument("--spec", help="spec.validation as JSON (camelCase, as in the ModelVersion)")
    spec.add_argument("--spec-file", type=Path, help="a file holding spec.validation as JSON")
    champ = parser.add_argument_group("champion (for championComparison)")
    champ.add_argument("--champion-uri", help="the stable version's artifact uri")
    champ.add_argument("--champion-sha256", help="the stable version's artifact digest")
    champ.add_argument("--champion-trusted", action="store_true", help="the champion may be a joblib pickle")
    out = parser.add_argument_group("output")
    out.add_argument("--termination-log", type=Path, default=DEFAULT_TERMINATION_LOG,
                     help=f"where the result JSON goes, at most 4096 bytes (default {DEFAULT_TERMINATION_LOG})")
    out.add_argument("--report-uri", help="where the full report goes (default: <artifact-uri>.validation.json)")
    out.add_argument("--no-report", action="store_true", help="do not write the full report")
    out.add_argument("--holdout-deadline", type=float, help="seconds a remote holdout read may take (default 600)")


def run(args: argparse.Namespace) -> int:
    from modelops.validation.errors import CannotValidateError
    from modelops.validation.outcome import Outcome, encode_report
    from modelops.validation.output import default_report_uri, write_report, write_termination_log
    from modelops.validation.run import ArtifactSource, Request, validate

    def say(line: str) -> None:
        print(f"modelops validate: {line}", file=sys.stderr, flush=True)

    if (args.champion_uri is None) != (args.champion_sha256 is None):
        say("error: --champion-uri and --champion-sha256 go together")
        return 2
    try:
        request = Request(
            artifact=ArtifactSource(args.artifact_uri, args.sha256, args.trusted, args.allow_version_skew),
            spec=_spec(args),
            champion=(
                ArtifactSource(args.champion_uri, args.champion_sha256, args.champion_trusted,
                               args.allow_version_skew)
                if args.champion_uri else None
            ),
            holdout_deadline_s=args.holdout_deadline,
        )
        outcome = validate(request, say)
    except CannotValidateError as exc:
        outcome = Outcome.error(exc)
    report_uri = None if args.no_report else (args.report_uri or default_report_uri(args.artifact_uri))
    if report_uri is not None:
        why_not = write_report(report_uri, encode_report(outcome.report(report_uri)))
        if why_not is None:
            say(f"report written to {report_uri}")
        else:
            say(f"report not written (not an error): {why_not}")
            report_uri = None
    message = outcome.termination_message(report_uri)
    print(message.decode())
    why_not = write_termination_log(args.termination_log, message)
    if why_not is not None:
        say(f"termination log not written: {why_not}")
    say(f"{outcome.reason}: {outcome.message}")
    return 1 if outcome.retryable else 0


def _spec(args: argparse.Namespace) -> Validation:
    """spec.validation parsed by the ModelVersion's own model: InvalidSpec naming each problem."""
    import pydantic

    from modelops.api.modelversion import Validation
    from modelops.validation.errors import CannotValidateError

    if args.spec_file is not None:
        try:
            text = args.spec_file.read_text()
        except OSError as exc:
            raise CannotValidateError("InvalidSpec", f"--spec-file {args.spec_file}: {exc.strerror or exc}") from None
    else:
        text = args.spec
    try:
        return Validation.model_validate_json(text)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise CannotValidateError("InvalidSpec", f"spec.validation is invalid: {problems}") from None
