"""The final 截止报告: written and queued once, at ``[campaign] deadline`` + ``[report] final_delay``.

It holds the frozen candidate list per table (with the 附件2 categories and quotas) and the roster
units that did not apply; the 公示名单 workbook is attached. The ``final_reports`` marker row (unique
per deadline) is written in the same transaction as the queued mail, so a worker restarted around the
deadline sends it exactly once: a crash before the commit leaves nothing, and after it the marker.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from jinja2 import TemplateNotFound
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.campaign.roster import UNMATCHED, Unit
from mailintake.campaign.sources import Sources
from mailintake.config.settings import Settings
from mailintake.config.shipped import shipped
from mailintake.db.models import FinalReport, OutboxItem
from mailintake.db.vocabulary import OutboxStatus
from mailintake.office.candidates import TableList
from mailintake.office.handoff import candidate_lists, write_workbook
from mailintake.office.unit_state import unit_states
from mailintake.outbox.queue import POLICY, build_mail
from mailintake.outbox.recipients import parse_address
from mailintake.report.html import environment

TEMPLATE = "final_report.html.j2"
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass(frozen=True)
class CategoryRow:
    category: str
    quota_text: str
    count: int


def due_at(settings: Settings) -> dt.datetime:
    return settings.campaign.deadline + settings.report.final_delay


def already_sent(session: Session, settings: Settings) -> bool:
    marker = select(FinalReport.id).where(FinalReport.deadline == settings.campaign.deadline)
    return session.scalars(marker).first() is not None


def _categories(sources: Sources, table: TableList) -> list[CategoryRow]:
    counts = Counter(c.category for c in table.candidates)
    try:
        quota = sources.quotas.get(table.table)
    except KeyError:
        quota = None
    rows = []
    for category in (*sources.roster.categories, UNMATCHED):
        item = quota.quota(category) if quota is not None else None
        if category != UNMATCHED or counts[category]:
            rows.append(CategoryRow(category, item.text if item is not None else "—", counts[category]))
    return rows


def _render(sources: Sources, context: dict[str, object]) -> str:
    for directory in dict.fromkeys((sources.templates, shipped("templates"))):
        try:
            return environment(directory).get_template(TEMPLATE).render(**context)
        except TemplateNotFound:
            continue
    raise TemplateNotFound(TEMPLATE)


def _recipients(settings: Settings) -> list[tuple[str, str]]:
    return [p for p in (parse_address(r) for r in settings.report.recipients) if p is not None]


def _mail(settings: Settings, subject: str, html: str, xlsx: Path, now: dt.datetime) -> EmailMessage | None:
    to = _recipients(settings)
    if not to or "@" not in settings.smtp.sender:
        return None
    mail = build_mail(settings, to=to, subject=subject, auto_reply=False, now=now,
                      text=f"{subject}\n\n详细情况请查看本邮件的网页正文及所附公示名单。\n", html=html)
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail.add_attachment(xlsx.read_bytes(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename="公示名单.xlsx")
    return mail


def send_final_report(session: Session, settings: Settings, sources: Sources, now: dt.datetime) -> FinalReport | None:
    """Write and queue the 截止报告 when it is due and not yet done; the caller commits. None otherwise."""
    if now < due_at(settings) or already_sent(session, settings):
        return None
    tz = settings.campaign.tz
    lists = candidate_lists(session, settings, sources)
    silent: list[Unit] = [s.roster for s in unit_states(session, sources.roster).values()
                          if s.roster is not None and not s.forms]
    subject = f"{settings.campaign.name.removesuffix('申报')}申报截止报告"
    html = _render(sources, {
        "title": subject, "office": settings.campaign.office_name,
        "deadline": settings.campaign.deadline.astimezone(tz), "generated_at": now.astimezone(tz),
        "tables": [(t, _categories(sources, t)) for t in lists], "silent": silent,
    })
    directory = settings.path(settings.report.dir)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(tz).strftime("%Y-%m-%d-%H%M%S")
    html_path = directory / f"final-report-{stamp}.html"
    html_path.write_text(html, "utf-8")
    xlsx_path = write_workbook(lists, settings, directory / f"final-list-{stamp}.xlsx")
    marker = FinalReport(deadline=settings.campaign.deadline, generated_at=now, html_path=str(html_path))
    mail = _mail(settings, subject, html, xlsx_path, now)
    if mail is not None:
        item = OutboxItem(kind="final_report", recipients=[a for _, a in _recipients(settings)], cc=[],
                          subject=subject, raw=mail.as_bytes(policy=POLICY), status=OutboxStatus.pending, attempts=0,
                          next_attempt_at=now, created_at=now)
        session.add(item)
        session.flush()
        marker.outbox_id = item.id
    session.add(marker)
    session.flush()
    return marker
