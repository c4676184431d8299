"""An aiosmtpd server that keeps every accepted message and can refuse on request."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from mailintake.demo.servers.base import free_port


@dataclass(frozen=True)
class SinkMessage:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    received_at: datetime


@dataclass
class _Failure:
    stage: str
    code: int
    message: str
    times: int


@dataclass
class _SinkState:
    messages: list[SinkMessage] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)


class _SinkHandler:
    def __init__(self, state: _SinkState) -> None:
        self.state = state

    def _take(self, stage: str) -> _Failure | None:
        with self.state.cond:
            for failure in self.state.failures:
                if failure.stage == stage:
                    failure.times -= 1
                    if failure.times <= 0:
                        self.state.failures.remove(failure)
                    return failure
        return None

    @staticmethod
    def _reply(server: Any, failure: _Failure) -> str:
        if failure.code == 421:  # "service closing transmission channel": really close it
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return f"{failure.code} {failure.message}"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        failure = self._take("RCPT")
        if failure is not None:
            return self._reply(server, failure)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        failure = self._take("DATA")
        if failure is not None:
            return self._reply(server, failure)
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        message = SinkMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=bytes(raw),
            received_at=datetime.now(UTC),
        )
        with self.state.cond:
            self.state.messages.append(message)
            self.state.cond.notify_all()
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on a loopback port keeping every accepted message in memory (plaintext, no AUTH)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from aiosmtpd.controller import Controller

        self.host = host
        self.port = port or free_port(host)
        self._state = _SinkState()
        self._controller = Controller(
            _SinkHandler(self._state),
            hostname=host,
            port=self.port,
            server_hostname="mailintake-sink.local",
            ready_timeout=10,
            decode_data=False,
            data_size_limit=200 * 1024 * 1024,
        )
        self._controller.start()

    @property
    def messages(self) -> list[SinkMessage]:
        """A snapshot of everything accepted so far, in order."""
        with self._state.cond:
            return list(self._state.messages)

    def clear(self) -> None:
        with self._state.cond:
            self._state.messages.clear()

    def fail_next(self, code: int, message: str, times: int = 1, stage: Literal["DATA", "RCPT"] = "DATA") -> None:
        """Answer the next ``times`` DATA (or RCPT) commands with ``code message``; 421 also hangs up."""
        with self._state.cond:
            self._state.failures.append(_Failure(stage.upper(), code, message, times))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SinkMessage]:
        """Wait until at least ``count`` messages arrived; return them all (fewer after the timeout)."""
        deadline = time.monotonic() + timeout
        with self._state.cond:
            while len(self._state.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._state.cond.wait(remaining)
            return list(self._state.messages)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SmtpSink {self.host}:{self.port} messages={len(self.messages)}>"


def start_smtp_sink(host: str = "127.0.0.1", port: int = 0) -> SmtpSink:
    """Start an aiosmtpd sink on a free loopback port."""
    return SmtpSink(host, port)
