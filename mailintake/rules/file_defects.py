"""Files that could not be read, and mail-level reading problems (archives, limits)."""

from __future__ import annotations

from mailintake.rules.base import Findings, MailContext
from parsers.records import Flag
from parsers.sniff import tried_as_form


class FileDefectsRule:
    name = "file_defects"
    description = "Unreadable or unsupported attachments, archive and size problems."

    def check(self, ctx: MailContext) -> Findings:
        defects: list[Flag] = list(ctx.mail.flags)
        notes: list[Flag] = []
        for outcome in ctx.files:
            # a scan, photo, PDF or spreadsheet beside (or instead of) a form is 其他附件, never a defect:
            # a mail with only such files has no form (需人工处理), one with a good form is accepted
            other = not tried_as_form(outcome.result.format, outcome.attachment.path)
            for flag in outcome.result.flags:
                informational = other or flag.code in ("no_form", "macro_ignored")
                (notes if informational else defects).append(flag)
        return Findings(defects=tuple(defects), notes=tuple(notes))
