"""`modelops serve` under cProfile, for `cpu.py --profile`: PREFIX-loop.prof (the event loop's
thread: HTTP, ASGI, codec, metrics) and PREFIX-predict.prof (the predicting thread: predict,
drift counting, metrics of batches; a lone request to a direct linear predictor is predicted
in the loop's thread, see serving/batching.py). cProfile follows one thread, so each gets its own, timed
by that thread's CPU clock (not wall time, which would count waiting for the GIL, the network
and other processes).

    .venv/bin/python benchmarks/serving/profiled_serve.py PREFIX --model-dir DIR ...   (serve's options)
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import time
from typing import Any

from modelops.serving import batching
from modelops.serving import cli as serve_cli


def main() -> int:
    prefix, argv = sys.argv[1], sys.argv[2:]
    run_worker = batching.Batcher._run

    def profiled_run(self: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        try:
            run_worker(self)
        finally:
            profile.disable()
            profile.dump_stats(f"{prefix}-predict.prof")

    batching.Batcher._run = profiled_run  # type: ignore[method-assign]
    parser = argparse.ArgumentParser()
    serve_cli.register(parser)
    args = parser.parse_args(argv)
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        return serve_cli.run(args)
    finally:
        profile.disable()
        profile.dump_stats(f"{prefix}-loop.prof")


if __name__ == "__main__":
    sys.exit(main())
