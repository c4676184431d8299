"""``mailintake status``: what the worker did last and what is waiting."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from mailintake.commands._common import database, load, user_errors
from mailintake.config.settings import Settings
from mailintake.db.vocabulary import MailStatus, OutboxStatus
from mailintake.util.text import local_iso


def _local(value: dt.datetime | None, settings: Settings) -> str | None:
    return local_iso(value, settings.campaign.tz) if value else None


def idle_mode(settings: Settings) -> str:
    """What ``[mailbox] idle`` asks for, in words (the worker logs whether the server offered IDLE)."""
    idle = settings.mailbox.idle
    if idle == "auto":
        return "auto: in use where the server announces IDLE (the worker log says `IMAP IDLE active`)"
    return "on (forced)" if idle else f"off: polling every {settings.schedule.poll_interval} s"


def worker_state(settings: Settings) -> dict[str, Any]:
    """Whether a worker holds this database's lock right now (and its pid when known)."""
    from mailintake.db.locking import worker_lock
    from mailintake.errors import WorkerBusyError

    try:
        with worker_lock(settings, wait=False):
            return {"running": False, "pid": None}
    except WorkerBusyError as err:
        return {"running": True, "pid": err.pid}


def _problems(data: dict[str, Any]) -> list[str]:
    """What the operator must look at, one line each; empty when all is well."""
    problems = []
    imap = data["imap"]
    if imap["state"] == "unreachable":
        problems.append(f"IMAP mailbox unreachable since {imap['since']} (last tried {imap['checked_at']}): "
                        f"{imap['cause']}; {imap['fix']}")
    smtp = data["smtp"]
    if smtp["state"] == "unreachable":
        problems.append(f"SMTP unreachable since {smtp['since']} ({smtp['waiting']} replies waiting): "
                        f"{smtp['cause']}; {smtp['fix']}")
    poll = data["last_poll"]
    if poll is not None and poll["error"]:
        problems.append(f"the last poll failed: {poll['error']}")
    failed_mails = data["messages"].get(MailStatus.failed, 0)
    if failed_mails:
        problems.append(f"{failed_mails} mail(s) could not be processed (status failed); see the worker log, fix the "
                        "cause, then `mailintake reprocess --status failed`")
    failed_replies = data["replies"].get(OutboxStatus.failed, 0) + data["report_mails"].get(OutboxStatus.failed, 0)
    if failed_replies:
        problems.append(f"{failed_replies} mail(s) to send failed for good; see `Failed replies` below; once the "
                        "cause is fixed `mailintake resend --failed` queues them all once more (or `mailintake "
                        "resend RECEIPT` one)")
    return problems


def gather_status(settings: Settings, session_factory: Any) -> dict[str, Any]:
    """Everything ``status`` shows, as plain data."""
    from sqlalchemy import func, select

    from mailintake.db.health import MAILBOX, outage
    from mailintake.db.models import MailboxState, Message, OutboxItem, PollRun, Report
    from mailintake.outbox.health import smtp_outage

    with session_factory() as session:
        poll = session.scalars(select(PollRun).order_by(PollRun.id.desc()).limit(1)).first()
        last_ok = session.scalars(
            select(PollRun).where(PollRun.error.is_(None), PollRun.finished_at.is_not(None))
            .order_by(PollRun.id.desc()).limit(1)
        ).first()
        report = session.scalars(select(Report).order_by(Report.id.desc()).limit(1)).first()
        states = session.scalars(select(MailboxState).order_by(MailboxState.folder)).all()
        by_status = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
        is_report = OutboxItem.kind == "report"
        outbox = dict(session.execute(select(OutboxItem.status, func.count()).where(~is_report)
                                      .group_by(OutboxItem.status)).all())
        report_mails = dict(session.execute(select(OutboxItem.status, func.count()).where(is_report)
                                            .group_by(OutboxItem.status)).all())
        failed = session.scalars(
            select(OutboxItem).where(OutboxItem.status == OutboxStatus.failed).order_by(OutboxItem.id.desc()).limit(10)
        ).all()
        pending = session.scalars(
            select(OutboxItem).where(OutboxItem.status == OutboxStatus.pending)
            .order_by(OutboxItem.next_attempt_at).limit(10)
        ).all()

        def poll_dict(run: PollRun | None) -> dict[str, Any] | None:
            if run is None:
                return None
            duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
            return {"started_at": _local(run.started_at, settings), "finished_at": _local(run.finished_at, settings),
                    "duration": round(duration, 3) if duration is not None else None,
                    "counts": run.counts or {}, "error": run.error}

        def item(row: OutboxItem) -> dict[str, Any]:
            return {"id": row.id, "kind": row.kind, "to": list(row.recipients or []), "subject": row.subject,
                    "attempts": row.attempts, "next_attempt_at": _local(row.next_attempt_at, settings),
                    "last_error": row.last_error}

        smtp = smtp_outage(session)
        imap = outage(session, MAILBOX)
        data: dict[str, Any] = {
            "worker": worker_state(settings),
            "idle": idle_mode(settings),
            "imap": {"state": "ok"} if imap is None else {
                "state": "unreachable", "since": _local(imap.since, settings),
                "checked_at": _local(imap.checked_at, settings), "cause": imap.cause, "fix": imap.fix},
            "smtp": {"state": "ok"} if smtp is None else {
                "state": "unreachable", "since": _local(smtp.since, settings),
                "checked_at": _local(smtp.checked_at, settings), "cause": smtp.cause, "fix": smtp.fix,
                "waiting": int(outbox.get(OutboxStatus.pending, 0)) + int(report_mails.get(OutboxStatus.pending, 0))},
            "last_poll": poll_dict(poll),
            "last_successful_poll": poll_dict(last_ok) if last_ok is not None and last_ok is not poll else None,
            "mailbox": [{"folder": s.folder, "uidvalidity": s.uidvalidity, "last_uid": s.last_uid,
                         "last_poll_at": _local(s.last_poll_at, settings)} for s in states],
            "last_report": None if report is None else {
                "for_date": report.for_date.isoformat(), "generated_at": _local(report.generated_at, settings),
                "html": report.html_path, "xlsx": report.xlsx_path, "sent": report.sent},
            "messages": {str(k): int(v) for k, v in sorted(by_status.items())},
            "replies": {str(k): int(v) for k, v in sorted(outbox.items())},
            "report_mails": {str(k): int(v) for k, v in sorted(report_mails.items())},
            "replies_pending": [item(r) for r in pending],
            "replies_failed": [item(r) for r in failed],
        }
        data["problems"] = _problems(data)
        return data


def _poll_line(poll: dict[str, Any]) -> str:
    """``2019-12-17T09:30:00+08:00, took 0.4 s: OK, 3 new mails (accepted 2, no_form 1), 1 duplicate``."""
    took = f", took {poll['duration']:.1f} s" if poll["duration"] is not None else " (did not finish)"
    if poll["error"]:
        return f"{poll['started_at']}{took}: FAILED: {poll['error']}"
    counts = poll["counts"] or {}
    fetched = int(counts.get("fetched", 0))
    by_status = ", ".join(f"{k} {v}" for k, v in sorted((counts.get("counts") or {}).items()))
    parts = [f"{fetched} new mail(s)" + (f" ({by_status})" if by_status else "") if fetched else "no new mail"]
    for key, label in (("duplicates", "duplicate(s) skipped"), ("retried", "failed mail(s) retried")):
        if counts.get(key):
            parts.append(f"{counts[key]} {label}")
    if counts.get("rescanned"):
        parts.append("folder rescanned after a UIDVALIDITY change")
    return f"{poll['started_at']}{took}: OK, " + ", ".join(parts)


def _sent_line(counts: dict[str, int]) -> str:
    return f"{counts.get('sent', 0)} sent, {counts.get('pending', 0)} waiting, {counts.get('failed', 0)} failed"


def render(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    worker = data["worker"]
    console.print(f"[bold]Worker[/]: {'running' if worker['running'] else 'not running'}"
                  + (f" (pid {worker['pid']})" if worker["pid"] else ""))
    poll = data["last_poll"]
    console.print("[bold]Last poll[/]: " + ("never" if poll is None else _poll_line(poll)))
    if data["last_successful_poll"]:
        console.print(f"  last successful poll: {data['last_successful_poll']['started_at']}")
    for state in data["mailbox"]:
        console.print(f"[bold]Mailbox[/]: {state['folder']}, last UID {state['last_uid']}, "
                      f"polled {state['last_poll_at'] or 'never'}")
    report = data["last_report"]
    console.print("[bold]Last report[/]: " + ("never" if report is None else
                  f"{report['for_date']} (written {report['generated_at']}, "
                  f"{'mailed' if report['sent'] else 'not mailed'}) {report['html']}"))
    table = Table(title="Mails by status")
    table.add_column("status")
    table.add_column("mails", justify="right")
    for status, count in data["messages"].items():
        table.add_row(f"[red]{status}[/]" if status == "failed" else status, str(count))
    table.add_row("[bold]total[/]", str(sum(data["messages"].values())))
    console.print(table)
    console.print(f"[bold]IMAP IDLE[/]: {data['idle']}")
    imap = data["imap"]
    console.print("[bold]IMAP[/]: " + ("ok" if imap["state"] == "ok" else f"unreachable since {imap['since']}"))
    smtp = data["smtp"]
    console.print("[bold]SMTP[/]: " + ("ok" if smtp["state"] == "ok" else f"unreachable since {smtp['since']}"))
    console.print(f"[bold]Replies[/]: {_sent_line(data['replies'])}")
    if data["report_mails"]:
        console.print(f"[bold]Report mails[/]: {_sent_line(data['report_mails'])}")
    problems = data["problems"]
    console.print("[bold]Problems[/]: " + ("none" if not problems else ""))
    for line in problems:
        console.print(f"  [red]![/] {line}")
    for title, rows in (("Waiting", data["replies_pending"]), ("Failed", data["replies_failed"])):
        if not rows:
            continue
        detail = Table(title=f"{title} replies")
        for column in ("id", "kind", "to", "subject", "attempts", "last error"):
            detail.add_column(column)
        for row in rows:
            detail.add_row(str(row["id"]), row["kind"], ", ".join(row["to"]), row["subject"], str(row["attempts"]),
                           row["last_error"] or "")
        console.print(detail)


@click.command("status", help="Show the last poll and its result, the last report, mails by status and replies "
                              "waiting or failed.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    with user_errors():
        settings = load(ctx)
        data = gather_status(settings, database(settings))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        render(data)
