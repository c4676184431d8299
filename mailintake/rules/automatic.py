"""Bounces, auto-replies, list mail and our own mail are recorded but never answered.

The rule only reads the classifier's answer (``mail.classify.automatic_reason``, given our own
addresses when the mail was read): there is one place that decides what is automatic.
"""

from __future__ import annotations

from mailintake.rules.base import Findings, MailContext


class AutomaticRule:
    name = "automatic"
    description = "Mail sent by a machine (bounce, auto-reply, list) or by ourselves."

    def check(self, ctx: MailContext) -> Findings:
        return Findings(ignored_reason=ctx.mail.automatic_reason)
