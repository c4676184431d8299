"""The data files the report reads: roster, quotas, form definitions, templates.

Each is looked for where the configuration points (relative to ``base_dir``); a key left at its
default uses the shipped copy (mailintake.config.shipped), so a fresh install reports out of the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailintake.campaign.quotas import Quotas, load_quotas
from mailintake.campaign.roster import Roster, load_roster
from mailintake.campaign.rules import campaign_rules
from mailintake.config.settings import Settings
from mailintake.config.shipped import campaign_path, shipped, warn_once
from mailintake.errors import ConfigError
from parsers.definitions import FormSet, load_definitions

REPORT_TEMPLATE = "report.html.j2"


def template_dir(settings: Settings) -> Path:
    """The configured templates directory if it holds the report template, else the shipped one."""
    configured = campaign_path(settings, "templates")
    if (configured / REPORT_TEMPLATE).exists():
        return configured
    fallback = shipped("templates")
    if (fallback / REPORT_TEMPLATE).exists():
        warn_once(f"template {REPORT_TEMPLATE} not found in {configured}; using the shipped copy")
        return fallback
    raise ConfigError(f"config: {configured / REPORT_TEMPLATE} not found; restore it from the repository")


@dataclass(frozen=True)
class Sources:
    roster: Roster
    quotas: Quotas
    forms: FormSet
    templates: Path


def load_sources(settings: Settings) -> Sources:
    return Sources(
        roster=load_roster(campaign_path(settings, "roster"), campaign_rules(settings).units),
        quotas=load_quotas(campaign_path(settings, "quotas"), campaign_rules(settings).units.categories),
        forms=load_definitions(campaign_path(settings, "forms")),
        templates=template_dir(settings),
    )
