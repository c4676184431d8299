"""原则上每家申报不超过2个: submissions beyond a table's per-unit limit ([table.quota] of the campaign
file; 表1's projects) are flagged, in arrival order.

The rule runs no query: the record stage (which holds the session) counts each unit's current
submissions of every table with a quota — one the office recorded as withdrawn (撤回) no longer
counts — and passes them in as ``MailContext.quota``.
"""

from __future__ import annotations

from collections.abc import Iterable

from mailintake.campaign.identity import UnitNamer, identity_key
from mailintake.campaign.quotas import unit_limit
from mailintake.rules.base import Findings, MailContext
from parsers.records import FileResult, Flag


def quota_units(results: Iterable[FileResult], unit_namer: UnitNamer) -> set[tuple[int, str]]:
    """The (table, unit as grouped) pairs whose current submissions the rule needs counted for these files."""
    pairs: set[tuple[int, str]] = set()
    for result in results:
        for form in result.forms:
            table = unit_namer.campaign.table(form.table)
            typed = table.typed_unit(form.fields)
            if table.quota is not None and typed.strip():
                pairs.add((form.table, unit_namer(typed)))
    return pairs


class QuotaRule:
    name = "quota"
    description = "More current submissions of a table from one unit than its [table.quota] limit."

    def check(self, ctx: MailContext) -> Findings:
        counted: dict[tuple[int, str], set[str]] = {}
        flags: dict[tuple[int, int], tuple[Flag, ...]] = {}
        for file_index, form_index, _outcome, form in ctx.forms():
            limit = unit_limit(ctx.unit_namer.campaign, form.table, ctx.settings.campaign.max_projects_per_unit)
            typed = ctx.unit_namer.campaign.table(form.table).typed_unit(form.fields)
            if limit is None or not typed.strip():
                continue
            pair = (form.table, ctx.unit_namer(typed))
            keys = counted.setdefault(pair, set(ctx.quota.counted.get(pair, ())))
            key = identity_key(form.table, form.fields, ctx.unit_namer)
            if key in keys:
                continue  # a resubmission of one already counted replaces it
            keys.add(key)
            if len(keys) > limit.limit:
                flags[(file_index, form_index)] = (limit.flag(form.fields, typed, len(keys) - 1),)
        return Findings(form_flags=flags)
