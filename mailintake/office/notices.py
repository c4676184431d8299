"""Mail the office sends on its own initiative (催报, decision notices), queued in the outbox.

Same guarantees as the automatic replies: written in the caller's transaction, delivered by the
sender with retries, RFC 3834 headers (``Auto-Submitted: auto-generated``), never to a machine
address, and counted against ``[smtp] max_replies_per_hour`` per address together with the replies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from mailintake.applicant.tokens import append_line, status_line
from mailintake.config.settings import Settings
from mailintake.db.models import OutboxItem
from mailintake.db.vocabulary import OutboxStatus
from mailintake.outbox import REPLY_KINDS
from mailintake.outbox.queue import POLICY, build_mail, replies_last_hour
from mailintake.outbox.recipients import header_text, machine_reason, parse_address

#: outbox kinds of the office's own mail
NOTICE_KINDS: tuple[str, ...] = ("reminder", "decision")
#: every kind counted by the per-address hourly cap
CAPPED_KINDS: tuple[str, ...] = (*REPLY_KINDS, *NOTICE_KINDS)


def usable_address(settings: Settings, value: str | None) -> str | None:
    """The plain address when it is one we would ever send to, else None."""
    parsed = parse_address(value)
    if parsed is None or machine_reason(parsed[1], settings.own_addresses) is not None:
        return None
    return parsed[1]


def queue_notice(session: Session, settings: Settings, *, kind: str, to: str, name: str, subject: str, text: str,
                 now: dt.datetime, message_pk: int | None = None, in_reply_to: str | None = None,
                 status_for: str | None = None, attachments: Sequence[tuple[str, bytes]] = ()) -> OutboxItem:
    """Queue one notice to ``to`` (already checked with :func:`usable_address`); suppressed past the cap.

    The text ends with the link to the status page of ``status_for`` (default ``to``: the sender whose
    mails the notice is about) when ``[web] applicant_url`` is set."""
    text = append_line(text, status_line(session, settings, status_for or to))
    mail = build_mail(settings, to=[(header_text(name, 100), to)], subject=subject, text=text,
                      in_reply_to=in_reply_to, auto_reply=False, now=now, attachments=attachments)
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    row = OutboxItem(message_pk=message_pk, kind=kind, recipients=[to], cc=[], subject=str(mail["Subject"]),
                     raw=mail.as_bytes(policy=POLICY), status=OutboxStatus.pending, attempts=0, next_attempt_at=now,
                     created_at=now)
    cap = settings.smtp.max_replies_per_hour
    if replies_last_hour(session, to, now, CAPPED_KINDS) >= cap:
        row.status = OutboxStatus.suppressed
        row.last_error = f"more than {cap} automatic mails to {to} within an hour (loop guard)"
    session.add(row)
    session.flush()
    return row
