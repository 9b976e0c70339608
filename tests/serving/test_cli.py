"""`modelops serve` options: durations, and invalid settings refused before serving."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from modelops.cli import build_parser, main
from modelops.serving.cli import advertise_address
from modelops.serving.metrics import ServingMetrics


def test_serve_options_parse_with_their_defaults(tmp_path: Path) -> None:
    args = build_parser(only="serve").parse_args(["serve", "--model-dir", str(tmp_path), "--drift-window", "2h"])
    assert args.drift_window == 7200
    assert args.port == 8080
    assert args.host == "0.0.0.0"
    assert args.max_batch_size == 32
    assert args.max_batch_latency_ms == 2.0
    assert args.max_concurrency == 256
    assert args.drift_bucket_seconds == 60
    assert args.trusted is False


def test_a_malformed_window_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--model-dir", str(tmp_path), "--drift-window", "soon"])
    assert exit_.value.code == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err


@pytest.mark.parametrize("window", ["99999999999999h", "9" * 400 + "h"])
def test_a_window_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], window: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--model-dir", str(tmp_path), "--drift-window", window])
    assert exit_.value.code == 2
    assert "--drift-window" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "word"),
    [
        ("--max-batch-size", "0", "max_batch_size"),
        ("--max-batch-latency-ms", "-1", "max_batch_latency_ms"),
        ("--drift-bucket-seconds", "7200", "drift window"),
        ("--feedback-max-bytes", "0", "feedback_max_bytes"),
        ("--max-inflight-body-bytes", "1000", "max_inflight_body_bytes"),
    ],
)
def test_invalid_settings_exit_2_before_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, option: str, value: str, word: str
) -> None:
    assert main(["serve", "--model-dir", str(tmp_path), "--port", "0", option, value]) == 2
    assert any(word in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("options", "word"),
    [
        (["--shadow-percent", "10"], "need --shadow-url"),
        (["--shadow-url", "http://127.0.0.1:9/"], "shadow_percent"),
        (["--shadow-url", "http://127.0.0.1:9/", "--shadow-percent", "10"], "shadow_version"),
        (["--shadow-url", "http://127.0.0.1:9/", "--shadow-percent", "120", "--shadow-version", "v2"], "(0, 100]"),
        (["--shadow-url", "127.0.0.1:9", "--shadow-percent", "10", "--shadow-version", "v2"], "http://"),
        (["--shadow-url", "http://c:8080", "--shadow-percent", "5", "--shadow-version", "v2", "--shadow-queue", "0"],
         "shadow_queue"),
    ],
)  # fmt: skip
def test_shadow_options_are_checked_before_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, options: list[str], word: str
) -> None:
    assert main(["serve", "--model-dir", str(tmp_path), "--port", "0", *options]) == 2
    assert any(word in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("host", "pod_ip", "expected"),
    [
        ("0.0.0.0", "10.1.2.3", "10.1.2.3:8080"),
        ("127.0.0.7", None, "127.0.0.7:8080"),
        ("0.0.0.0", "fd00::5", "[fd00::5]:8080"),
    ],
)
def test_the_advertised_address_prefers_the_pod_ip(host: str, pod_ip: str | None, expected: str) -> None:
    assert advertise_address(host, 8080, pod_ip) == expected


def _created_series_on() -> bool:
    """Whether metrics made now get prometheus-client's ``*_created`` series."""
    metrics = ServingMetrics("m", "v")
    metrics.request(200, 0.01)
    return b"_created" in metrics.exposition()


def test_refused_options_leave_the_created_series_of_the_process_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The switch is process-wide: a serve refused at its options must not leave it off for
    whatever runs next in the process (the operator's analysis tests read those series)."""
    assert _created_series_on()
    assert main(["serve", "--model-dir", str(tmp_path), "--port", "0", "--max-batch-size", "0"]) == 2
    assert _created_series_on()


def test_created_series_are_off_only_while_serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: list[bool] = []

    def serve(_server: Any, sockets: list[Any] | None = None) -> None:
        seen.append(_created_series_on())  # the metrics are made in here, once the model is loaded
        for sock in sockets or []:
            sock.close()

    monkeypatch.setattr(uvicorn.Server, "run", serve)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert main(["serve", "--model-dir", str(tmp_path), "--host", "127.0.0.1", "--port", "0"]) == 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert seen == [False]
    assert _created_series_on()
