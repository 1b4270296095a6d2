"""Start a lab on a background thread (`ecr-lab serve`, tests, the demo)."""

from __future__ import annotations

import asyncio
import ctypes
import socket
import threading
import time
from types import TracebackType

import uvicorn
import uvloop

from lab.server.app import Lab
from lab.server.asgi import asgi_app
from lab.server.config import LabConfig
from lab.server.http_protocol import HttpProtocol


def _bind(config: LabConfig) -> socket.socket:
    # IPPROTO_TCP spelled out: asyncio's own loop disables Nagle only on sockets that say so
    # (else a response written in two parts waits ~40 ms for the client's delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _server(lab: Lab) -> uvicorn.Server:
    settings = uvicorn.Config(
        asgi_app(lab.handle),
        # httptools (measured: 1.6 s of CPU per GiB received, h11 4.0 s), with head limits and
        # upload bodies streamed past per-message ASGI
        http=HttpProtocol,
        ws="none",  # AWS's APIs and the registry use no WebSocket ("auto" loads one: ~30 ms)
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=75,
    )
    return uvicorn.Server(settings)


# glibc mallopt parameters (malloc.h) and the values that keep body buffers in the heap.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20  # glibc's maximum
_TRIM_THRESHOLD = 64 << 20


def reuse_freed_buffers() -> None:
    """Make glibc recycle freed body buffers instead of unmapping them.

    Each received chunk (256 KiB) is copied into fresh bytes a few times on its way through
    uvicorn; by default glibc serves and frees each with mmap/munmap, so every copy also pays
    page faults and zeroing: measured 2.0 s of CPU per GiB received, 0.8 s with these settings.
    Memory stays bounded: only the working set of a few batches is ever touched.
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:  # glibc only; elsewhere the allocator's defaults stand
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    reuse_freed_buffers()
    # uvloop: uvicorn picks it only in Server.run(); serve() on asyncio's loop is slower.
    # asyncio.Runner, not run(loop_factory=): that argument is Python 3.12+.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(server.serve(sockets=[sock]))


def open_lab(config: LabConfig) -> tuple[Lab, socket.socket]:
    """Bind the port first (it may be 0), then build the lab that knows its own address."""
    sock = _bind(config)
    host, port = sock.getsockname()[:2]
    # Bound to every interface (in a container): docker reaches it on loopback via the
    # published port, and only a loopback registry needs no TLS configuration (FACTS).
    advertised = "127.0.0.1" if host == "0.0.0.0" else host
    try:
        return Lab(config, registry_host=f"{advertised}:{port}"), sock
    except BaseException:
        sock.close()
        raise


class RunningLab:
    """A lab serving on a background thread: `with RunningLab(config) as running: ...`."""

    def __init__(self, config: LabConfig) -> None:
        self.lab, self._sock = open_lab(config)
        self._server = _server(self.lab)
        self._thread = threading.Thread(target=self._run, name="ecr-lab", daemon=True)

    @property
    def url(self) -> str:
        return self.lab.endpoint_url

    def _run(self) -> None:
        _serve(self._server, self._sock)

    def start(self) -> RunningLab:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the lab's server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
        self.lab.close()

    def __enter__(self) -> RunningLab:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
