"""Submission identity and supersession: a later form with the same identity replaces the older one."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.db.models import Submission

if TYPE_CHECKING:
    from mailintake.config import Settings
    from mailintake.roster import Roster

log = logging.getLogger("mailintake.submissions")

#: maps a unit name as typed to the name submissions are grouped by
UnitNamer = Callable[[str], str]

_SEAL = re.compile(r"[（(]\s*盖\s*章\s*[)）]")
_SPACE = re.compile(r"\s+")


def normalise_text(value: str) -> str:
    """NFKC (full-width → half-width), no seal mark, no whitespace: for comparing names."""
    text = unicodedata.normalize("NFKC", value or "")
    text = _SEAL.sub("", text)
    return _SPACE.sub("", text)


def normalise_unit(value: str) -> str:
    return normalise_text(value)


def roster_namer(roster: Roster | None) -> UnitNamer:
    """Group by the roster's name when a typed name (or an alias) matches a roster unit."""
    if roster is None:
        return normalise_unit

    def canonical(typed: str) -> str:
        unit = roster.match(typed)
        return normalise_unit(unit.name if unit is not None else typed)

    return canonical


#: roster file -> ((mtime_ns, size), its namer): a poll reloads the roster only when the file changed
_NAMERS: dict[Path, tuple[tuple[int, int], UnitNamer]] = {}


def load_unit_namer(settings: Settings) -> UnitNamer:
    """The roster-backed namer; without a readable roster, plain normalisation (and a warning).

    The roster is read again only when its file's modification time or size changed.
    """
    from mailintake.errors import ConfigError
    from mailintake.resources import campaign_path
    from mailintake.roster import load_roster

    try:
        path = campaign_path(settings, "roster")
        try:
            stat = path.stat()
            key = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None
        cached = _NAMERS.get(path)
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        namer = roster_namer(load_roster(path))
        if key is not None:
            _NAMERS[path] = (key, namer)
        return namer
    except ConfigError as exc:
        log.warning("%s; units are grouped by the names as typed", exc)
        return normalise_unit


def submission_unit(table: int, fields: dict[str, str], namer: UnitNamer = normalise_unit) -> str:
    """The unit a form belongs to: 表1/表2 the applying unit, 表3/表4 the recommending unit."""
    if table in (1, 2):
        return namer(fields.get("unit", ""))
    return namer(fields.get("recommender", "") or fields.get("unit_and_title", ""))


def identity_key(table: int, fields: dict[str, str], namer: UnitNamer = normalise_unit) -> str:
    """表1: unit + project; 表2: unit; 表3/表4: table + name + recommending unit."""
    if table == 1:
        parts = [namer(fields.get("unit", "")), normalise_text(fields.get("project", ""))[:200]]
    elif table == 2:
        parts = [namer(fields.get("unit", ""))]
    else:
        parts = [normalise_text(fields.get("name", "")), submission_unit(table, fields, namer)]
    return f"{table}|" + "|".join(parts)


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
