"""Real receivers on the loopback interface for the transport tests: an SMTP server (aiosmtpd) and a webhook
receiver (http.server), each keeping what it got; and a port where nothing listens."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    """An SMTP server on 127.0.0.1: its port and its mailbox."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


class Hooks:
    """What the webhook receiver got: each POST's path, headers and JSON body."""

    def __init__(self, delay_s: float = 0.0, status: int = 200) -> None:
        self.received: list[dict[str, Any]] = []
        self.delay_s = delay_s
        self.status = status


@contextmanager
def webhook_receiver(hooks: Hooks) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that records each POST (after ``hooks.delay_s``) and answers ``hooks.status``;
    yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(hooks.delay_s)
            hooks.received.append({"path": self.path, "key": self.headers["Idempotency-Key"], "body": body})
            self.send_response(hooks.status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads ``hooks.received``."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
