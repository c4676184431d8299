"""Submission identity and supersession: a later form with the same identity replaces the older one."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.db.models import Submission

_SEAL = re.compile(r"[（(]\s*盖\s*章\s*[)）]")
_SPACE = re.compile(r"\s+")


def normalise_text(value: str) -> str:
    """NFKC (full-width → half-width), no seal mark, no whitespace: for comparing names."""
    text = unicodedata.normalize("NFKC", value or "")
    text = _SEAL.sub("", text)
    return _SPACE.sub("", text)


def normalise_unit(value: str) -> str:
    return normalise_text(value)


def submission_unit(table: int, fields: dict[str, str]) -> str:
    """The unit a form belongs to: 表1/表2 the applying unit, 表3/表4 the recommending unit."""
    if table in (1, 2):
        return normalise_unit(fields.get("unit", ""))
    return normalise_unit(fields.get("recommender", "") or fields.get("unit_and_title", ""))


def identity_key(table: int, fields: dict[str, str]) -> str:
    """表1: unit + project; 表2: unit; 表3/表4: table + name + recommending unit."""
    if table == 1:
        parts = [normalise_unit(fields.get("unit", "")), normalise_text(fields.get("project", ""))[:200]]
    elif table == 2:
        parts = [normalise_unit(fields.get("unit", ""))]
    else:
        parts = [normalise_text(fields.get("name", "")), submission_unit(table, fields)]
    return f"{table}|" + "|".join(parts)


def supersede(session: Session, new: Submission) -> None:
    """Make ``new`` the current version of its identity, unless a newer version already exists."""
    older = session.scalars(
        select(Submission).where(
            Submission.identity_key == new.identity_key,
            Submission.current.is_(True),
            Submission.id != new.id,
        )
    ).all()
    for previous in older:
        if previous.received_at <= new.received_at:
            previous.current = False
            previous.superseded_by = new.id
        else:
            new.current = False
            new.superseded_by = previous.id
