"""Export mails, submissions and replies: JSON (the documented shape), CSV (one row per form), Excel.

The JSON shape is an interface (issue 3); change it only together with its consumers.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailintake.campaign.decisions import DECISION_LABELS, latest_decisions
from mailintake.config.settings import Settings
from mailintake.db.models import Message, OutboxItem, PaperCopy, ReminderSent, Submission
from parsers.definitions import FormSet

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
#: outbox kinds that answer a mail (the report is not a reply)
REPLY_KINDS = ("receipt", "correction", "late", "no_form")
#: outbox kinds listed with a mail: its replies and the office's decision notices
MAIL_KINDS = (*REPLY_KINDS, "decision")


def _iso(value: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def _flags(flags: list[Any], *, with_field: bool) -> list[dict[str, Any]]:
    """Stored flag dicts in the order code, field (when present and wanted), message."""
    out: list[dict[str, Any]] = []
    for flag in flags or []:
        if not isinstance(flag, dict):
            out.append({"code": "unknown", "message": str(flag)})
            continue
        item: dict[str, Any] = {"code": flag.get("code", "")}
        if with_field and flag.get("field") is not None:
            item["field"] = flag["field"]
        item["message"] = flag.get("message", "")
        out.append(item)
    return out


def _messages(session: Session) -> list[Message]:
    return list(session.scalars(
        select(Message)
        .options(selectinload(Message.attachments), selectinload(Message.replies),
                 selectinload(Message.submissions).selectinload(Submission.attachment))
        .order_by(Message.received_at, Message.id)
    ))


def export_json(session: Session, *, tz: dt.tzinfo = DEFAULT_TZ) -> dict[str, Any]:
    """Every mail with its attachments, flags and replies; every submission (current or superseded)."""
    messages = _messages(session)
    out_messages: list[dict[str, Any]] = []
    submissions: list[tuple[Submission, Message]] = []
    for message in messages:
        out_messages.append({
            "message_id": message.message_id,
            "from": message.from_addr,
            "from_name": message.from_name,
            "subject": message.subject,
            "received_at": _iso(message.received_at, tz),
            "status": message.status,
            "attachments": [{"filename": a.path, "sha256": a.sha256, "size": a.size} for a in message.attachments],
            "flags": _flags(message.flags, with_field=False),
            "replies": [
                {"kind": r.kind, "to": list(r.recipients or []), "sent_at": _iso(r.sent_at, tz)}
                for r in message.replies if r.kind in MAIL_KINDS
            ],
        })
        submissions.extend((s, message) for s in message.submissions)
    submissions.sort(key=lambda pair: pair[0].id)
    decided = latest_decisions(session)
    papers = session.scalars(select(PaperCopy).order_by(PaperCopy.received_on, PaperCopy.unit)).all()
    return {
        "messages": out_messages,
        "submissions": [
            {
                "id": sub.id,
                "message_id": message.message_id,
                "attachment": sub.attachment.path if sub.attachment is not None else "",
                "table": sub.table_no,
                "fields": dict(sub.fields or {}),
                "word_count": sub.word_count,
                "flags": _flags(sub.flags, with_field=True),
                "current": bool(sub.current),
                "decision": decided[sub.id].as_dict(tz) if sub.id in decided else None,
            }
            for sub, message in submissions
        ],
        "reminders": _reminders(session, tz),
        # the paper-copy register: which unit's stamped copies arrived, and when
        "paper_copies": [{"unit": p.unit, "received_on": p.received_on.isoformat(), "note": p.note or ""}
                         for p in papers],
    }


def _reminders(session: Session, tz: dt.tzinfo) -> list[dict[str, Any]]:
    """Every reminder (催报) of the ledger, with its mail's delivery state (kind ``reminder``)."""
    rows = session.execute(
        select(ReminderSent, OutboxItem).outerjoin(OutboxItem, OutboxItem.id == ReminderSent.outbox_id)
        .order_by(ReminderSent.id)
    ).all()
    return [
        {"kind": "reminder", "reminder": reminder.kind, "unit": reminder.unit, "day": reminder.day.isoformat(),
         "to": list(item.recipients or []) if item is not None else [],
         "status": item.status if item is not None else "phone", "sent_at": _iso(item.sent_at if item else None, tz)}
        for reminder, item in rows
    ]


def write_json(session: Session, out: TextIO, *, tz: dt.tzinfo = DEFAULT_TZ) -> None:
    json.dump(export_json(session, tz=tz), out, ensure_ascii=False, indent=2)
    out.write("\n")


def _safe(value: Any) -> Any:
    """Keep spreadsheet programs from running a cell typed by an applicant as a formula."""
    if not isinstance(value, str) or not value:
        return value
    risky = value[0] in ("=", "@", "\t", "\r") or (value[0] in ("+", "-") and not value[1:2].isdigit())
    return "'" + value if risky else value


def csv_columns(forms: FormSet) -> list[tuple[str, str]]:
    """(key, header) of every form field across the tables, each key once, in form order."""
    seen: dict[str, str] = {}
    for definition in forms.tables:
        for item in definition.fields:
            seen.setdefault(item.key, item.label)
    return list(seen.items())


def export_csv(session: Session, out: TextIO, forms: FormSet, *, tz: dt.tzinfo = DEFAULT_TZ) -> int:
    """One row per submission; the campaign's form fields (``forms``) as columns (key names in the header).
    Returns the row count."""
    definitions = forms
    field_columns = csv_columns(definitions)
    known = {key for key, _ in field_columns}
    data = export_json(session, tz=tz)
    by_message = {m["message_id"]: m for m in data["messages"]}
    extra = sorted({k for s in data["submissions"] for k in s["fields"] if k not in known})
    writer = csv.writer(out)
    writer.writerow(["id", "table", "current", "word_count", "flags", "message_id", "from", "received_at", "status",
                     "attachment", "decision", *[key for key, _ in field_columns], *extra, "paper_received_on"])
    # the paper-copy register, per row: the date the form's unit's stamped copies arrived, else empty
    paper_dates = {p["unit"]: p["received_on"] for p in data["paper_copies"]}
    units = {sub_id: unit for sub_id, unit in session.execute(select(Submission.id, Submission.unit))}
    for sub in data["submissions"]:
        message = by_message.get(sub["message_id"], {})
        flags = "；".join(f"{f['code']}: {f['message']}" for f in sub["flags"])
        values = [sub["id"], sub["table"], "yes" if sub["current"] else "no", sub["word_count"], flags,
                  sub["message_id"], message.get("from", ""), message.get("received_at", ""),
                  message.get("status", ""), sub["attachment"], _decision_text(sub["decision"]),
                  *[sub["fields"].get(key, "") for key, _ in field_columns], *[sub["fields"].get(k, "") for k in extra],
                  paper_dates.get(units.get(sub["id"]) or "", "")]
        writer.writerow([_safe(v) for v in values])
    return len(data["submissions"])


def _decision_text(decision: dict[str, Any] | None) -> str:
    if not decision:
        return ""
    label = DECISION_LABELS.get(decision["kind"], decision["kind"])
    return f"{label}：{decision['reason']}（{decision['by']}，{decision['at']}）"


def export_xlsx(session: Session, path: str | Path, *, settings: Settings, now: dt.datetime | None = None) -> Path:
    """The report's workbook (汇总, 表1–表4 with every current record, 邮件) without recording a report."""
    from mailintake.report.build import collect
    from mailintake.report.workbook import write_workbook

    data = collect(settings, session, now=now, since=None)
    return write_workbook(data, Path(path))
