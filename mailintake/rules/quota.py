"""原则上每家申报不超过2个: 表1 projects beyond the per-unit limit are flagged, in arrival order.

A project the office recorded as withdrawn (撤回) no longer counts against its unit's limit."""

from __future__ import annotations

from sqlalchemy import select

from mailintake.db.models import Submission
from mailintake.office.decisions import withdrawn_ids
from mailintake.rules.base import MailContext
from mailintake.submissions import identity_key
from parsers.records import Flag


class QuotaRule:
    name = "quota"
    description = "More current 表1 projects from one unit than max_projects_per_unit."

    def check(self, ctx: MailContext) -> bool:
        limit = ctx.settings.campaign.max_projects_per_unit
        found = False
        counted: dict[str, set[str]] = {}
        for file_index, form_index, _outcome, form in ctx.forms():
            if form.table != 1:
                continue
            if not form.fields.get("unit", "").strip():
                continue
            unit = ctx.unit_namer(form.fields["unit"])
            key = identity_key(form.table, form.fields, ctx.unit_namer)
            if unit not in counted:
                existing = ctx.session.execute(
                    select(Submission.id, Submission.identity_key).where(
                        Submission.table_no == 1,
                        Submission.current.is_(True),
                        Submission.unit == unit,
                    )
                ).all()
                withdrawn = withdrawn_ids(ctx.session, [row.id for row in existing])
                counted[unit] = {row.identity_key for row in existing if row.id not in withdrawn}
            keys = counted[unit]
            if key in keys:
                continue  # a resubmission of a project already counted replaces it
            keys.add(key)
            if len(keys) > limit:
                ctx.form_flags.setdefault((file_index, form_index), []).append(
                    Flag(
                        "quota_exceeded",
                        f"“{form.fields.get('unit', '')}”已申报{len(keys) - 1}个改革创新项目，按通知要求原则上"
                        f"每家申报不超过{limit}个，本项目“{form.fields.get('project', '')[:40]}”超出限额，"
                        "请确认需申报的项目后重新发送。",
                        field="project",
                    )
                )
                found = True
        return found


