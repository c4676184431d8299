"""Office decisions on a submission: 同意受理 (accept despite a flag) or 撤回 (the unit withdrew it).

The record, its flags and every earlier decision stay; the newest decision per submission counts
(report, workbook, export, quotas, hand-off). One function per action, audited in the same
transaction; a mail to the applicant only when the clerk asks for it (``notify``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailintake.campaign.decisions import DECISION_LABELS, DecisionInfo, decision_info
from mailintake.config.settings import Settings
from mailintake.db.audit import Actor, record_action
from mailintake.db.models import Decision, Submission, utcnow
from mailintake.errors import MailintakeError


class DecisionError(MailintakeError):
    """Raised when a decision names an unknown or superseded submission, an unknown kind or no reason."""

    exit_code = 1


@dataclass(frozen=True)
class DecisionResult:
    decision: DecisionInfo
    submission_id: int
    unit: str
    #: the outbox row of the notice to the applicant, when one was queued
    notice_id: int | None
    #: why no notice was queued although asked for
    notice_problem: str | None = None


def decide(session: Session, settings: Settings, submission_id: int, kind: str, reason: str, actor: Actor,
           *, notify: bool = False, now: dt.datetime | None = None) -> DecisionResult:
    """Record a decision (and queue a notice to the applicant when ``notify``); the caller commits."""
    moment = now or utcnow()
    if kind not in DECISION_LABELS:
        raise DecisionError(f"decide: unknown decision {kind!r}; use accept (同意受理) or withdraw (撤回)")
    reason = " ".join((reason or "").split())
    if not reason:
        raise DecisionError("decide: give the reason (--reason TEXT); it is kept with the decision")
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise DecisionError(f"decide: no submission {submission_id}; `mailintake export` lists the ids")
    if not submission.current:
        raise DecisionError(f"decide: submission {submission_id} was superseded by {submission.superseded_by}; "
                            "decide on the current one")
    row = Decision(submission_id=submission.id, kind=kind, reason=reason, actor=actor.name, origin=actor.origin,
                   at=moment, notified=False)
    session.add(row)
    record_action(session, actor, "decision", submission_id=submission.id, message_pk=submission.message_pk,
                  unit=submission.unit or None, detail=f"{DECISION_LABELS[kind]}：{reason}")
    notice_id, problem = None, None
    if notify:
        notice_id, problem = _notify(session, settings, submission, kind, reason, moment)
        row.notified = notice_id is not None
    session.flush()
    return DecisionResult(decision=decision_info(row), submission_id=submission.id, unit=submission.unit,
                          notice_id=notice_id, notice_problem=problem)


def _notify(session: Session, settings: Settings, submission: Submission, kind: str, reason: str,
            now: dt.datetime) -> tuple[int | None, str | None]:
    # the mail side only when the clerk asks for a notice: the quota rule reads decisions on the poll path,
    # which must not import the templates (jinja2) and the outbox
    from mailintake.office.notices import queue_notice, usable_address
    from mailintake.outbox import templates
    from mailintake.outbox.compose import cn_datetime

    message = submission.message
    address = None
    for candidate in [*(message.reply_to or []), message.from_addr]:
        address = usable_address(settings, str(candidate))
        if address:
            break
    if address is None:
        return None, f"the sender {message.from_addr!r} cannot be mailed"
    fields = submission.fields or {}
    who = fields.get("name") or submission.unit or ""
    context = {
        "office_name": settings.campaign.office_name, "office_contact": settings.campaign.office_contact,
        "campaign_name": settings.campaign.name, "receipt_no": message.receipt_no or "",
        "received_at": cn_datetime(message.received_at, settings),
        "form": submission.title if submission.title.startswith("表") else f"表{submission.table_no}{submission.title}",
        "who": who, "project": fields.get("project", ""), "reason": reason,
        "decision": DECISION_LABELS[kind],
    }
    text = templates.render(settings, f"decision_{kind}.txt.j2", context) or ""
    subject = f"关于{settings.campaign.name}材料的处理意见（{DECISION_LABELS[kind]}）"
    if message.receipt_no:
        subject += f" [申报回执 {message.receipt_no}]"
    row = queue_notice(session, settings, kind="decision", to=address, name=message.from_name or "", subject=subject,
                       text=text, now=now, message_pk=message.id, in_reply_to=message.message_id,
                       status_for=message.from_addr)
    return row.id, None
