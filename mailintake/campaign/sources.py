"""The campaign's files read together — roster, quotas, form definitions, templates — for the report, the
office's actions and the console.

Each is looked for where the configuration points (relative to ``base_dir``); a key left at its default uses
the shipped copy (mailintake.config.shipped), so a fresh install reports out of the box. Each is read through
the one cache (:mod:`mailintake.campaign.cache`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailintake.campaign.cache import cached
from mailintake.campaign.files import campaign_forms, campaign_path
from mailintake.campaign.quotas import Quotas, load_quotas
from mailintake.campaign.roster import Roster, load_roster
from mailintake.campaign.rules import campaign_rules
from mailintake.config.settings import Settings
from mailintake.config.shipped import shipped, warn_once
from mailintake.errors import ConfigError
from parsers.definitions import FormSet

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


def campaign_roster(settings: Settings) -> Roster:
    """The configured roster ([campaign] roster), matched by the campaign's [units] rules."""
    return cached(load_roster, campaign_path(settings, "roster"), campaign_rules(settings).units)


def campaign_quotas(settings: Settings) -> Quotas:
    """The configured quotas ([campaign] quotas) over the campaign's categories."""
    return cached(load_quotas, campaign_path(settings, "quotas"), campaign_rules(settings).units.categories)


def load_sources(settings: Settings) -> Sources:
    return Sources(roster=campaign_roster(settings), quotas=campaign_quotas(settings),
                   forms=campaign_forms(settings), templates=template_dir(settings))
