"""原则上每家申报不超过2个: submissions beyond a table's per-unit limit ([table.quota] of the campaign
file; 表1's projects) are flagged, in arrival order.

A project the office recorded as withdrawn (撤回) no longer counts against its unit's limit."""

from __future__ import annotations

from sqlalchemy import select

from mailintake.db.models import Submission
from mailintake.office.decisions import withdrawn_ids
from mailintake.quotas import unit_limit
from mailintake.rules.base import MailContext
from mailintake.submissions import identity_key


class QuotaRule:
    name = "quota"
    description = "More current submissions of a table from one unit than its [table.quota] limit."

    def check(self, ctx: MailContext) -> bool:
        found = False
        counted: dict[tuple[int, str], set[str]] = {}
        for file_index, form_index, _outcome, form in ctx.forms():
            limit = unit_limit(ctx.unit_namer.campaign, form.table, ctx.settings.campaign.max_projects_per_unit)
            typed = ctx.unit_namer.campaign.table(form.table).typed_unit(form.fields)
            if limit is None or not typed.strip():
                continue
            unit = ctx.unit_namer(typed)
            key = identity_key(form.table, form.fields, ctx.unit_namer)
            if (form.table, unit) not in counted:
                existing = ctx.session.execute(
                    select(Submission.id, Submission.identity_key).where(
                        Submission.table_no == form.table,
                        Submission.current.is_(True),
                        Submission.unit == unit,
                    )
                ).all()
                withdrawn = withdrawn_ids(ctx.session, [row.id for row in existing])
                counted[(form.table, unit)] = {row.identity_key for row in existing if row.id not in withdrawn}
            keys = counted[(form.table, unit)]
            if key in keys:
                continue  # a resubmission of a project already counted replaces it
            keys.add(key)
            if len(keys) > limit.limit:
                flag = limit.flag(form.fields, typed, len(keys) - 1)
                ctx.form_flags.setdefault((file_index, form_index), []).append(flag)
                found = True
        return found


