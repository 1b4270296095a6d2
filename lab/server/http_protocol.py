"""uvicorn's HTTP protocol, quiet about clients that try TLS on the plain-HTTP port.

docker probes every registry with a TLS ClientHello before it falls back to HTTP; uvicorn
would log each probe as `WARNING: Invalid HTTP request received.` The answer stays the same
(400, and docker falls back); only the log line becomes a debug one that says what it was.
"""

from __future__ import annotations

import logging

from lab.server.file_bodies import FileBodyHttpToolsProtocol
from lab.server.head_limits import LimitedHttpToolsProtocol
from lab.server.streaming import StreamingHttpToolsProtocol

log = logging.getLogger(__name__)

# A TLS record of type handshake (0x16) with a major version of 3 (TLS 1.0 to 1.3, RFC 8446 5.1).
TLS_HANDSHAKE = b"\x16\x03"


class HttpProtocol(LimitedHttpToolsProtocol, StreamingHttpToolsProtocol, FileBodyHttpToolsProtocol):
    """The lab's HTTP protocol: httptools with head limits (counted first, in the MRO), bodies
    streamed to the app, file bodies written from a thread, and a TLS handshake on a connection's
    first bytes logged at debug."""

    _first = True  # no bytes received yet on this connection

    def data_received(self, data: bytes) -> None:
        first, self._first = self._first, False
        if first and data.startswith(TLS_HANDSHAKE):  # an HTTP request never starts so
            log.debug("%s: a TLS ClientHello on the plain-HTTP port (answered 400)", self.client)
            self.send_400_response("Invalid HTTP request received.")
            return
        super().data_received(data)
