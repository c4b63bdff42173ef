"""A recording HTTP proxy for the tests: run as its own process on 127.0.0.1, it writes every
request head it receives (the request line and headers, as sent) to a JSON-lines file, answers
``502 Bad Gateway`` and closes. It never connects anywhere, so nothing leaves the machine.

Usage: ``python recording_proxy.py LOG_FILE``; prints ``listening on PORT`` once it accepts.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
from pathlib import Path

HEAD_LIMIT = 65_536
REFUSAL = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Recorder(socketserver.BaseRequestHandler):
    """Reads one request head, records it, refuses it."""

    server: RecordingServer

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                head += chunk
        except OSError:
            pass
        if head:
            self.server.record(head)
        with contextlib.suppress(OSError):
            connection.sendall(REFUSAL)


class RecordingServer(socketserver.ThreadingTCPServer):
    """A threaded TCP server appending each request head to ``log``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, log: Path) -> None:
        super().__init__(("127.0.0.1", 0), Recorder)
        self.log = log
        self._lock = threading.Lock()

    def record(self, head: bytes) -> None:
        line = json.dumps({"head": head.decode("latin-1")}) + "\n"
        with self._lock, self.log.open("a", encoding="utf-8") as out:
            out.write(line)


def main() -> None:
    log = Path(sys.argv[1])
    log.touch()
    with RecordingServer(log) as server:
        print(f"listening on {server.server_address[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
