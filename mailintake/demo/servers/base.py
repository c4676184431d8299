"""What every local IMAP server offers, and a free loopback port."""

from __future__ import annotations

import socket
from types import TracebackType
from typing import TypeVar

from imapclient import IMAPClient

DEFAULT_USERS: dict[str, str] = {"office@example.gov.cn": "secret"}
_T = TypeVar("_T")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (tiny race until the caller binds it; fine on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ImapServer:
    """What every local IMAP server offers: where it listens, the first user, stop and restart."""

    kind = "imap"

    def __init__(self, host: str, port: int, users: dict[str, str]) -> None:
        self.host = host
        self.port = port
        self.users = dict(users)

    @property
    def username(self) -> str:
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.username]

    def client(self, username: str | None = None) -> IMAPClient:
        """A logged-in plaintext IMAPClient (timezone-aware dates); the caller logs out."""
        user = username or self.username
        imap = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        imap.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~40 ms per command
        imap.normalise_times = False
        imap.login(user, self.users[user])
        return imap

    def add_user(self, username: str, password: str) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> ImapServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}:{self.port} users={list(self.users)}>"
