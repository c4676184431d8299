"""The hand-off's candidate lists: one per table of the forms, the candidates in order (what the 公示名单,
the 民主测评票 and the final report are made of)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailintake.campaign.decisions import DecisionInfo


@dataclass(frozen=True)
class Candidate:
    seq: int
    table: int
    submission_id: int
    #: 单位或姓名: the unit for 表1/表2, the person for 表3/表4
    name: str
    unit: str
    #: 所在单位及职务 (表3/表4)
    position: str
    #: 项目名称 (表1)
    project: str
    category: str
    decision: DecisionInfo | None
    storage_path: str | None
    file_format: str


@dataclass
class TableList:
    table: int
    name: str
    title: str
    quota_text: str
    candidates: list[Candidate] = field(default_factory=list)
