"""SMTP over TLS (implicit and STARTTLS) against aiosmtpd with a trustme certificate authority:
the certificate is verified by default, a private CA is trusted through ``ca_file``."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from mailintake.errors import SmtpError
from mailintake.outbox.sender import deliver_due
from tests.support.env import Env
from tests.support.servers import free_port
from tests.unit.outbox.test_replies import NOW, reply_settings
from tests.unit.outbox.test_sender import accepted_mail, get_row


class _Keep:
    def __init__(self) -> None:
        self.rcpts: list[tuple[str, ...]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.rcpts.append(tuple(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=["ssl", "starttls"])
def tls_server(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[tuple[str, int, _Keep]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    handler = _Keep()
    port = free_port()
    options: dict[str, Any] = {"ssl_context": context} if request.param == "ssl" else {"tls_context": context}
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, **options)
    controller.start()
    try:
        yield request.param, port, handler
    finally:
        controller.stop()


def test_tls_with_private_ca_delivers(tmp_path: Path, env: Env, ca: trustme.CA,
                                      tls_server: tuple[str, int, _Keep]) -> None:
    security, port, handler = tls_server
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings = reply_settings(env, smtp={"port": port, "security": security, "ca_file": str(ca_file)})
    db = env.session_factory
    row_id = accepted_mail(db, settings)
    result = deliver_due(settings, db, now=NOW)
    assert (result.sent, result.retried, result.failed) == (1, 0, 0)
    assert handler.rcpts == [("user1@example.com",)]
    assert get_row(db, row_id).status == "sent"


def test_untrusted_certificate_is_refused(env: Env, tls_server: tuple[str, int, _Keep]) -> None:
    security, port, handler = tls_server
    settings = reply_settings(env, smtp={"port": port, "security": security})
    db = env.session_factory
    row_id = accepted_mail(db, settings)
    with pytest.raises(SmtpError) as caught:
        deliver_due(settings, db, now=NOW)
    assert str(caught.value).startswith("smtp: certificate of 127.0.0.1 not trusted (")
    assert str(caught.value).endswith("); set [smtp] ca_file")
    assert handler.rcpts == []
    row = get_row(db, row_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, NOW)
