"""A webhook receiver for `benchmarks/webhooks.py`, in a child process of its own.

`python -m benchmarks.hook_receiver --delay-s 0` prints `receiver listening on URL`; every
POST is answered 204 after `--delay-s` (a slow receiver: longer than the worker's
NOTIFY_WEBHOOK_TIMEOUT, so every try runs into its deadline).
"""

from __future__ import annotations

import argparse
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-s", type=float, default=0.0)
    delay_s = parser.parse_args().delay_s

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if delay_s:
                time.sleep(delay_s)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"receiver listening on http://127.0.0.1:{server.server_port}/hooks", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
