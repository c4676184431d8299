"""Bounces, auto-replies, list mail and our own mail are recorded but never answered."""

from __future__ import annotations

from mailintake.rules.base import MailContext


class AutomaticRule:
    name = "automatic"
    description = "Mail sent by a machine (bounce, auto-reply, list) or by ourselves."

    def check(self, ctx: MailContext) -> bool:
        reason = ctx.mail.automatic_reason
        if reason is None and ctx.mail.from_addr.lower() in ctx.settings.own_addresses:
            reason = "own address"
        if reason is not None:
            ctx.ignored_reason = reason
            return True
        return False
