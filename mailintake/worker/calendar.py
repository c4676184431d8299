"""The worker's calendar jobs: the final 截止报告 once after the deadline, and scheduled reminders (催报).

Each runs in its own transaction and never raises (a failure is logged; the next start or the next
scheduled time tries again).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mailintake.config.settings import Settings

log = logging.getLogger("mailintake.worker")


def final_report_job(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime) -> Any:
    """Write and queue the 截止报告 when due and not yet done; the marker row makes a restart harmless."""
    from mailintake.campaign.sources import load_sources
    from mailintake.report.final_report import send_final_report

    try:
        with session_factory() as session:
            marker = send_final_report(session, settings, load_sources(settings), now)
            session.commit()
    except Exception as err:
        log.exception("final report failed: %s", err)
        return None
    if marker is not None:
        log.info("final report written", extra={"fields": {"html": marker.html_path,
                                                           "mailed": marker.outbox_id is not None}})
    return marker


def reminders_job(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime) -> Any:
    """Queue the reminders due now, as the worker."""
    from mailintake.campaign.sources import load_sources
    from mailintake.office.reminders import WORKER, send_reminders

    try:
        with session_factory() as session:
            result = send_reminders(session, settings, load_sources(settings), now, WORKER)
            session.commit()
    except Exception as err:
        log.exception("reminders failed: %s", err)
        return None
    log.info("reminders queued", extra={"fields": {"queued": len(result.queued), "by_phone": len(result.skipped)}})
    return result


def add_calendar_jobs(scheduler: Any, settings: Settings, now: dt.datetime, final_report: Callable[[], Any],
                      reminders: Callable[[], Any]) -> None:
    """The final report at deadline + final_delay (at once when that has passed) and, when enabled, the
    reminders at ``[reminders] times`` (a time missed by more than misfire_grace is skipped)."""
    from apscheduler.triggers.date import DateTrigger

    from mailintake.report.final_report import due_at

    tz = settings.campaign.tz
    scheduler.add_job(final_report, DateTrigger(run_date=max(due_at(settings), now), timezone=tz),
                      id="final_report", name="final report")
    if not settings.reminders.enabled:
        return
    grace = dt.timedelta(seconds=int(settings.schedule.misfire_grace))
    for index, when in enumerate(settings.reminders.times):
        local = when if when.tzinfo is not None else when.replace(tzinfo=tz)
        if local >= now - grace:
            scheduler.add_job(reminders, DateTrigger(run_date=max(local, now), timezone=tz),
                              id=f"reminders-{index}", name="reminders")
