"""Serve the console with uvicorn: in the foreground (``mailintake web``) or in a thread (demo, tests)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn


def serve(app: Any, host: str, port: int) -> None:
    """Blocks until SIGINT/SIGTERM. Client addresses come from X-Forwarded-For only when the proxy is local."""
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True,
                forwarded_allow_ips="127.0.0.1", server_header=False, lifespan="off")


@dataclass
class RunningConsole:
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningConsole:
    """Start uvicorn on ``host`` (a free port when 0) in a daemon thread; return once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", server_header=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the console did not start")
        time.sleep(0.02)
    return RunningConsole(server, thread, host, bound)
