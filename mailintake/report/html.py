"""Render the report's HTML from config/templates/report.html.j2 (Jinja2, autoescaped)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from jinja2 import Environment, TemplateNotFound

from mailintake.campaign.roster import UNMATCHED
from mailintake.config.shipped import html_environment
from mailintake.db.labels import ISSUE_CODES, STATUS_LABELS
from mailintake.errors import ConfigError
from mailintake.report.data import ReportData

TEMPLATE = "report.html.j2"


def _dt(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _tables(numbers: Iterable[int]) -> str:
    return "、".join(f"表{n}" for n in numbers)


def environment(template_dir: Path) -> Environment:
    env = html_environment(template_dir)
    env.filters.update(dt=_dt, d=_d, tables=_tables)
    return env


def render_html(data: ReportData, template_dir: Path) -> str:
    try:
        template = environment(template_dir).get_template(TEMPLATE)
    except TemplateNotFound:
        raise ConfigError(
            f"report: template {template_dir / TEMPLATE} not found; restore it from the repository"
        ) from None
    return template.render(
        r=data,
        status_labels=STATUS_LABELS,
        issue_titles=ISSUE_CODES,
        issue_numbers=["四", "五", "六"],
        unmatched_label=UNMATCHED,
    )
