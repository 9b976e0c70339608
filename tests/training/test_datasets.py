"""Reading datasets: CSV and Parquet from paths, file:// and http:// on 127.0.0.1, with the
digest of the bytes read, a size cap and a total deadline (s3:// is in test_s3.py)."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from modelops.datasets import DatasetError, dataset_format, read_dataset

FRAME = pd.DataFrame({"x": [1.5, 2.5, None], "plan": ["a", "b", "a"], "y": [0, 1, 0]})


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    FRAME.to_csv(path, index=False)
    return path


def test_a_csv_by_path_and_by_file_uri_with_the_digest_of_its_bytes(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for uri in (str(path), path.as_uri()):
        dataset = read_dataset(uri)
        pd.testing.assert_frame_equal(dataset.frame, FRAME)
        assert dataset.sha256 == digest
        assert dataset.size_bytes == path.stat().st_size
        assert dataset.format == "csv"


def test_parquet_and_gzipped_csv(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "data.parquet", index=False)
    pd.testing.assert_frame_equal(read_dataset(str(tmp_path / "data.parquet")).frame, FRAME)
    (tmp_path / "data.csv.gz").write_bytes(gzip.compress(FRAME.to_csv(index=False).encode()))
    pd.testing.assert_frame_equal(read_dataset(str(tmp_path / "data.csv.gz")).frame, FRAME)
    (tmp_path / "data.bin").write_bytes(FRAME.to_csv(index=False).encode())
    pd.testing.assert_frame_equal(read_dataset(str(tmp_path / "data.bin"), format="csv").frame, FRAME)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("data.json", b"{}", "UnsupportedDataset"),
        ("absent.csv", None, "DatasetNotFound"),
        ("broken.parquet", b"not parquet at all", "InvalidDataset"),
        ("empty.csv", b"", "InvalidDataset"),
    ],
)
def test_what_cannot_be_read_is_named(tmp_path: Path, name: str, content: bytes | None, reason: str) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DatasetError) as info:
        read_dataset(str(tmp_path / name))
    assert info.value.reason == reason
    assert name in str(info.value)


def test_a_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    with pytest.raises(DatasetError, match="more than the 10 allowed") as info:
        read_dataset(str(path), max_bytes=10)
    assert info.value.reason == "DatasetTooLarge"


def test_format_from_the_name() -> None:
    assert dataset_format("s3://b/k/data.PARQUET") == "parquet"
    assert dataset_format("https://h/x.csv.gz?sig=1") == "csv"


class _Handler(BaseHTTPRequestHandler):
    body = FRAME.to_csv(index=False).encode()
    stop = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/data.csv":
            self._send(self.body, length=True)
        elif self.path == "/unsized.csv":
            self._send(self.body * 50, length=False)
        elif self.path == "/slow.csv":
            self.send_response(200)
            self.end_headers()
            # One byte at a time, bounded, until the client or the test gives up.
            for _ in range(200):
                if self.stop.is_set():
                    return
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
        else:
            self.send_error(404)

    def _send(self, data: bytes, *, length: bool) -> None:
        self.send_response(200)
        if length:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.stop.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _Handler.stop.set()
        server.shutdown()
        server.server_close()


def test_http_reads_refuses_and_gives_up_by_name(http_base: str) -> None:
    dataset = read_dataset(f"{http_base}/data.csv")
    pd.testing.assert_frame_equal(dataset.frame, FRAME)
    assert dataset.sha256 == hashlib.sha256(_Handler.body).hexdigest()

    with pytest.raises(DatasetError) as missing:
        read_dataset(f"{http_base}/absent.csv")
    assert (missing.value.reason, "HTTP 404" in str(missing.value)) == ("DatasetNotFound", True)

    with pytest.raises(DatasetError, match="more than the 20 allowed"):  # told by Content-Length
        read_dataset(f"{http_base}/data.csv", max_bytes=20)
    with pytest.raises(DatasetError, match="larger than the 100 bytes allowed") as unsized:  # counted
        read_dataset(f"{http_base}/unsized.csv", max_bytes=100)
    assert unsized.value.reason == "DatasetTooLarge"

    with pytest.raises(DatasetError, match=r"did not finish within 0\.3s") as slow:
        read_dataset(f"{http_base}/slow.csv", deadline_s=0.3)
    assert slow.value.reason == "DatasetTimeout"
