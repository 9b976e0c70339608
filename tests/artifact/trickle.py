"""A slow artifact server on 127.0.0.1: it answers every GET, then sends one byte every
``interval`` seconds (of the body, or from the status line on), never finishing on its own."""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Trickle:
    url: str
    requests: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def serve_trickle(interval: float = 0.5, *, headers_too: bool = False) -> Iterator[Trickle]:
    trickle = Trickle(url="")

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request_line = self.rfile.readline(65536).decode("latin-1").strip()
            while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                pass
            trickle.requests.append(request_line)
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nContent-Type: application/json\r\n\r\n"
            body = b"{" + b" " * 999_999
            if headers_too:
                payload, prefix = head + body, b""
            else:
                payload, prefix = body, head
            try:
                if prefix:
                    self.wfile.write(prefix)
                    self.wfile.flush()
                for byte in payload:
                    if trickle.stop.wait(interval):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:
                return  # the client gave up: what a deadline does

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    trickle.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield trickle
    finally:
        trickle.stop.set()
        server.shutdown()
        server.server_close()
        thread.join()
