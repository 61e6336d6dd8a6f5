"""A loopback HTTP server speaking AWS's JSON 1.1 protocol (POST /, `X-Amz-Target`
names the operation, JSON body in and out): the base of the local fakes for the AWS
APIs moto does not serve the way a test needs (the Price List API, a throttling Cost
Explorer)."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any


class Json11Server:
    """Subclasses answer `(target, body) -> (status, reply)`; `url` is the endpoint."""

    def __init__(self) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw) if raw else {}
                status, reply = outer.answer(self.headers.get("X-Amz-Target", ""), body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
