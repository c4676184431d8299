"""pymap's in-memory backend, served in this process on a background event loop."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Coroutine
from typing import Any, Literal

from mailintake.demo.servers.base import _T, DEFAULT_USERS, ImapServer


class _LoopThread:
    """An asyncio event loop running forever on a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class PymapServer(ImapServer):
    """pymap's dict backend in-process. Mailbox contents live as long as this object.

    ``restart()`` closes the listener and every client connection, then listens again on the same
    port with the same mailboxes (what a client sees when a server restarts between polls).
    ``drop_connections()`` only cuts the current client connections (a dropped connection).
    """

    kind = "pymap"

    def __init__(
        self,
        host: str,
        port: int,
        users: dict[str, str],
        tls: Literal["none", "starttls", "ssl"] = "none",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(host, port, users)
        if tls != "none" and ssl_context is None:
            raise ValueError("tls needs a server ssl_context (certificate and key loaded)")
        self.tls = tls
        self._ssl_context = ssl_context
        self._loop = _LoopThread(f"pymap-{host}:{port}")
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[tuple[asyncio.StreamWriter, asyncio.Task[Any]]] = set()
        self._backend: Any = None
        self._config: Any = None
        try:
            self._loop.run(self._setup())
            self._loop.run(self._listen())
        except BaseException:
            self._loop.close()
            raise

    async def _setup(self) -> None:
        from argparse import Namespace

        from pymap.backend.dict import Config, DictBackend, Login
        from pymap.concurrent import Subsystem
        from pysasl.hashing import Cleartext

        class _Config(Config):
            @property
            def greeting(self) -> bytes:  # the default calls socket.getfqdn() on every connection
                return b"Server ready mailintake-devserver"

        args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None, debug=False)
        config = _Config(
            args,
            host=self.host,
            port=self.port,
            demo_data=False,
            demo_user="demouser",
            demo_password="",
            tls_enabled=self.tls == "starttls",
            ssl_context=self._ssl_context,
            hash_context=Cleartext(),
            cpu_subsystem=Subsystem.for_asyncio(),
            invalid_user_sleep=0.0,
            reject_dnsbl=False,
        )
        config.apply_context()
        login = Login(config)
        self._config = config
        self._backend = DictBackend(login, config)
        for username, password in self.users.items():
            await self._add_user(username, password)

    async def _add_user(self, username: str, password: str) -> None:
        from pymap.user import UserMetadata

        self._backend.login.users_dict[username] = UserMetadata(self._config, username, password=password)

    def add_user(self, username: str, password: str) -> None:
        self.users[username] = password
        self._loop.run(self._add_user(username, password))

    def _reader(self, reader: asyncio.StreamReader) -> asyncio.StreamReader:
        """A connection's reader as the IMAP server reads it (the tests' server wraps it to inject faults)."""
        return reader

    async def _listen(self) -> None:
        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.imap import IMAPServer

        imap_server = IMAPServer(self._backend.login, self._config)

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sock_info: Any) -> None:
            task = asyncio.current_task()
            assert task is not None
            entry = (writer, task)
            self._connections.add(entry)
            try:
                await imap_server(self._reader(reader), writer, sock_info)
            finally:
                self._connections.discard(entry)

        callback = ProxyProtocolReader(self._config.proxy_protocol).get_callback(tracked)
        self._server = await asyncio.start_server(
            callback,
            host=self.host,
            port=self.port,
            reuse_address=True,
            ssl=self._ssl_context if self.tls == "ssl" else None,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _drop(self) -> None:
        entries = list(self._connections)
        for writer, task in entries:
            writer.close()
            task.cancel()
        await asyncio.gather(*(task for _, task in entries), return_exceptions=True)
        self._connections.clear()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._drop()
            await self._server.wait_closed()
            self._server = None

    def drop_connections(self) -> None:
        """Cut every open client connection; the server keeps listening."""
        self._loop.run(self._drop())

    def restart(self) -> None:
        self._loop.run(self._close())
        self._loop.run(self._listen())

    def stop(self) -> None:
        if self._loop.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self._loop.run(self._close())
        self._loop.close()


def start_imap_server(
    users: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    tls: Literal["none", "starttls", "ssl"] = "none",
    ssl_context: ssl.SSLContext | None = None,
) -> PymapServer:
    """Start pymap in-process on a free loopback port (LOGIN and AUTHENTICATE PLAIN).

    Plaintext by default; ``tls="starttls"`` offers STARTTLS (and refuses login before it),
    ``tls="ssl"`` is implicit TLS like port 993. Both need a server ``ssl_context``.
    """
    return PymapServer(host, port, users or dict(DEFAULT_USERS), tls=tls, ssl_context=ssl_context)
