"""One search box: receipt numbers, units (by any name the roster matcher resolves), mails (sender,
subject, text, file names, forms) and forms (persons, projects, narratives), grouped for the results page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, String, cast, or_, select
from sqlalchemy.orm import Session

from mailintake.campaign.identity import normalise_text
from mailintake.campaign.roster import Roster, Unit
from mailintake.db.models import Message, Submission
from mailintake.web.queries.forms import validity
from mailintake.web.queries.mails import MailRow, _contains, like_pattern, list_mails, mail_conditions

LIMIT = 20
_RECEIPT = re.compile(r"^(?:\d{4}-)?\d{1,6}$")


@dataclass
class FormHit:
    id: int
    table: int
    unit: str
    person: str
    project: str
    message_pk: int
    receipt_no: str
    state: str


@dataclass
class SearchResult:
    q: str
    units: list[Unit] = field(default_factory=list)
    #: the query names several units and none exactly
    ambiguous: bool = False
    mails: list[MailRow] = field(default_factory=list)
    mails_total: int = 0
    forms: list[FormHit] = field(default_factory=list)
    forms_total: int = 0


def unit_candidates(roster: Roster, text: str) -> tuple[list[Unit], bool]:
    """(units, ambiguous): the one the matcher resolves, else every unit one of whose names contains the
    query (or is contained in it) — so ``吴中`` offers a choice and ``吴中审批局`` goes straight to its unit."""
    found = roster.match(text)
    if found is not None:
        return [found], False
    key = roster.normalise(text)
    if len(key) < 2:
        return [], False
    hits = [u for u in roster if any(key in k or (len(k) >= 4 and k in key) for k in u.keys(roster.rules))]
    return hits, len(hits) > 1


def typed_names(session: Session, roster: Roster, units: list[Unit]) -> list[str]:
    """Every unit name as applicants typed it that the roster resolves to one of ``units``."""
    wanted = {u.name for u in units}
    typed = session.scalars(select(Submission.unit).distinct()).all()
    return [t for t in typed if t and (t in wanted or ((m := roster.match(t)) is not None and m.name in wanted))]


def _receipt(session: Session, text: str) -> ColumnElement[bool] | None:
    if not _RECEIPT.match(text):
        return None
    from mailintake.office.redo import resolve_receipt
    from mailintake.outbox.queue import OutboxError

    try:
        return Message.receipt_no == resolve_receipt(session, text)
    except OutboxError:  # several numbers end in it: show them all
        return Message.receipt_no.like(f"%-{text}")


def search(session: Session, roster: Roster, text: str) -> SearchResult:
    q = " ".join(text.split())[:100]
    result = SearchResult(q)
    if not q:
        return result
    result.units, result.ambiguous = unit_candidates(roster, q)
    names = typed_names(session, roster, result.units) if len(result.units) == 1 else []
    like = like_pattern(q)

    mail_where: list[ColumnElement[bool]] = [*mail_conditions(session, None, q)]
    mail_where.append(_contains(session, Message.body_excerpt, like))
    receipt = _receipt(session, q)
    if receipt is not None:
        mail_where.append(receipt)
    if names:
        mail_where.append(Message.id.in_(select(Submission.message_pk).where(Submission.unit.in_(names))))
    found = session.execute(select(Message.id, Message.received_at).where(or_(*mail_where))).all()
    ordered = [r.id for r in sorted(found, key=lambda r: (r.received_at, r.id), reverse=True)]
    result.mails_total = len(ordered)
    result.mails = list_mails(session, [Message.id.in_(ordered[:LIMIT])], 0, LIMIT)

    form_where: list[ColumnElement[bool]] = [
        _contains(session, Submission.unit, like), _contains(session, cast(Submission.fields, String), like),
        _contains(session, Submission.identity_key, like_pattern(normalise_text(q)))]
    if names:
        form_where.append(Submission.unit.in_(names))
    if receipt is not None:
        form_where.append(Submission.message_pk.in_(select(Message.id).where(receipt)))
    found_forms = session.scalars(
        select(Submission.id).where(or_(*form_where))
        .order_by(Submission.current.desc(), Submission.table_no, Submission.id)).all()
    result.forms_total = len(found_forms)
    shown = list(found_forms[:LIMIT])
    rows = {r.id: r for r in session.execute(
        select(Submission.id, Submission.table_no, Submission.unit, Submission.fields, Submission.message_pk,
               Submission.current, Submission.superseded_by, Message.receipt_no)
        .join(Message, Message.id == Submission.message_pk).where(Submission.id.in_(shown))).all()}
    result.forms = [FormHit(r.id, r.table_no, r.unit or "", str((r.fields or {}).get("name") or ""),
                            str((r.fields or {}).get("project") or ""), r.message_pk, r.receipt_no or "",
                            validity(r.current, r.superseded_by))
                    for r in (rows[i] for i in shown)]
    return result
