"""The HTTP server every fake runs on: loopback, one thread per connection, and a clean stop.

Handler threads are not daemons and are joined on close, so a test ends with no thread left; idle
keep-alive connections are shut down first so those threads wake up and can be joined.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, fake: Any, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up (timeouts, TLS rejections, shutdown) are expected in these tests;
        # bugs in a fake's routes are caught by the fake itself and recorded in its server_errors.
        return

    def drop_open_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so they can be joined."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the SSL object under
            # the feet of the thread that is reading from it.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(connection, socket.SHUT_RDWR)


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive (as requests' sessions expect), quiet, and every method handed to the fake's
    ``_handle(handler, method)``."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without TCP_NODELAY the client's delayed ACK
        # adds ~40 ms to every answer.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_PATCH(self) -> None:
        self.server.fake._handle(self, "PATCH")

    def do_PUT(self) -> None:
        self.server.fake._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._handle(self, "DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        return


def send_answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
                headers: Mapping[str, str] | None = None) -> None:
    """Write one complete answer; a client that gave up meanwhile (read timeout) is no error."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True


class LoopbackFake:
    """The lifecycle every fake shares: serve in a thread, hand out sessions, stop with nothing left.

    A fake sets ``_stop`` (an Event its artificial delays wait on) and calls ``_lifecycle_init``
    in its constructor, then ``_serve`` in its ``start``.
    """

    _stop: threading.Event

    def _lifecycle_init(self) -> None:
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sessions: list[requests.Session] = []

    def _serve(self, server: LoopbackHTTPServer, name: str, poll_interval: float = 0.05) -> int:
        """Start answering on ``server``; its port."""
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll_interval},
                                        name=name)
        self._thread.start()
        return server.server_address[1]

    def stop(self) -> None:
        self._stop.set()  # ends any artificial delay early
        for session in self._sessions:
            session.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.drop_open_connections()
            self._server.server_close()  # joins every handler thread
        if self._thread is not None:
            self._thread.join()

    def session(self) -> requests.Session:
        """A session for this fake, closed when it stops. trust_env is off, so proxy and CA-bundle
        variables in the environment cannot reroute or re-verify loopback calls."""
        session = requests.Session()
        session.trust_env = False
        self._sessions.append(session)
        return session
