"""IDLE accepts any untagged response (RFC 2177), whenever it comes and however the TCP stream splits it.

The real servers (pymap, Dovecot) are in tests/unit/mailbox/test_mailbox.py; here a scripted IMAP server on
127.0.0.1 sends, on purpose, what they send only now and then: untagged responses before the ``+``
continuation, ``FLAGS``/``FETCH``/``RECENT`` during IDLE, a line split over two TCP writes, and
untagged responses between DONE and the tagged OK.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mailintake.config.settings import MailboxSettings
from mailintake.mailbox.client import MailboxClient

CAPS = b"IMAP4rev1 IDLE LITERAL+"


class ScriptedImap:
    """Answers LOGIN/CAPABILITY/EXAMINE/LOGOUT; during IDLE writes ``chunks`` (with pauses) and, after
    DONE, ``after_done`` before the tagged OK."""

    def __init__(self, before_continuation: list[bytes], chunks: list[bytes | float], after_done: list[bytes]):
        self.before, self.chunks, self.after = before_continuation, chunks, after_done
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"* OK [CAPABILITY " + CAPS + b"] scripted ready\r\n")
            for raw in reader:
                tag, _, rest = raw.rstrip(b"\r\n").partition(b" ")
                command = rest.split(b" ", 1)[0].upper()
                if command == b"CAPABILITY":
                    conn.sendall(b"* CAPABILITY " + CAPS + b"\r\n" + tag + b" OK done\r\n")
                elif command == b"LOGIN":
                    conn.sendall(tag + b" OK [CAPABILITY " + CAPS + b"] logged in\r\n")
                elif command in (b"EXAMINE", b"SELECT"):
                    conn.sendall(b"* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 1] ok\r\n"
                                 + tag + b" OK [READ-ONLY] done\r\n")
                elif command == b"IDLE":
                    self._idle(conn, reader, tag)
                elif command == b"LOGOUT":
                    conn.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                    return
                else:
                    conn.sendall(tag + b" OK done\r\n")

    def _idle(self, conn: socket.socket, reader: object, tag: bytes) -> None:
        conn.sendall(b"".join(self.before) + b"+ idling\r\n")
        for chunk in self.chunks:
            if isinstance(chunk, float):
                time.sleep(chunk)
            else:
                conn.sendall(chunk)
        assert reader.readline().strip().upper() == b"DONE"  # type: ignore[attr-defined]
        conn.sendall(b"".join(self.after) + tag + b" OK IDLE terminated\r\n")

    def stop(self) -> None:
        self.listener.close()
        self.thread.join(5)


def settings(port: int) -> MailboxSettings:
    return MailboxSettings(host="127.0.0.1", port=port, security="none", username="u@example.cn", password="p",
                           verify_tls=False, timeout=5.0)


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[ScriptedImap]:
    server = ScriptedImap(*request.param)
    yield server
    server.stop()


SCRIPTS = {
    "flags-before-continuation": ([b"* FLAGS ()\r\n", b"* 1 EXISTS\r\n"], [], [], True),
    "flags-then-exists": ([], [0.05, b"* FLAGS (\\Seen)\r\n", 0.05, b"* 1 EXISTS\r\n* 1 RECENT\r\n"], [], True),
    "split-fetch-line": ([], [0.05, b"* 1 FETCH (", 0.2, b"FLAGS ())\r\n", 0.05, b"* 2 EXISTS\r\n"], [], True),
    "only-flags": ([], [0.05, b"* FLAGS ()\r\n* OK still here\r\n"], [], False),
    "exists-after-done": ([], [], [b"* FLAGS ()\r\n", b"* 3 EXISTS\r\n"], True),
    "literal-during-idle": ([], [0.05, b"* 1 FETCH (BODY[HEADER.FIELDS (X)] {3}\r\nabc)\r\n", 0.05,
                                 b"* 1 EXISTS\r\n"], [], True),
}


@pytest.mark.parametrize(("scripted", "expected"), [(s[:3], s[3]) for s in SCRIPTS.values()],
                         ids=list(SCRIPTS), indirect=["scripted"])
def test_any_untagged_response_is_accepted_during_idle(scripted: ScriptedImap, expected: bool) -> None:
    with MailboxClient(settings(scripted.port)) as box:
        box.select()
        started = time.monotonic()
        assert box.idle_wait(1.0) is expected
        took = time.monotonic() - started
        assert took < 3 and (expected or took >= 0.95)
        assert box.select().uidvalidity == 7  # the stream is still in step after IDLE
