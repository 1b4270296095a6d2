"""Start a lab: in the foreground (`ecr-lab serve`) or on a background thread (tests, demo)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType

import uvicorn

from lab.server.app import Lab
from lab.server.asgi import asgi_app
from lab.server.config import LabConfig


def _bind(config: LabConfig) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _server(lab: Lab) -> uvicorn.Server:
    settings = uvicorn.Config(
        asgi_app(lab.handle),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=75,
    )
    return uvicorn.Server(settings)


def open_lab(config: LabConfig) -> tuple[Lab, socket.socket]:
    """Bind the port first (it may be 0), then build the lab that knows its own address."""
    sock = _bind(config)
    host, port = sock.getsockname()[:2]
    return Lab(config, registry_host=f"{host}:{port}"), sock


def serve_forever(
    config: LabConfig, lab: Lab | None = None, sock: socket.socket | None = None
) -> None:
    """Run in the foreground until interrupted (SIGINT/SIGTERM stop it cleanly)."""
    if lab is None or sock is None:
        lab, sock = open_lab(config)
    asyncio.run(_server(lab).serve(sockets=[sock]))


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
        asyncio.run(self._server.serve(sockets=[self._sock]))

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

    def __enter__(self) -> RunningLab:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
