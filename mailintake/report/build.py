"""The office's daily intake report: HTML summary + 汇总表 workbook, optionally mailed.

``build_report`` writes both files and records a ``Report`` row (flushed, not committed: the caller
owns the transaction). "Since the last report" means since the previous Report row's generated_at.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.campaign.sources import Sources, load_sources
from mailintake.config.settings import Settings
from mailintake.db.models import Report
from mailintake.report.data import ReportData, ReportFiles, gather
from mailintake.report.html import render_html
from mailintake.report.workbook import write_workbook


def collect(
    settings: Settings,
    session: Session,
    *,
    for_date: dt.date | None = None,
    now: dt.datetime | None = None,
    since: dt.datetime | None = None,
    sources: Sources | None = None,
) -> ReportData:
    """The report's facts without writing anything (``since`` None: everything is new)."""
    tz = settings.campaign.tz
    moment = now or dt.datetime.now(dt.UTC)
    src = sources or load_sources(settings)
    data = gather(
        session,
        roster=src.roster,
        quotas=src.quotas,
        forms=src.forms,
        tz=tz,
        for_date=for_date or moment.astimezone(tz).date(),
        now=moment,
        since=since,
        campaign=settings.campaign.name,
        office=settings.campaign.office_name,
        deadline=settings.campaign.deadline,
        max_chars=settings.campaign.max_chars,
        console_url=settings.web.base_url,
    )
    from mailintake.office.reminders import preview_reminders

    data.phone_reminders = [r for r in preview_reminders(session, settings, src, moment) if r.address is None]
    return data


def build_report(
    settings: Settings,
    session: Session,
    *,
    for_date: dt.date | None = None,
    out_dir: Path | None = None,
    now: dt.datetime | None = None,
    baseline: bool = True,
) -> ReportFiles:
    """Write the HTML and the workbook, record a Report row, return their paths and a summary.

    "New" counts from the last baseline report (the scheduled one, or one sent with ``--send``);
    ``baseline=False`` (a manual look) does not move that point for the next daily report.
    """
    moment = now or dt.datetime.now(dt.UTC)
    previous = session.scalars(select(Report).where(Report.baseline.is_(True))
                               .order_by(Report.generated_at.desc(), Report.id.desc()).limit(1)).first()
    since = previous.generated_at if previous is not None else None
    sources = load_sources(settings)
    data = collect(settings, session, for_date=for_date, now=moment, since=since, sources=sources)
    directory = out_dir if out_dir is not None else settings.path(settings.report.dir)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = f"{data.for_date.isoformat()}-{data.generated_at:%H%M%S}"
    html_path = directory / f"report-{stamp}.html"
    xlsx_path = directory / f"summary-{stamp}.xlsx"
    html_path.write_text(render_html(data, sources.templates), "utf-8")
    write_workbook(data, xlsx_path)
    report = Report(for_date=data.for_date, generated_at=moment, since=since,
                    html_path=str(html_path), xlsx_path=str(xlsx_path), sent=False, baseline=baseline)
    session.add(report)
    session.flush()
    return ReportFiles(html_path=html_path, xlsx_path=xlsx_path, summary=data.summary(),
                       report_id=report.id, for_date=data.for_date)

