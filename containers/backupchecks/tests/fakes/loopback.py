"""The HTTP server every fake runs on: loopback, one thread per connection, and a clean stop.

Handler threads are not daemons and are joined on close, so a test ends with no thread left; idle
keep-alive connections are shut down first so those threads wake up and can be joined.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
