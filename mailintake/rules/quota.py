"""原则上每家申报不超过2个: 表1 projects beyond the per-unit limit are flagged, in arrival order.

The rule runs no query: the record stage (which holds the session) counts each unit's current
projects — a project the office recorded as withdrawn (撤回) no longer counts — and passes them in
as ``MailContext.quota``, together with the limit from :func:`quota_limit`.
"""

from __future__ import annotations

from collections.abc import Iterable

from mailintake.config import Settings
from mailintake.rules.base import Findings, MailContext
from mailintake.submissions import UnitNamer, identity_key
from parsers.records import FileResult, Flag

#: the table whose projects count against the limit
QUOTA_TABLE = 1


def quota_limit(settings: Settings) -> int:
    """How many current projects one unit may have."""
    return settings.campaign.max_projects_per_unit


def quota_units(results: Iterable[FileResult], unit_namer: UnitNamer) -> set[str]:
    """The units (as grouped) whose current projects the rule needs counted for these files."""
    return {unit_namer(form.fields["unit"]) for result in results for form in result.forms
            if form.table == QUOTA_TABLE and form.fields.get("unit", "").strip()}


class QuotaRule:
    name = "quota"
    description = "More current 表1 projects from one unit than max_projects_per_unit."

    def check(self, ctx: MailContext) -> Findings:
        limit = ctx.quota.limit
        counted: dict[str, set[str]] = {}
        flags: dict[tuple[int, int], tuple[Flag, ...]] = {}
        for file_index, form_index, _outcome, form in ctx.forms():
            if form.table != QUOTA_TABLE or not form.fields.get("unit", "").strip():
                continue
            unit = ctx.unit_namer(form.fields["unit"])
            keys = counted.setdefault(unit, set(ctx.quota.counted.get(unit, ())))
            key = identity_key(form.table, form.fields, ctx.unit_namer)
            if key in keys:
                continue  # a resubmission of a project already counted replaces it
            keys.add(key)
            if len(keys) > limit:
                flags[(file_index, form_index)] = (Flag(
                    "quota_exceeded",
                    f"“{form.fields.get('unit', '')}”已申报{len(keys) - 1}个改革创新项目，按通知要求原则上"
                    f"每家申报不超过{limit}个，本项目“{form.fields.get('project', '')[:40]}”超出限额，"
                    "请确认需申报的项目后重新发送。",
                    field="project",
                ),)
        return Findings(form_flags=flags)
