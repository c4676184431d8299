"""The office's decisions as the rest of the house reads them: the newest decision per submission, and
what it means for the candidate list and the quotas (recording one is ``mailintake.office.decisions``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.db.models import Decision

DECISION_LABELS: dict[str, str] = {"accept": "同意受理", "withdraw": "撤回"}
#: submission flags that keep a form off the candidate list unless the office accepts it
BLOCKING_CODES = frozenset({"late", "overlong", "incomplete", "quota_exceeded"})


@dataclass(frozen=True)
class DecisionInfo:
    """A decision as the report, the workbook, the export and the console show it."""

    kind: str
    reason: str
    by: str
    at: dt.datetime

    @property
    def label(self) -> str:
        return DECISION_LABELS.get(self.kind, self.kind)

    def as_dict(self, tz: dt.tzinfo) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "by": self.by, "at": self.at.astimezone(tz).isoformat()}

    def text(self, tz: dt.tzinfo) -> str:
        return f"{self.label}（{self.by}，{self.at.astimezone(tz):%Y-%m-%d %H:%M}）：{self.reason}"


def decision_info(row: Decision) -> DecisionInfo:
    return DecisionInfo(kind=row.kind, reason=row.reason, by=row.actor, at=row.at)


def latest_decisions(session: Session, submission_ids: Iterable[int] | None = None) -> dict[int, DecisionInfo]:
    """The newest decision of each submission (of ``submission_ids``, or all)."""
    query = select(Decision).order_by(Decision.at, Decision.id)
    if submission_ids is not None:
        wanted = list(submission_ids)
        if not wanted:
            return {}
        query = query.where(Decision.submission_id.in_(wanted))
    return {row.submission_id: decision_info(row) for row in session.scalars(query)}


def withdrawn_ids(session: Session, submission_ids: Iterable[int]) -> set[int]:
    """The submissions among ``submission_ids`` whose newest decision is 撤回."""
    return {sid for sid, info in latest_decisions(session, submission_ids).items() if info.kind == "withdraw"}


def counts_as_candidate(flag_codes: set[str], late: bool, decision: DecisionInfo | None) -> bool:
    """On the candidate list: accepted by decision, or on time without a blocking flag and not withdrawn."""
    if decision is not None:
        return decision.kind == "accept"
    return not late and not (flag_codes & BLOCKING_CODES)


def counts_for_quota(late: bool, decision: DecisionInfo | None) -> bool:
    """Counted against the 附件2 quotas: on time (or accepted by decision) and not withdrawn."""
    if decision is not None:
        return decision.kind == "accept"
    return not late
