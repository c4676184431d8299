"""The demo's pymap server with the faults the tests inject: hang up on a chosen command (``drop_on``)."""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Any, Literal, cast

from mailintake.demo.servers.base import DEFAULT_USERS
from mailintake.demo.servers.pymap_server import PymapServer


class FaultyPymapServer(PymapServer):
    """:class:`PymapServer` that can hang up (no answer) on the next connections sending a command."""

    def __init__(self, host: str, port: int, users: dict[str, str], tls: Literal["none", "starttls", "ssl"] = "none",
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._drop_rules: list[list[Any]] = []
        self._drop_lock = threading.Lock()
        super().__init__(host, port, users, tls=tls, ssl_context=ssl_context)

    def _reader(self, reader: asyncio.StreamReader) -> asyncio.StreamReader:
        return cast(asyncio.StreamReader, _TappedReader(reader, self))

    def drop_on(self, command: str = "FETCH", times: int = 1) -> None:
        """Hang up (no answer) the next ``times`` connections that send ``command`` (UID prefix
        ignored): a connection dropped mid-FETCH, as the fault tests need."""
        with self._drop_lock:
            self._drop_rules.append([command.upper().encode("ascii"), times])

    def _should_drop(self, line: bytes) -> bool:
        if not self._drop_rules:
            return False
        words = line.split(None, 3)
        if len(words) < 2:
            return False
        command = words[2].upper() if words[1].upper() == b"UID" and len(words) > 2 else words[1].upper()
        with self._drop_lock:
            for rule in self._drop_rules:
                if rule[0] == command:
                    rule[1] -= 1
                    if rule[1] <= 0:
                        self._drop_rules.remove(rule)
                    return True
        return False


class _TappedReader:
    """Wraps a connection's StreamReader so the server can hang up on a chosen command."""

    def __init__(self, reader: asyncio.StreamReader, server: FaultyPymapServer) -> None:
        self._reader = reader
        self._server = server

    async def readline(self) -> bytes:
        line = await self._reader.readline()
        if self._server._should_drop(line):
            return b""  # pymap treats a line without "\n" as EOF and closes the connection
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def start_imap_server(
    users: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    tls: Literal["none", "starttls", "ssl"] = "none",
    ssl_context: ssl.SSLContext | None = None,
) -> FaultyPymapServer:
    """:func:`mailintake.demo.servers.pymap_server.start_imap_server`, with fault injection."""
    return FaultyPymapServer(host, port, users or dict(DEFAULT_USERS), tls=tls, ssl_context=ssl_context)
