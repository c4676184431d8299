"""Submission identity and supersession: a later form with the same identity replaces the older one."""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.campaign.cache import cached
from mailintake.campaign.roster import normalise
from mailintake.campaign.rules import UNIT, CampaignRules, campaign_rules, default_campaign, load_campaign
from mailintake.db.models import Submission
from mailintake.errors import ConfigError

if TYPE_CHECKING:
    from mailintake.campaign.roster import Roster
    from mailintake.config.settings import Settings

log = logging.getLogger("mailintake.submissions")

_SEAL = re.compile(r"[（(]\s*盖\s*章\s*[)）]")
_SPACE = re.compile(r"\s+")
#: how much of a free-text identity field (a project's name and description) is compared
IDENTITY_CHARS = 200


def normalise_text(value: str) -> str:
    """NFKC (full-width → half-width), no seal mark, no whitespace: for comparing free text (a project,
    a person's name). Unit names go through :func:`mailintake.campaign.roster.normalise`."""
    text = unicodedata.normalize("NFKC", value or "")
    text = _SEAL.sub("", text)
    return _SPACE.sub("", text)


class UnitNamer:
    """Maps a unit name as typed to the name submissions are grouped by (the roster's name when the typed
    name or an alias matches a roster unit), and applies the campaign's rules per table: which field
    names the unit, what identifies one submission. Without a roster: the name normalised."""

    def __init__(self, campaign: CampaignRules | None = None, roster: Roster | None = None) -> None:
        self._campaign = campaign
        self.roster = roster

    @property
    def campaign(self) -> CampaignRules:
        return self._campaign or default_campaign()

    def __call__(self, typed: str) -> str:
        if self.roster is None:
            return normalise(typed, self.campaign.units)
        unit = self.roster.match(typed)
        return self.roster.normalise(unit.name if unit is not None else typed)

    def unit(self, table: int, fields: dict[str, str]) -> str:
        """The unit a form counts for: its table's first filled unit field (表3/表4: the recommending unit)."""
        return self(self.campaign.table(table).typed_unit(fields))

    def identity(self, table: int, fields: dict[str, str]) -> str:
        """``<table>|<part>|…``: the unit (matched) and the normalised identity fields of the table."""
        parts = [self.unit(table, fields) if key == UNIT else normalise_text(fields.get(key, ""))[:IDENTITY_CHARS]
                 for key in self.campaign.table(table).identity]
        return f"{table}|" + "|".join(parts)


#: the shipped campaign's rules, no roster
normalise_unit = UnitNamer()


def roster_namer(roster: Roster | None, campaign: CampaignRules | None = None) -> UnitNamer:
    """Group by the roster's name when a typed name (or an alias) matches a roster unit."""
    return UnitNamer(campaign, roster)


def _namer(roster: Path, forms: Path) -> UnitNamer:
    from mailintake.campaign.roster import load_roster

    campaign = load_campaign(forms)
    return roster_namer(cached(load_roster, roster, campaign.units), campaign)


def load_unit_namer(settings: Settings) -> UnitNamer:
    """The configured campaign's namer with its roster (read again only when the roster or the campaign file
    changed). A roster path that does not exist is a ConfigError, as everywhere; a roster that cannot be
    read falls back to plain normalisation (and a warning)."""
    from mailintake.campaign.files import campaign_path

    roster, forms = campaign_path(settings, "roster"), campaign_path(settings, "forms")
    try:
        return cached(_namer, roster, forms)
    except ConfigError as exc:
        log.warning("%s; units are grouped by the names as typed", exc)
        return UnitNamer(campaign_rules(settings))


def submission_unit(table: int, fields: dict[str, str], namer: UnitNamer = normalise_unit) -> str:
    """The unit a form belongs to (the campaign file's ``unit`` of its table)."""
    return namer.unit(table, fields)


def identity_key(table: int, fields: dict[str, str], namer: UnitNamer = normalise_unit) -> str:
    """What identifies one submission (the campaign file's ``identity`` of its table)."""
    return namer.identity(table, fields)


def supersede(session: Session, new: Submission, *, later: list[int] | None = None) -> None:
    """Make ``new`` the current version of its identity, unless a newer version already exists.

    ``later``: ids of rows written in the same flush after ``new`` (they supersede it themselves).
    """
    query = select(Submission).where(
        Submission.identity_key == new.identity_key,
        Submission.current.is_(True),
        Submission.id != new.id,
    )
    if later:
        query = query.where(Submission.id.not_in(later))
    older = session.scalars(query).all()
    for previous in older:
        if previous.received_at <= new.received_at:
            previous.current = False
            previous.superseded_by = new.id
        else:
            new.current = False
            new.superseded_by = previous.id
