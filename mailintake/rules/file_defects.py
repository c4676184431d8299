"""Files that could not be read, and mail-level reading problems (archives, limits)."""

from __future__ import annotations

from mailintake.rules.base import Findings, MailContext
from parsers.records import Flag
from parsers.sniff import IMAGES

#: a scan or photo is not a defect: welcome beside a readable Word form; without one, the mail goes to a
#: person (需人工处理) and the reply asks for the Word file
_SIDE_FORMATS = IMAGES | {"pdf"}


class FileDefectsRule:
    name = "file_defects"
    description = "Unreadable or unsupported attachments, archive and size problems."

    def check(self, ctx: MailContext) -> Findings:
        defects: list[Flag] = list(ctx.mail.flags)
        notes: list[Flag] = []
        for outcome in ctx.files:
            for flag in outcome.result.flags:
                informational = flag.code in ("no_form", "macro_ignored") or (
                    flag.code == "unsupported_format" and outcome.result.format in _SIDE_FORMATS
                )
                (notes if informational else defects).append(flag)
        return Findings(defects=tuple(defects), notes=tuple(notes))
