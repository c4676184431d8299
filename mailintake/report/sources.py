"""The data files the report reads: roster, quotas, form definitions, templates.

Each is looked for where the configuration points (relative to ``base_dir``); when a relative path
is missing there, the repository's shipped copy is used, so a fresh install reports out of the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailintake.config import Settings
from mailintake.errors import ConfigError
from mailintake.quotas import Quotas, load_quotas
from mailintake.roster import Roster, load_roster
from parsers.definitions import FormSet, load_definitions

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
REPORT_TEMPLATE = "report.html.j2"


def resolve(settings: Settings, value: str, key: str) -> Path:
    """The configured file, else the repository's copy of a relative default; ConfigError otherwise."""
    configured = settings.path(value)
    if configured.exists():
        return configured
    shipped = REPO_ROOT / value
    if not Path(value).is_absolute() and shipped.exists():
        return shipped
    raise ConfigError(f"config: {key} {configured} not found; fix the path or restore the file")


def template_dir(settings: Settings) -> Path:
    """The configured templates directory if it holds the report template, else the shipped one."""
    configured = settings.path(settings.campaign.templates)
    if (configured / REPORT_TEMPLATE).exists():
        return configured
    shipped = REPO_ROOT / "config" / "templates"
    if (shipped / REPORT_TEMPLATE).exists():
        return shipped
    raise ConfigError(f"config: {configured / REPORT_TEMPLATE} not found; restore it from the repository")


@dataclass(frozen=True)
class Sources:
    roster: Roster
    quotas: Quotas
    forms: FormSet
    templates: Path


def load_sources(settings: Settings) -> Sources:
    campaign = settings.campaign
    return Sources(
        roster=load_roster(resolve(settings, campaign.roster, "[campaign] roster")),
        quotas=load_quotas(resolve(settings, campaign.quotas, "[campaign] quotas")),
        forms=load_definitions(resolve(settings, campaign.forms, "[campaign] forms")),
        templates=template_dir(settings),
    )
