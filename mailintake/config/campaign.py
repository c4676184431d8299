"""The ``[campaign]`` section: the campaign's identity, its files, and the office as replies show it.

Keys a config file leaves out come from the ``[campaign]`` table of the campaign file (``forms``,
config/forms.toml by default), so the office's name, contact and address live only in configuration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mailintake.config.file import campaign_file_table
from mailintake.config.shipped import CAMPAIGN_DEFAULTS

#: the campaign file: form definitions, per-table rules, and the [campaign] keys a config file leaves out

Positive = Annotated[int, Field(ge=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignSettings(Section):
    """The campaign: keys left out of ``[campaign]`` come from the ``[campaign]`` table of the campaign file
    (``forms``, config/forms.toml), so the office's name, contact and address live only in configuration."""

    name: str
    deadline: datetime
    timezone: str = "Asia/Shanghai"
    max_chars: Positive = 1000
    #: the per-unit limit of a table whose [table.quota] gives none (表1: 原则上每家申报不超过2个)
    max_projects_per_unit: Positive = 2
    receipt_prefix: str = ""
    #: receipt numbers: ``{prefix}`` is receipt_prefix, ``{n}`` the running number
    receipt_format: str = "{prefix}-{n:04d}"
    #: the name of the report's workbook as mailed and downloaded: <report_file>-2019-12-19.xlsx
    report_file: str = "汇总表"
    forms: str = CAMPAIGN_DEFAULTS["forms"]
    roster: str = CAMPAIGN_DEFAULTS["roster"]
    quotas: str = CAMPAIGN_DEFAULTS["quotas"]
    templates: str = CAMPAIGN_DEFAULTS["templates"]
    #: the office's own blank 附件1 (.docx) sent with the no-form reply and 催报; "" = generated from ``forms``
    blank_forms: str = ""
    office_name: str
    office_contact: str
    office_address: str
    paper_copies: Positive = 2
    #: who casts the 民主测评 ballot (局领导, 处室负责人, …): the anonymous ballot offers one box per category
    evaluators: tuple[str, ...] = ()

    @field_validator("evaluators")
    @classmethod
    def _evaluators(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(name.strip() for name in value)
        if any(not name for name in names) or len(set(names)) != len(names):
            raise ValueError("needs distinct, non-empty category names, e.g. [\"局领导\", \"处室负责人\"]")
        return names

    @field_validator("receipt_format")
    @classmethod
    def _receipt_format(cls, value: str) -> str:
        try:
            first, second = value.format(prefix="P", n=1), value.format(prefix="P", n=2)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a format with {{prefix}} and {{n}}, e.g. \"{{prefix}}-{{n:04d}}\" "
                             f"({exc})") from None
        if first == second:
            raise ValueError(f"{value!r} lacks the running number {{n}}, e.g. \"{{prefix}}-{{n:04d}}\"")
        return value

    @field_validator("office_name", "office_contact", "office_address")
    @classmethod
    def _filled(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; write the office's details as replies show them")
        return value.strip()

    @field_validator("deadline")
    @classmethod
    def _deadline_has_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2019-12-18T17:30:00+08:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def receipt_number(self, n: int) -> str:
        """The ``n``-th receipt number: ``2019-0042``."""
        return self.receipt_format.format(prefix=self.receipt_prefix, n=n)


def campaign_file_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """The ``[campaign]`` table of the campaign file that ``[campaign] forms`` names (the shipped
    config/forms.toml by default): the keys the config file leaves out. {} when the file cannot be read
    (``check-config`` names that problem)."""
    return campaign_file_table(data)
