"""Received after the deadline: per the notice, 逾期未反馈视作不申报."""

from __future__ import annotations

import datetime as dt

from mailintake.rules.base import Findings, MailContext
from mailintake.util.text import cn_datetime
from parsers.records import Flag


def format_time(value: dt.datetime, ctx: MailContext) -> str:
    return cn_datetime(value, ctx.settings.campaign.tz)


def carries_material(ctx: MailContext) -> bool:
    """A file other than archiver junk, or a file that could not even be unpacked: lateness is about
    submitted material, so a thank-you or a question after the deadline is not "late"."""
    return any(not outcome.attachment.junk for outcome in ctx.files) or bool(ctx.mail.flags)


class LateRule:
    name = "late"
    description = "Material (a file) received (IMAP INTERNALDATE) after the campaign deadline."

    def check(self, ctx: MailContext) -> Findings:
        deadline = ctx.settings.campaign.deadline
        if ctx.received_at <= deadline or not carries_material(ctx):
            return Findings()
        flag = Flag(
            "late",
            f"本邮件于{format_time(ctx.received_at, ctx)}收到，已超过申报截止时间"
            f"{format_time(deadline, ctx)}，按通知要求视作不申报。",
        )
        return Findings(defects=(flag,), late=True)
